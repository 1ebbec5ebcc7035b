// Every supported preset through the command line: the type of each output tensor is the planner's
// (whose rules tests/presets_*_test.cpp check against the spec), the fallback count is reported, and the
// bytes of every quantized tensor equal a direct call of the block quantizer.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "kquant/gguf.h"
#include "kquant/presets.h"
#include "support/preset_models.h"
#include "support/quant_check.h"
#include "support/run_cmd.h"

namespace kquant::test {
namespace {

class CliPresets : public ::testing::TestWithParam<std::string> {};

TEST_P(CliPresets, TypesFollowThePlanAndBytesFollowTheBlockMath) {
    const std::string preset = GetParam();
    const std::string dir = fresh_test_dir();
    const std::string model = dir + "/m.gguf", out = dir + "/out.gguf";
    // FFN width 608 = 19*32: the FFN tensors need the shape fallback for the 256-element types.
    ASSERT_EQ(run_cmd(synth_path() + " --preset tiny --layers 3 --ffn 608 --seed 8 " + model).exit_code, 0);
    const CmdResult r = run_cmd(cli_path() + " --device cpu --type " + preset + " " + model + " " + out);
    ASSERT_EQ(r.exit_code, 0) << r.output;

    const auto in = gguf::Reader::open(model);
    const auto q = gguf::Reader::open(out);
    QuantParams p;
    p.set_preset(parse_preset(preset));
    const QuantPlan plan = plan_quantization(in->tensors(), model_info_from_kvs(in->kvs()), p);
    ASSERT_EQ(q->tensors().size(), plan.tensors.size());
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
        EXPECT_EQ(q->tensors()[i].name, plan.tensors[i].name) << "output order";
        EXPECT_EQ(q->tensors()[i].type, plan.tensors[i].dst_type) << plan.tensors[i].name;
    }
    const std::string fb = fallback_summary(plan);
    if (plan.n_fallback > 0) {
        EXPECT_NE(r.output.find(fb), std::string::npos) << r.output;
        EXPECT_NE(r.output.find("not divisible by"), std::string::npos) << r.output;
    }
    check_quantized_bytes(*in, *q, {});
}

INSTANTIATE_TEST_SUITE_P(Supported, CliPresets,
                         ::testing::Values("Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S",
                                           "Q5_K_M", "Q6_K", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL",
                                           "IQ4_XS", "F16", "BF16", "F32", "COPY"));

// ---- the low-bit presets -------------------------------------------------------------------------

const char* const kLowBitPresets[] = {"IQ2_XXS", "IQ2_XS", "IQ2_S",  "IQ2_M", "IQ1_S",     "IQ1_M", "IQ3_XXS", "IQ3_XS",
                                      "IQ3_S",   "IQ3_M",  "TQ1_0",  "TQ2_0", "MXFP4_MOE", "Q1_0",  "Q2_0"};

// Small versions of the preset-table models: dense with gqa 4, MoE with 8 merged experts and shared
// experts, and tied embeddings with a width (384) that is a multiple of 128 but not of 256.
ModelSpec small_dense() {
    ModelSpec s;
    s.n_layer = 8;
    s.dim = 256;
    s.ffn = 512;
    s.n_head = 8;
    s.n_head_kv = 2;
    s.head_dim = 32;
    s.vocab = 512;
    return s;
}

ModelSpec small_moe() {
    ModelSpec s = small_dense();
    s.n_layer = 4;
    s.ffn = 256;
    s.n_expert = 8;
    s.shexp_ffn = 256;
    return s;
}

ModelSpec small_tied() {
    ModelSpec s = small_dense();
    s.arch = "qwen2";
    s.n_layer = 4;
    s.dim = 384;
    s.n_head = 6;
    s.head_dim = 64;
    s.tied = true;
    s.qkv_bias = true;
    return s;
}

// Writes the synthetic model (zero weights: a dry run reads none) as a GGUF file.
std::string write_model(const std::string& dir, const std::string& name, const ModelSpec& spec) {
    const SyntheticModel m = make_model(spec);
    GgufBuilder b;
    for (const gguf::KV& kv : m.kvs) b.kv(kv.key, kv.value);
    for (const gguf::TensorInfo& t : m.tensors)
        b.tensor(t.name, t.ne, t.type, std::vector<uint8_t>(kquant::tensor_bytes(t.type, t.ne), 0));
    const std::string path = dir + "/" + name;
    write_file(path, b.build().bytes);
    return path;
}

// name -> type from the per-tensor lines kquant-cuda prints ("converting to X" or the source type).
std::map<std::string, std::string> printed_types(const std::string& output) {
    static const std::regex line(R"(\[\s*\d+/\s*\d+\] (\S+)\s+- \[[^\]]*\], type = \s*(\S+), (converting to (\S+) \.\.)?)");
    std::map<std::string, std::string> out;
    for (auto it = std::sregex_iterator(output.begin(), output.end(), line); it != std::sregex_iterator(); ++it)
        out[(*it)[1]] = (*it)[4].matched ? (*it)[4].str() : (*it)[2].str();
    return out;
}

// --dry-run chooses types without quantizing, so it works for every preset whether this build has its
// quantizers or not; the printed types are the planner's (whose rules PresetsLowBit checks).
TEST(CliPresetsLowBit, DryRunPrintsThePlannedTypes) {
    const std::string dir = fresh_test_dir();
    for (const auto& [name, spec] : {std::pair{"dense.gguf", small_dense()}, std::pair{"moe.gguf", small_moe()},
                                     std::pair{"tied.gguf", small_tied()}}) {
        const std::string in = write_model(dir, name, spec);
        const auto reader = gguf::Reader::open(in);
        for (const char* preset : kLowBitPresets) {
            SCOPED_TRACE(std::string(preset) + " on " + name);
            const std::string out = dir + "/out.gguf";
            const CmdResult r = run_cmd(cli_path() + " --device cpu --dry-run --type " + preset + " " + in + " " + out);
            ASSERT_EQ(r.exit_code, 0) << r.output;
            EXPECT_FALSE(std::filesystem::exists(out)) << "--dry-run wrote a file";
            QuantParams p;
            p.set_preset(parse_preset(preset));
            p.dry_run = true;
            const QuantPlan plan = plan_quantization(reader->tensors(), model_info_from_kvs(reader->kvs()), p);
            const std::map<std::string, std::string> printed = printed_types(r.output);
            ASSERT_EQ(printed.size(), plan.tensors.size()) << r.output;
            for (const TensorPlan& t : plan.tensors) EXPECT_EQ(printed.at(t.name), type_info(t.dst_type).name) << t.name;
            EXPECT_EQ(r.output.find("requires an imatrix") != std::string::npos, plan.will_require_imatrix) << r.output;
            if (plan.n_fallback > 0) { EXPECT_NE(r.output.find(fallback_summary(plan)), std::string::npos) << r.output; }
        }
    }
}

// Without an imatrix, a preset that needs one stops before writing anything, naming the first tensor
// that needs it and its type; a build without the preset's quantizers says so first.
TEST(CliPresetsLowBit, ImatrixRequirementStopsBeforeWriting) {
    const std::string dir = fresh_test_dir();
    const std::string in = write_model(dir, "dense.gguf", small_dense());
    const std::pair<const char*, const char*> cases[] = {
        {"IQ2_XXS", "iq2_xxs"}, {"IQ2_XS", "iq2_xs"}, {"IQ2_S", "iq2_xs"},  {"IQ2_M", "iq2_s"},
        {"IQ1_S", "iq1_s"},     {"IQ1_M", "iq1_m"},   {"IQ3_XXS", "iq2_s"}, {"IQ3_XS", "iq3_xxs"},
    };
    for (const auto& [preset, type] : cases) {
        SCOPED_TRACE(preset);
        const std::string out = dir + "/out.gguf";
        const CmdResult r = run_cmd(cli_path() + " --device cpu --type " + preset + " " + in + " " + out);
        EXPECT_EQ(r.exit_code, 1) << r.output;
        EXPECT_EQ(list_dir(dir), std::vector<std::string>{"dense.gguf"}) << "something was written";
        if (!preset_supported(parse_preset(preset))) {
            EXPECT_NE(r.output.find("is not supported by kquant-cuda"), std::string::npos) << r.output;
            continue;
        }
        EXPECT_NE(r.output.find("tensor 'blk.0.attn_k.weight': this quantization requires an imatrix! target type " +
                                std::string(type)),
                  std::string::npos)
            << r.output;
    }
}

// llama-quantize aborts inside ggml when an IQ2_XXS/IQ2_XS/IQ1_S token_embd or output has no weights
// (its imatrix check exempts them); we stop with an error naming the tensor and type, and write nothing.
TEST(CliPresetsLowBit, ExemptTensorWithoutWeightsStopsBeforeWriting) {
    const std::string dir = fresh_test_dir();
    const std::string in = write_model(dir, "dense.gguf", small_dense());
    const CmdResult r = run_cmd(cli_path() + " --device cpu --type Q4_K_M --token-embedding-type iq2_xxs " + in + " " +
                                dir + "/out.gguf");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("tensor 'token_embd.weight': target type iq2_xxs cannot be quantized without an "
                            "importance matrix"),
              std::string::npos)
        << r.output;
    EXPECT_EQ(list_dir(dir), std::vector<std::string>{"dense.gguf"}) << "something was written";
}

// --list-types: llama-quantize's 39 options in its order, each marked by whether this build produces it,
// then the tensor types it quantizes to.
TEST(CliPresetsLowBit, ListTypesShowsEveryOption) {
    const CmdResult r = run_cmd(cli_path() + " --list-types");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output.substr(0, format_quant_options().size()), format_quant_options());
    size_t at = 0;
    for (const PresetInfo& p : presets()) {
        const size_t found = r.output.find(" " + std::string(p.name) + " ", at);
        ASSERT_NE(found, std::string::npos) << p.name << " missing or out of order";
        at = found;
    }
    for (const char* t : {"q4_0", "q8_0", "q4_K", "q6_K", "iq4_xs"})
        EXPECT_NE(r.output.find(std::string(" ") + t), std::string::npos) << t;
}

}  // namespace
}  // namespace kquant::test
