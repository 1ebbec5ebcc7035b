// kquant-cuda with an importance matrix, end to end: both file formats, dense and MoE (3-D expert)
// models; every quantized tensor must equal the weighted block math with the expected per-column
// (per-expert) weights, and tensors without an entry must use the plain path.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "kquant/gguf.h"
#include "kquant/quantize.h"
#include "support/imatrix_files.h"
#include "support/quant_check.h"
#include "support/run_cmd.h"

namespace kquant::test {
namespace {

struct Stats {
    std::vector<float> in_sum2, counts;  // n_cols * n_mat, n_mat
};

// Random activation statistics for every blk.* weight (what llama-imatrix records), one slice per expert.
std::map<std::string, Stats> make_stats(const gguf::Reader& model, uint32_t seed) {
    std::map<std::string, Stats> out;
    std::mt19937 rng(seed);
    std::gamma_distribution<float> g(0.8f, 2.0f);
    for (const gguf::TensorInfo& t : model.tensors()) {
        if (t.name.rfind("blk.", 0) != 0 || gguf::n_dims(t.ne) < 2 || t.name.find("_norm") != std::string::npos)
            continue;
        const int64_t n_cols = t.ne_at(0), n_mat = t.ne_at(2);
        Stats s;
        for (int64_t e = 0; e < n_mat; ++e) s.counts.push_back(e == 1 && n_mat > 2 ? 0.0f : float(64 + 32 * e));
        for (int64_t i = 0; i < n_cols * n_mat; ++i) s.in_sum2.push_back(g(rng) * 100.0f);
        out[t.name] = std::move(s);
    }
    return out;
}

// The per-column weights llama-quantize derives: in_sum2/count, or 1 for an expert that saw no tokens.
std::vector<float> weights_of(const Stats& s, int64_t n_cols) {
    std::vector<float> w(s.in_sum2.size());
    for (size_t e = 0; e < s.counts.size(); ++e)
        for (int64_t i = 0; i < n_cols; ++i) {
            const size_t k = e * n_cols + i;
            w[k] = s.counts[e] > 0 ? s.in_sum2[k] / s.counts[e] : 1.0f;
        }
    return w;
}

void write_gguf_imatrix(const std::string& path, const std::map<std::string, Stats>& stats,
                        const gguf::Reader& model) {
    std::vector<ImatrixGgufEntry> entries;
    for (const auto& [name, s] : stats)
        entries.push_back({name, model.find_tensor(name)->ne_at(0), s.in_sum2, s.counts, std::nullopt});
    write_file(path, imatrix_gguf_builder(entries).build().bytes);
}

void write_legacy_imatrix(const std::string& path, const std::map<std::string, Stats>& stats,
                          const gguf::Reader& model) {
    std::vector<ImatrixLegacyEntry> entries;
    for (const auto& [name, s] : stats)  // ncall 1: the stored values are the weights themselves
        entries.push_back({name, 1, weights_of(s, model.find_tensor(name)->ne_at(0))});
    write_file(path, imatrix_legacy_bytes(entries, 10, std::string("calib.txt")));
}

class CliImatrix : public ::testing::TestWithParam<std::tuple<std::string, std::string, bool>> {};

TEST_P(CliImatrix, OutputEqualsTheWeightedBlockMath) {
    const auto& [preset, format, moe] = GetParam();
    const std::string dir = fresh_test_dir();
    const std::string model = dir + "/m.gguf";
    const std::string synth_args = moe ? "--preset tiny --experts 4 --seed 21" : "--preset tiny --seed 20";
    ASSERT_EQ(run_cmd(synth_path() + " " + synth_args + " " + model).exit_code, 0);
    const auto in = gguf::Reader::open(model);
    const auto stats = make_stats(*in, 5);
    const std::string im = dir + (format == "gguf" ? "/imatrix.gguf" : "/imatrix.dat");
    if (format == "gguf") write_gguf_imatrix(im, stats, *in);
    else write_legacy_imatrix(im, stats, *in);

    const std::string out = dir + "/out.gguf";
    const CmdResult r =
        run_cmd(cli_path() + " --device cpu --type " + preset + " --imatrix " + im + " " + model + " " + out);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto q = gguf::Reader::open(out);
    std::map<std::string, std::vector<float>> weights;
    for (const auto& [name, st] : stats) weights[name] = weights_of(st, in->find_tensor(name)->ne_at(0));
    const int weighted = check_quantized_bytes(*in, *q, weights);
    int eligible = 0;  // the MoE router (ffn_gate_inp) has an entry but is never quantized
    for (const auto& e : stats) eligible += e.first.find("ffn_gate_inp") == std::string::npos;
    EXPECT_EQ(weighted, eligible) << "every quantized blk.* weight must use its entry";

    const gguf::KV* file = q->find_kv("quantize.imatrix.file");
    ASSERT_NE(file, nullptr);
    EXPECT_EQ(file->value.str, im);
    const gguf::KV* n = q->find_kv("quantize.imatrix.entries_count");
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->value.as_int(), static_cast<int64_t>(stats.size()));
}

INSTANTIATE_TEST_SUITE_P(Formats, CliImatrix,
                         ::testing::Values(std::make_tuple("q4_k_m", "gguf", false),
                                           std::make_tuple("q2_k", "gguf", false),
                                           std::make_tuple("q4_k_m", "dat", false),
                                           std::make_tuple("q2_k", "dat", false),
                                           std::make_tuple("q4_k_m", "gguf", true),
                                           std::make_tuple("q5_0", "dat", true)),
                         [](const auto& info) {
                             return std::get<0>(info.param) + "_" + std::get<1>(info.param) +
                                    (std::get<2>(info.param) ? "_moe" : "_dense");
                         });

TEST(CliImatrixErrors, MalformedImatrixIsAClearErrorAndWritesNothing) {
    const std::string dir = fresh_test_dir();
    const std::string model = dir + "/m.gguf";
    ASSERT_EQ(run_cmd(synth_path() + " --preset tiny " + model).exit_code, 0);
    write_file(dir + "/bad.dat", {0x05, 0x00, 0x00, 0x00, 0x03});  // 5 entries, then a truncated name length
    const CmdResult r = run_cmd(cli_path() + " --device cpu --type q4_k_m --imatrix " + dir + "/bad.dat " + model +
                                " " + dir + "/o.gguf");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("bad.dat"), std::string::npos) << r.output;
    EXPECT_EQ(list_dir(dir).size(), 2u);
}

}  // namespace
}  // namespace kquant::test
