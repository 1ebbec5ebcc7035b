// Every supported preset through the command line: the type of each output tensor is the planner's
// (whose rules tests/presets_*_test.cpp check against the spec), the fallback count is reported, and the
// bytes of every quantized tensor equal a direct call of the block quantizer.
#include <gtest/gtest.h>

#include "kquant/gguf.h"
#include "kquant/presets.h"
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

}  // namespace
}  // namespace kquant::test
