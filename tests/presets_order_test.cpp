// Output tensor order (§5.2), tensor categories (§4.2), eligibility (§3), use_more_bits (§4.3), the
// fallback table (§4.7) and the imatrix requirement (§6.3).
#include <gtest/gtest.h>

#include <algorithm>

#include "kquant/error.h"
#include "kquant/presets.h"

namespace kquant {
namespace {

gguf::TensorInfo info(const std::string& name, std::vector<int64_t> ne, Type t = Type::F32) {
    gguf::TensorInfo i;
    i.name = name;
    i.ne = std::move(ne);
    i.type = t;
    return i;
}

ModelInfo tiny_model(uint32_t n_layer) {
    ModelInfo m;
    m.arch = "llama";
    m.n_layer = n_layer;
    m.n_head = m.n_head_kv = 1;
    return m;
}

TEST(PresetOrder, BlockIndexReadsLikeSscanf) {
    EXPECT_EQ(block_index("blk.10.attn_q.weight"), 10);
    EXPECT_EQ(block_index("blk.0.ffn_down.weight"), 0);
    EXPECT_EQ(block_index("output.weight"), -1);
    EXPECT_EQ(block_index("v.blk.3.attn_q.weight"), -1);  // must start with blk.
    EXPECT_EQ(block_index("blk.x.weight"), -1);
    EXPECT_EQ(block_index("blk. 7.attn_q.weight"), 7);    // %d skips white space
    EXPECT_EQ(block_index("blk.5"), 5);                   // the trailing '.' is not checked
    EXPECT_EQ(block_index("blk.+4.a"), 4);
}

TEST(PresetOrder, ComparatorSortsByLayerThenBytes) {
    EXPECT_TRUE(tensor_order_less("blk.2.attn_q.weight", "blk.10.attn_k.weight"));
    EXPECT_FALSE(tensor_order_less("blk.10.attn_k.weight", "blk.2.attn_q.weight"));
    EXPECT_TRUE(tensor_order_less("token_embd.weight", "blk.0.attn_k.weight"));  // -1 before 0
    EXPECT_TRUE(tensor_order_less("v.blk.9.x", "blk.0.a"));                       // counts as -1
    EXPECT_TRUE(tensor_order_less("blk.0.attn_k.weight", "blk.0.attn_norm.weight"));
    EXPECT_TRUE(tensor_order_less("Output.weight", "output.weight"));  // byte order: 'O' < 'o'
    EXPECT_TRUE(tensor_order_less("blk.1.ffn_down_exps.weight", "blk.1.ffn_down_shexp.weight"));
    EXPECT_FALSE(tensor_order_less("blk.1.a", "blk.1.a"));
}

TEST(PresetOrder, PlanListsTensorsInLoaderOrder) {
    const std::vector<gguf::TensorInfo> in = {
        info("token_embd.weight", {64}),          info("blk.10.attn_q.weight", {64}),
        info("blk.2.ffn_up.weight", {64}),        info("blk.2.attn_norm.weight", {64}),
        info("output_norm.weight", {64}),         info("blk.0.attn_v.weight", {64}),
        info("rope_freqs.weight", {64}),          info("output.weight", {64}),
        info("blk.1.attn_k.weight", {64}),        info("v.blk.0.attn_q.weight", {64}),
    };
    QuantParams p;
    p.set_preset(parse_preset("Q8_0"));
    const QuantPlan plan = plan_quantization(in, tiny_model(11), p);
    std::vector<std::string> got;
    for (const TensorPlan& t : plan.tensors) got.push_back(t.name);
    const std::vector<std::string> want = {
        "output.weight",          "output_norm.weight",   "rope_freqs.weight",
        "token_embd.weight",      "v.blk.0.attn_q.weight", "blk.0.attn_v.weight",
        "blk.1.attn_k.weight",    "blk.2.attn_norm.weight", "blk.2.ffn_up.weight",
        "blk.10.attn_q.weight"};
    EXPECT_EQ(got, want);
    // input_index points back into the input list.
    for (const TensorPlan& t : plan.tensors) EXPECT_EQ(in[t.input_index].name, t.name);
}

TEST(PresetOrder, DuplicateNamesAreRejected) {
    const std::vector<gguf::TensorInfo> in = {info("a.weight", {64}), info("a.weight", {64})};
    QuantParams p;
    EXPECT_THROW(plan_quantization(in, tiny_model(1), p), Error);
}

TEST(PresetOrder, UseMoreBitsForThirtyTwoLayers) {
    // §4.3's example: layers 0-3, 6, 9, ..., 27, 28-31 (16 of 32).
    const std::vector<int> want = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31};
    std::vector<int> got;
    for (int i = 0; i < 32; ++i)
        if (use_more_bits(i, 32)) got.push_back(i);
    EXPECT_EQ(got, want);
    EXPECT_TRUE(use_more_bits(0, 1));   // 0 >= 7*1/8 = 0
    EXPECT_FALSE(use_more_bits(1, 8));  // 1/8... n/8 = 1: (1-1)%3 = 0
    EXPECT_TRUE(use_more_bits(3, 8));   // (3-1)%3 = 2
}

TEST(PresetOrder, CategoriesFollowTheFirstMatchingName) {
    const std::pair<const char*, TensorCategory> cases[] = {
        {"output.weight", TensorCategory::Output},
        {"token_embd.weight", TensorCategory::TokenEmbd},
        {"per_layer_token_embd.weight", TensorCategory::TokenEmbd},
        {"blk.0.attn_qkv.weight", TensorCategory::AttentionQkv},
        {"blk.0.attn_kv_b.weight", TensorCategory::AttentionKvB},
        {"blk.0.attn_v.weight", TensorCategory::AttentionV},
        {"blk.0.attn_k.weight", TensorCategory::AttentionK},
        {"blk.0.attn_q.weight", TensorCategory::AttentionQ},
        {"blk.0.attn_output.weight", TensorCategory::AttentionOutput},
        {"blk.0.ffn_up_exps.weight", TensorCategory::FfnUp},
        {"blk.0.ffn_gate_shexp.weight", TensorCategory::FfnGate},
        {"blk.0.ffn_down.weight", TensorCategory::FfnDown},
        {"blk.0.ffn_gate_inp.weight", TensorCategory::FfnGate},
        {"blk.0.attn_q_a.weight", TensorCategory::Other},
        {"blk.0.attn_kv_a_mqa.weight", TensorCategory::Other},
        {"blk.0.attn_k_b.weight", TensorCategory::Other},
        {"blk.0.attn_v_b.weight", TensorCategory::Other},
        {"output_norm.weight", TensorCategory::Other},
        {"enc.output.weight", TensorCategory::Other},  // OUTPUT is an exact name
    };
    for (const auto& [name, cat] : cases)
        EXPECT_EQ(category_name(tensor_category(name)), category_name(cat)) << name;
}

TEST(PresetOrder, EligibilityRules) {
    QuantParams p;
    p.set_preset(parse_preset("Q4_K_M"));
    auto ok = [&](const char* name, std::vector<int64_t> ne) { return tensor_allows_quantization(name, ne, p); };
    EXPECT_TRUE(ok("blk.0.attn_q.weight", {256, 256}));
    EXPECT_TRUE(ok("blk.0.ffn_up_exps.weight", {256, 512, 8}));
    EXPECT_FALSE(ok("blk.0.attn_norm.weight", {256}));         // 1-D
    EXPECT_FALSE(ok("blk.0.attn_q.weight", {256, 1}));         // n_dims ignores trailing 1s
    EXPECT_FALSE(ok("blk.0.attn_q.bias", {256, 2}));           // not a weight
    EXPECT_TRUE(ok("blk.0.attn_q.xweight", {256, 2}));         // the test is the last 6 bytes
    // llama-quantize compares rfind("weight") with size - 6: both are npos for a 5-byte name.
    EXPECT_TRUE(ok("a.b.w", {256, 2}));
    EXPECT_FALSE(ok("a.bw", {256, 2}));
    EXPECT_FALSE(ok("blk.0.attn_norm.weight", {256, 2}));
    EXPECT_FALSE(ok("blk.0.ffn_gate_inp.weight", {256, 8}));
    EXPECT_FALSE(ok("blk.0.ssm_conv1d.weight", {4, 256}));
    EXPECT_FALSE(ok("blk.0.time_mix_w1.weight", {256, 256}));
    EXPECT_FALSE(ok("blk.0.attn_rel_b.weight", {32, 8}));
    EXPECT_FALSE(ok("position_embd.weight", {256, 256}));
    EXPECT_FALSE(ok("token_types.weight", {256, 2}));
    EXPECT_FALSE(ok("v.position_embd.weight", {256, 256}));
    EXPECT_FALSE(ok("v.patch_embd.weight", {256, 256}));
    EXPECT_TRUE(ok("output.weight", {256, 256}));
    p.leave_output_tensor = true;
    EXPECT_FALSE(ok("output.weight", {256, 256}));
    p.leave_output_tensor = false;
    p.set_preset(parse_preset("COPY"));
    EXPECT_FALSE(ok("blk.0.attn_q.weight", {256, 256}));
}

TEST(PresetOrder, FallbackTable) {
    const std::pair<Type, Type> cases[] = {
        {Type::IQ1_S, Type::IQ4_NL}, {Type::IQ2_XS, Type::IQ4_NL}, {Type::IQ3_S, Type::IQ4_NL},
        {Type::IQ4_XS, Type::IQ4_NL}, {Type::Q2_K, Type::Q4_0},    {Type::Q3_K, Type::Q4_0},
        {Type::TQ2_0, Type::Q4_0},    {Type::Q2_0, Type::Q4_0},    {Type::Q4_K, Type::Q5_0},
        {Type::Q5_K, Type::Q5_1},     {Type::Q6_K, Type::Q8_0},
    };
    for (const auto& [from, to] : cases) EXPECT_EQ(fallback_type(from), to) << type_info(from).name;
    // 0c1e5709: a type of at most 32 elements per block stays itself (then F16 when it does not fit).
    for (Type t : {Type::Q4_0, Type::Q8_0, Type::IQ4_NL, Type::Q5_1, Type::F16, Type::MXFP4})
        EXPECT_EQ(fallback_type(t), t) << type_info(t).name;
    // No fallback at all: an error.
    for (Type t : {Type::Q1_0, Type::NVFP4, Type::Q8_K})
        EXPECT_FALSE(fallback_type(t).has_value()) << type_info(t).name;
}

TEST(PresetOrder, ImatrixRequirement) {
    EXPECT_TRUE(requires_imatrix("blk.0.attn_q.weight", Type::IQ2_XS, FType::IQ2_XS));
    EXPECT_TRUE(requires_imatrix("blk.0.attn_q.weight", Type::IQ3_XXS, FType::IQ3_XS));
    EXPECT_TRUE(requires_imatrix("blk.0.attn_q.weight", Type::Q2_K, FType::Q2_K_S));
    EXPECT_FALSE(requires_imatrix("blk.0.attn_q.weight", Type::Q2_K, FType::Q2_K));
    EXPECT_FALSE(requires_imatrix("blk.0.attn_q.weight", Type::IQ3_S, FType::IQ3_M));
    EXPECT_FALSE(requires_imatrix("output.weight", Type::IQ2_XS, FType::IQ2_XS));
    EXPECT_FALSE(requires_imatrix("token_embd.weight", Type::Q2_K, FType::Q2_K_S));
    EXPECT_FALSE(requires_imatrix("per_layer_token_embd.weight", Type::IQ1_S, FType::IQ1_S));
}

}  // namespace
}  // namespace kquant
