// llama-quantize's per-tensor flags, through the command line (the rules themselves are checked against
// the spec in tests/presets_*_test.cpp; this checks that the CLI passes them through).
#include <gtest/gtest.h>

#include <filesystem>

#include "kquant/gguf.h"
#include "support/quant_check.h"
#include "support/run_cmd.h"

namespace kquant::test {
namespace {

struct Quantized {
    CmdResult r;
    std::unique_ptr<gguf::Reader> out;
};

std::string tiny_model(const std::string& dir) {
    const std::string path = dir + "/m.gguf";
    EXPECT_EQ(run_cmd(synth_path() + " --preset tiny --seed 4 " + path).exit_code, 0);
    return path;
}

Quantized quantize(const std::string& dir, const std::string& in, const std::string& args) {
    Quantized run;
    const std::string out = dir + "/out.gguf";
    std::filesystem::remove(out);
    run.r = run_cmd(cli_path() + " -q --device cpu " + args + " " + in + " " + out);
    if (run.r.exit_code == 0) run.out = gguf::Reader::open(out);
    return run;
}

Type type_of(const gguf::Reader& r, const std::string& name) { return r.find_tensor(name)->type; }

TEST(CliFlags, LeaveOutputTensorKeepsItsType) {
    const std::string dir = fresh_test_dir(), in = tiny_model(dir);
    const Quantized run = quantize(dir, in, "--type q4_k_m --leave-output-tensor");
    ASSERT_EQ(run.r.exit_code, 0) << run.r.output;
    EXPECT_EQ(type_of(*run.out, "output.weight"), Type::F16);
    EXPECT_EQ(type_of(*run.out, "blk.0.attn_q.weight"), Type::Q4_K);
}

TEST(CliFlags, OutputAndTokenEmbeddingTypes) {
    const std::string dir = fresh_test_dir(), in = tiny_model(dir);
    const Quantized run = quantize(dir, in, "--type q4_k_m --output-tensor-type q8_0 --token-embedding-type Q5_K");
    ASSERT_EQ(run.r.exit_code, 0) << run.r.output;
    EXPECT_EQ(type_of(*run.out, "output.weight"), Type::Q8_0);
    EXPECT_EQ(type_of(*run.out, "token_embd.weight"), Type::Q5_K);
    check_quantized_bytes(*gguf::Reader::open(in), *run.out, {});
}

TEST(CliFlags, TensorTypePatternsFirstMatchWins) {
    const std::string dir = fresh_test_dir(), in = tiny_model(dir);
    const Quantized run = quantize(dir, in, "--type q4_k_m --tensor-type attn=q6_k --tensor-type attn_q=q8_0 "
                                      "--tensor-type 'ffn_(up|gate)=q5_0'");
    ASSERT_EQ(run.r.exit_code, 0) << run.r.output;
    for (const char* n : {"blk.0.attn_q.weight", "blk.1.attn_k.weight", "blk.0.attn_output.weight"})
        EXPECT_EQ(type_of(*run.out, n), Type::Q6_K) << n;
    EXPECT_EQ(type_of(*run.out, "blk.1.ffn_up.weight"), Type::Q5_0);
    EXPECT_EQ(type_of(*run.out, "blk.0.ffn_gate.weight"), Type::Q5_0);
    EXPECT_EQ(type_of(*run.out, "blk.0.ffn_down.weight"), Type::Q4_K);  // Q4_K_M rule: layer 0 of 2
    check_quantized_bytes(*gguf::Reader::open(in), *run.out, {});
}

TEST(CliFlags, OverrideKvWritesTheTypedValues) {
    const std::string dir = fresh_test_dir(), in = tiny_model(dir);
    const Quantized run = quantize(dir, in, "--type q8_0 --override-kv general.name=str:renamed "
                                      "--override-kv llama.context_length=int:-4096 "
                                      "--override-kv kquant.flag=bool:true");
    ASSERT_EQ(run.r.exit_code, 0) << run.r.output;
    const auto& kvs = run.out->kvs();
    ASSERT_GE(kvs.size(), 5u);
    // Overrides come last, in command-line order, after the two quantization keys (spec §5.3).
    EXPECT_EQ(kvs[kvs.size() - 5].key, "general.quantization_version");
    EXPECT_EQ(kvs[kvs.size() - 4].key, "general.file_type");
    EXPECT_EQ(kvs[kvs.size() - 3].key, "general.name");
    EXPECT_EQ(kvs[kvs.size() - 3].value.str, "renamed");
    EXPECT_EQ(kvs[kvs.size() - 2].key, "llama.context_length");
    EXPECT_EQ(kvs[kvs.size() - 2].value.type, gguf::ValueType::U32);
    EXPECT_EQ(kvs[kvs.size() - 2].value.as_int(), 4096);  // an int override is written as u32 of |v|
    EXPECT_EQ(kvs[kvs.size() - 1].key, "kquant.flag");
    EXPECT_EQ(kvs[kvs.size() - 1].value.type, gguf::ValueType::BOOL);
}

TEST(CliFlags, RequantizingNeedsAllowRequantize) {
    const std::string dir = fresh_test_dir(), in = tiny_model(dir);
    const Quantized q8 = quantize(dir, in, "--type q8_0");
    ASSERT_EQ(q8.r.exit_code, 0) << q8.r.output;
    std::filesystem::rename(dir + "/out.gguf", dir + "/q8.gguf");
    const Quantized refused = quantize(dir, dir + "/q8.gguf", "--type q4_k_m");
    EXPECT_EQ(refused.r.exit_code, 1);
    EXPECT_NE(refused.r.output.find("requantizing from type q8_0 is disabled"), std::string::npos) << refused.r.output;
    EXPECT_FALSE(std::filesystem::exists(dir + "/out.gguf"));
    const Quantized allowed = quantize(dir, dir + "/q8.gguf", "--type q4_k_m --allow-requantize");
    ASSERT_EQ(allowed.r.exit_code, 0) << allowed.r.output;
    EXPECT_EQ(type_of(*allowed.out, "blk.0.attn_q.weight"), Type::Q4_K);
}

}  // namespace
}  // namespace kquant::test
