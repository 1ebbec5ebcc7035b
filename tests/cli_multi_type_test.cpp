// One read, several outputs: `--type A,B,...` writes one output per type (OUTPUT names them with {type},
// or llama-quantize's default names when left out), each byte-identical to the single-type run with the
// same options (plain, imatrix, --keep-split); a failure in any type leaves no file of any; --dry-run
// prints one size line per type. The pipeline reads and converts each source tensor once.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kquant/gguf.h"
#include "kquant/model.h"
#include "kquant/pipeline.h"
#include "kquant/presets.h"
#include "support/gguf_builder.h"
#include "support/imatrix_files.h"
#include "support/run_cmd.h"
#include "support/split_files.h"

namespace kquant::test {
namespace {

std::string synth(const std::string& dir, const std::string& extra = "") {
    const std::string m = dir + "/m.gguf";
    const CmdResult r = run_cmd(synth_path() + " --preset tiny --seed 11 --threads 2 " + extra + " " + m);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return m;
}

// An imatrix with random positive statistics for every 2-D+ blk.* weight of the model.
std::string write_imatrix(const std::string& model_path, const std::string& out) {
    const auto r = gguf::Reader::open(model_path);
    std::mt19937 rng(5);
    std::gamma_distribution<float> g(0.8f, 2.0f);
    std::vector<ImatrixGgufEntry> entries;
    for (const gguf::TensorInfo& t : r->tensors()) {
        if (t.name.rfind("blk.", 0) != 0 || gguf::n_dims(t.ne) < 2) continue;
        const int64_t n_cols = t.ne_at(0), n_mat = t.ne_at(2);
        ImatrixGgufEntry e{t.name, n_cols, {}, std::vector<float>(static_cast<size_t>(n_mat), 64.0f), std::nullopt};
        for (int64_t i = 0; i < n_cols * n_mat; ++i) e.in_sum2.push_back(g(rng) * 100.0f);
        entries.push_back(std::move(e));
    }
    write_file(out, imatrix_gguf_builder(entries).build().bytes);
    return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

void expect_same_file(const std::string& a, const std::string& b) {
    EXPECT_TRUE(read_file(a) == read_file(b)) << a << " differs from " << b;
}

TEST(CliMultiType, EveryOutputEqualsItsSingleTypeRun) {
    const std::string dir = fresh_test_dir(), m = synth(dir);
    const std::string im = write_imatrix(m, dir + "/imatrix.gguf");
    const std::vector<std::string> types = {"Q4_K_M", "Q6_K", "Q8_0", "IQ4_XS", "IQ2_M"};
    for (const std::string& imat : {std::string(""), " --imatrix " + im}) {
        SCOPED_TRACE(imat.empty() ? "plain" : "imatrix");
        if (imat.empty()) {  // IQ2_M requires an imatrix
            const CmdResult r = run_cmd(cli_path() + " -q --type Q4_K_M,Q6_K,Q8_0,IQ4_XS " + m + " " + dir + "/k-{type}.gguf");
            ASSERT_EQ(r.exit_code, 0) << r.output;
        } else {
            const CmdResult r =
                run_cmd(cli_path() + " -q --type Q4_K_M,Q6_K --type Q8_0,IQ4_XS,IQ2_M" + imat + " " + m + " " + dir +
                        "/k-{type}.gguf");
            ASSERT_EQ(r.exit_code, 0) << r.output;
            EXPECT_NE(r.output.find("done:"), std::string::npos) << r.output;
        }
        for (const std::string& t : types) {
            if (imat.empty() && t == "IQ2_M") continue;
            const CmdResult r = run_cmd(cli_path() + " -q --type " + t + imat + " " + m + " " + dir + "/one.gguf");
            ASSERT_EQ(r.exit_code, 0) << r.output;
            expect_same_file(dir + "/one.gguf", dir + "/k-" + t + ".gguf");
        }
    }
}

TEST(CliMultiType, LeftOutOutputGetsEachTypesDefaultName) {
    const std::string dir = fresh_test_dir(), m = synth(dir);
    const CmdResult r = run_cmd(cli_path() + " -q --type q8_0,Q6_K " + m);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(sorted(list_dir(dir)), sorted({"m.gguf", "ggml-model-Q8_0.gguf", "ggml-model-Q6_K.gguf"}));
}

TEST(CliMultiType, KeepSplitWritesEveryTypesShards) {
    const std::string dir = fresh_test_dir(), m = synth(dir);
    const std::vector<std::string> shards = write_split(m, dir + "/s", {20, 30});
    const CmdResult r = run_cmd(cli_path() + " -q --keep-split --type Q4_K_M,Q8_0 " + shards[0] + " " + dir + "/o-{type}");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    for (const std::string t : {"Q4_K_M", "Q8_0"}) {
        const CmdResult one = run_cmd(cli_path() + " -q --keep-split --type " + t + " " + shards[0] + " " + dir + "/one");
        ASSERT_EQ(one.exit_code, 0) << one.output;
        const int n = static_cast<int>(shards.size());
        for (int k = 1; k <= n; ++k) {
            char suffix[32];
            std::snprintf(suffix, sizeof suffix, "-%05d-of-%05d.gguf", k, n);
            expect_same_file(dir + "/one" + suffix, dir + "/o-" + t + suffix);
        }
    }
}

// The second type fails while writing (the rows of the golden file's huge_6e4 case give Q4_1 an inf scale
// with an imatrix, which validation refuses) after the first type's bytes were written: no output of
// either type is left.
TEST(CliMultiType, AFailureInOneTypeLeavesNoOutputOfAny) {
    const std::string dir = fresh_test_dir(), m = dir + "/h.gguf";
    const auto golden = gguf::Reader::open(KQ_GOLDEN_PATH);
    const gguf::TensorInfo* in = golden->find_tensor("huge_6e4.input");
    const gguf::TensorInfo* imt = golden->find_tensor("huge_6e4.imatrix");
    ASSERT_TRUE(in != nullptr && imt != nullptr);
    GgufBuilder b;
    b.kv("general.architecture", gguf::Value::of_string("llama"));
    b.kv("llama.block_count", gguf::Value::of_u32(1));
    b.tensor("blk.0.ffn_up.weight", {in->ne_at(0), in->nrows()}, Type::F32,
             std::vector<uint8_t>(golden->tensor_data(*in), golden->tensor_data(*in) + in->nbytes));
    write_file(m, b.build().bytes);
    std::vector<float> w(static_cast<size_t>(in->ne_at(0)));
    std::memcpy(w.data(), golden->tensor_data(*imt), w.size() * sizeof(float));
    write_file(dir + "/i.gguf", imatrix_gguf_builder({{"blk.0.ffn_up.weight", in->ne_at(0), w, {1.0f}, std::nullopt}})
                                    .build()
                                    .bytes);
    const CmdResult r =
        run_cmd(cli_path() + " -q --pure --imatrix " + dir + "/i.gguf --type Q8_0,Q4_1 " + m + " " + dir + "/o-{type}.gguf");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("quantized data validation failed"), std::string::npos) << r.output;
    EXPECT_EQ(sorted(list_dir(dir)), sorted({"h.gguf", "i.gguf"}));
}

TEST(CliMultiType, MisuseIsRefusedBeforeAnyWork) {
    const std::string dir = fresh_test_dir(), m = synth(dir);
    CmdResult r = run_cmd(cli_path() + " --type Q8_0,Q6_K " + m + " " + dir + "/fixed.gguf");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("must contain {type}"), std::string::npos) << r.output;
    r = run_cmd(cli_path() + " --type Q8_0,q8_0 " + m + " " + dir + "/o-{type}.gguf");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("Q8_0 is given twice"), std::string::npos) << r.output;
    r = run_cmd(cli_path() + " --verify --type Q8_0,Q6_K " + m + " " + dir + "/o-{type}.gguf");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("--verify/--report take one type"), std::string::npos) << r.output;
    EXPECT_EQ(list_dir(dir), std::vector<std::string>{"m.gguf"});
}

TEST(CliMultiType, DryRunPrintsOneSizeLinePerType) {
    const std::string dir = fresh_test_dir(), m = synth(dir);
    const CmdResult r = run_cmd(cli_path() + " --dry-run --type Q4_K_M,Q8_0 " + m);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("dry run Q4_K_M: model size"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("dry run Q8_0: model size"), std::string::npos) << r.output;
    // Each equals the single-type dry run's numbers.
    for (const std::string t : {"Q4_K_M", "Q8_0"}) {
        const CmdResult one = run_cmd(cli_path() + " --dry-run --type " + t + " " + m);
        const size_t at = one.output.find("dry run: ");
        ASSERT_NE(at, std::string::npos) << one.output;
        const std::string line = one.output.substr(at + 9, one.output.find('\n', at) - at - 9);
        EXPECT_NE(r.output.find("dry run " + t + ": " + line), std::string::npos) << line;
    }
    EXPECT_EQ(list_dir(dir), std::vector<std::string>{"m.gguf"});
}

// The pipeline reads each source once for several outputs: bytes_in counts it once, and each output's
// size is reported.
TEST(PipelineMultiOutput, SourcesAreReadOnceForSeveralOutputs) {
    const std::string dir = fresh_test_dir(), m = synth(dir);
    const auto model = gguf::Model::open(m);
    std::vector<OutputFile> outputs;
    std::vector<QuantJob> jobs;
    for (const char* t : {"Q4_K_M", "Q8_0"}) {
        QuantParams p;
        p.set_preset(parse_preset(t));
        const QuantPlan qp = plan_quantization(model->tensors(), model_info_from_kvs(model->kvs()), p);
        const auto kvs = build_output_kvs(model->kvs(), output_file_type(p, model->kvs(), model->tensors()), {});
        for (OutputFile& f : plan_outputs(qp, model->tensors(), kvs, dir + "/o-" + t + ".gguf"))
            outputs.push_back(std::move(f));
    }
    PipelineOptions opt;
    opt.threads = 2;
    const PipelineStats st = run_pipeline(*model, outputs, opt, nullptr);
    uint64_t model_bytes = 0;
    for (const gguf::TensorInfo& t : model->tensors()) model_bytes += t.nbytes;
    EXPECT_EQ(st.bytes_in, model_bytes);
    ASSERT_EQ(st.output_bytes.size(), 2u);
    EXPECT_EQ(st.output_bytes[0], read_file(dir + "/o-Q4_K_M.gguf").size());
    EXPECT_EQ(st.output_bytes[1], read_file(dir + "/o-Q8_0.gguf").size());

    // jobs_by_source groups the two outputs' jobs of one tensor.
    for (const OutputFile& f : outputs)
        for (const PlannedTensor& p : f.tensors)
            if (p.action == TensorAction::Quantize)
                jobs.push_back(QuantJob{p.name, m, p.src->type, model->tensor_data(p.input), p.src->ne_at(0),
                                        p.src->nrows(), p.src->ne_at(1), p.dst, p.qw});
    const auto groups = jobs_by_source(jobs);
    EXPECT_LT(groups.size(), jobs.size());
    for (const auto& g : groups)
        for (size_t j : g) EXPECT_EQ(jobs[j].src, jobs[g.front()].src);
}

}  // namespace
}  // namespace kquant::test
