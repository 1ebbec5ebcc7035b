// The low-bit presets (IQ1_*, IQ2_*, IQ3_*, TQ*_0, MXFP4_MOE, Q1_0, Q2_0): the tensor types llama-quantize
// 0c1e5709 chooses (llama_tensor_get_type and its shape fallback), its imatrix requirement, and the
// places where it would abort inside ggml. The expectations are written by hand from llama-quant.cpp,
// not from running the planner. All plans are dry runs where a type has no quantizer yet: type
// selection needs none. Notation as in presets_tables_test.cpp: "q2_K@0-3;iq2_xxs" = q2_K for layers
// 0-3, iq2_xxs elsewhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "kquant/error.h"
#include "kquant/imatrix.h"
#include "kquant/presets.h"
#include "kquant/quantize.h"
#include "support/preset_models.h"
#include "support/preset_tables.h"

namespace kquant {
namespace {

using test::ModelSpec;
using test::SyntheticModel;
using test::Expect;
using test::dense;
using test::moe;
using Case = test::PresetCase;

const char* const kLowBitPresets[] = {"IQ2_XXS", "IQ2_XS", "IQ2_S",  "IQ2_M", "IQ1_S",     "IQ1_M", "IQ3_XXS", "IQ3_XS",
                                      "IQ3_S",   "IQ3_M",  "TQ1_0",  "TQ2_0", "MXFP4_MOE", "Q1_0",  "Q2_0"};

// Everything but output and token_embd gets `t`.
Expect rest(const std::string& output, const std::string& token, const std::string& t) {
    return dense(output, token, t, t, t, t, t, t, t);
}

// The low-bit tables are type selection only: every case plans as a dry run.
void check_table(const ModelSpec& spec, const std::vector<Case>& cases) {
    test::check_preset_table(spec, cases, true);
}

// (a) Llama-3-8B shapes: gqa 4, no experts, 32 layers (n/8 = 4), every width a multiple of 256.
TEST(PresetsLowBit, DenseGqaLlama) {
    check_table(test::dense_gqa_spec(), {
        // Rule D: output Q5_K; token_embd Q2_K (IQ3_S for IQ2_S/IQ2_M); attn_v Q4_K (gqa >= 4); the first
        // n/8 ffn_down one grid up; attn_output IQ2_XXS for IQ1_*, IQ3_S for IQ2_S/IQ2_M.
        {"IQ2_XXS", dense("q5_K", "q2_K", "iq2_xxs", "iq2_xxs", "q4_K", "iq2_xxs", "iq2_xxs", "iq2_xxs", "q2_K@0-3;iq2_xxs"), 0, true},
        {"IQ2_XS", dense("q5_K", "q2_K", "iq2_xs", "iq2_xs", "q4_K", "iq2_xs", "iq2_xs", "iq2_xs", "q2_K@0-3;iq2_xs"), 0, true},
        {"IQ2_S", dense("q5_K", "iq3_s", "iq2_xs", "iq2_xs", "q4_K", "iq3_s", "iq2_xs", "iq2_xs", "iq3_s@0-3;iq2_xs"), 0, true},
        {"IQ2_M", dense("q5_K", "iq3_s", "iq2_s", "iq2_s", "q4_K", "iq3_s", "iq2_s", "iq2_s", "iq3_s@0-3;iq2_s"), 0, true},
        {"IQ1_S", dense("q5_K", "q2_K", "iq1_s", "iq1_s", "q4_K", "iq2_xxs", "iq1_s", "iq1_s", "q2_K@0-3;iq1_s"), 0, true},
        {"IQ1_M", dense("q5_K", "q2_K", "iq1_m", "iq1_m", "q4_K", "iq2_xxs", "iq1_m", "iq1_m", "q2_K@0-3;iq1_m"), 0, true},
        // IQ3_XXS: q/k down to IQ2_S, attn_output IQ3_S; ffn_down becomes a K-quant without an imatrix.
        {"IQ3_XXS", dense("q5_K", "iq3_s", "iq2_s", "iq2_s", "q4_K", "iq3_s", "iq3_xxs", "iq3_xxs", "q4_K@0-3;q3_K")},
        {"IQ3_XXS", dense("q5_K", "iq3_s", "iq2_s", "iq2_s", "q4_K", "iq3_s", "iq3_xxs", "iq3_xxs", "iq3_xxs"), 0, true},
        // IQ3_XS: default IQ3_S; q/k and the middle layers' gate/up (4 <= i < 28) IQ3_XXS.
        {"IQ3_XS", dense("q6_K", "iq3_s", "iq3_xxs", "iq3_xxs", "q4_K", "iq3_s", "iq3_xxs@4-27;iq3_s", "iq3_xxs@4-27;iq3_s", "iq3_s"), 0, true},
        {"IQ3_S", dense("q6_K", "iq3_s", "iq3_s", "iq3_s", "q4_K", "iq3_s", "iq3_s", "iq3_s", "iq3_s")},
        {"IQ3_M", dense("q6_K", "iq3_s", "iq3_s", "iq3_s", "q4_K", "q4_K", "iq3_s", "iq3_s", "q4_K@0-3;iq3_s")},
        {"TQ1_0", rest("q6_K", "q4_K", "tq1_0")},
        {"TQ2_0", rest("q6_K", "q4_K", "tq2_0")},
        // Rule B on a dense model: nothing is 3-D, so everything is Q8_0.
        {"MXFP4_MOE", rest("q8_0", "q8_0", "q8_0")},
        {"Q1_0", rest("q6_K", "q1_0", "q1_0")},
        {"Q2_0", rest("q6_K", "q4_K", "q2_0")},
    });
}

// (b) Mixtral-like: 8 experts, gqa 4, 16 layers (n/8 = 2), merged 3-D experts plus shared experts.
TEST(PresetsLowBit, MoeEightExperts) {
    const std::string umb16 = "0-1,4,7,10,13-15";
    check_table(test::moe_spec(), {
        // D: attn_v Q4_K (n_expert >= 4), attn_k Q4_K and attn_output Q5_K (n_expert == 8). ffn_down counts
        // with the running counter: layer 0's two ffn_down tensors use up the n/8 = 2 slots.
        {"IQ2_XXS", moe("q5_K", "q2_K", "iq2_xxs", "q4_K", "q4_K", "q5_K", "iq2_xxs", "q2_K@0;iq2_xxs"), 0, true},
        {"IQ2_XS", moe("q5_K", "q2_K", "iq2_xs", "q4_K", "q4_K", "q5_K", "iq2_xs", "q2_K@0;iq2_xs"), 0, true},
        {"IQ2_S", moe("q5_K", "iq3_s", "iq2_xs", "q4_K", "q4_K", "q5_K", "iq2_xs", "iq3_s@0;iq2_xs"), 0, true},
        {"IQ2_M", moe("q5_K", "iq3_s", "iq2_s", "q4_K", "q4_K", "q5_K", "iq2_s", "iq3_s@0;iq2_s"), 0, true},
        {"IQ1_S", moe("q5_K", "q2_K", "iq1_s", "q4_K", "q4_K", "q5_K", "iq1_s", "q2_K@0;iq1_s"), 0, true},
        {"IQ1_M", moe("q5_K", "q2_K", "iq1_m", "q4_K", "q4_K", "q5_K", "iq1_m", "q2_K@0;iq1_m"), 0, true},
        // E-L: attn_v and attn_k Q8_0 (8 experts), attn_output Q5_K for the IQ3 presets; FFN layers come
        // from the names.
        {"IQ3_XXS", moe("q5_K", "iq3_s", "iq2_s", "q8_0", "q8_0", "q5_K", "iq3_xxs", "q4_K@0-1;q3_K")},
        {"IQ3_XXS", moe("q5_K", "iq3_s", "iq2_s", "q8_0", "q8_0", "q5_K", "iq3_xxs", "iq3_xxs"), 0, true},
        {"IQ3_XS", moe("q6_K", "iq3_s", "iq3_xxs", "q8_0", "q8_0", "q5_K", "iq3_xxs@2-13;iq3_s", "iq3_s"), 0, true},
        {"IQ3_S", moe("q6_K", "iq3_s", "iq3_s", "q8_0", "q8_0", "q5_K", "iq3_s", "iq3_s")},
        // IQ3_M's ffn_down: i < n/8, or use_more_bits with 8 experts.
        {"IQ3_M", moe("q6_K", "iq3_s", "iq3_s", "q8_0", "q8_0", "q5_K", "iq3_s", "q4_K@" + umb16 + ";iq3_s")},
        // attn_output of TQ/Q1_0/Q2_0 is not in rule I's 8-expert list.
        {"TQ1_0", moe("q6_K", "q4_K", "tq1_0", "q8_0", "q8_0", "tq1_0", "tq1_0", "tq1_0")},
        {"TQ2_0", moe("q6_K", "q4_K", "tq2_0", "q8_0", "q8_0", "tq2_0", "tq2_0", "tq2_0")},
        {"MXFP4_MOE", {{"output.weight", "q8_0"}, {"token_embd.weight", "q8_0"}, {"attn_q.weight", "q8_0"},
                       {"attn_k.weight", "q8_0"}, {"attn_v.weight", "q8_0"}, {"attn_output.weight", "q8_0"},
                       {"ffn_gate_exps.weight", "mxfp4"}, {"ffn_up_exps.weight", "mxfp4"},
                       {"ffn_down_exps.weight", "mxfp4"}, {"ffn_gate_shexp.weight", "q8_0"},
                       {"ffn_up_shexp.weight", "q8_0"}, {"ffn_down_shexp.weight", "q8_0"}}},
        {"Q1_0", moe("q6_K", "q1_0", "q1_0", "q8_0", "q8_0", "q1_0", "q1_0", "q1_0")},
        {"Q2_0", moe("q6_K", "q4_K", "q2_0", "q8_0", "q8_0", "q2_0", "q2_0", "q2_0")},
    });
}

// (c) Qwen2-0.5B-like, tied embeddings: dim 896 (3.5 * 256, 7 * 128), ffn 4864 (19 * 256), gqa 7, 24
// layers (n/8 = 3). token_embd goes through rule A: Q8_0 uncounted when the default's block does not
// divide 896, else the preset's output type and then the fallback (counted). Every other 896-wide
// matrix (6 per layer, 144 in all) falls back for 256-element types.
TEST(PresetsLowBit, TiedEmbeddingsNarrowModel) {
    const std::string n = "iq4_nl";
    check_table(test::tied_spec(), {
        {"IQ2_XXS", dense("", "q8_0", n, n, "q5_0", n, n, n, "q2_K@0-2;iq2_xxs"), 144, true},
        {"IQ2_XS", dense("", "q8_0", n, n, "q5_0", n, n, n, "q2_K@0-2;iq2_xs"), 144, true},
        {"IQ2_S", dense("", "q8_0", n, n, "q5_0", n, n, n, "iq3_s@0-2;iq2_xs"), 144, true},
        {"IQ2_M", dense("", "q8_0", n, n, "q5_0", n, n, n, "iq3_s@0-2;iq2_s"), 144, true},
        {"IQ1_S", dense("", "q8_0", n, n, "q5_0", n, n, n, "q2_K@0-2;iq1_s"), 144, true},
        {"IQ1_M", dense("", "q8_0", n, n, "q5_0", n, n, n, "q2_K@0-2;iq1_m"), 144, true},
        {"IQ3_XXS", dense("", "q8_0", n, n, "q5_0", n, n, n, "q4_K@0-2;q3_K"), 144},
        {"IQ3_XXS", dense("", "q8_0", n, n, "q5_0", n, n, n, "iq3_xxs"), 144, true},
        {"IQ3_XS", dense("", "q8_0", n, n, "q5_0", n, n, n, "iq3_s"), 144, true},
        {"IQ3_S", dense("", "q8_0", n, n, "q5_0", n, n, n, "iq3_s"), 144},
        {"IQ3_M", dense("", "q8_0", n, n, "q5_0", "q5_0", n, n, "q4_K@0-2;iq3_s"), 144},
        {"TQ1_0", dense("", "q8_0", "q4_0", "q4_0", "q4_0", "q4_0", "q4_0", "q4_0", "tq1_0"), 144},
        {"TQ2_0", dense("", "q8_0", "q4_0", "q4_0", "q4_0", "q4_0", "q4_0", "q4_0", "tq2_0"), 144},
        // MXFP4_MOE's output rule gives Q8_0 before any shape test: no fallback.
        {"MXFP4_MOE", rest("", "q8_0", "q8_0")},
        // 896 is a multiple of 128 and 64: token_embd gets Q6_K, which falls back to Q8_0 (counted).
        {"Q1_0", rest("", "q8_0", "q1_0"), 1},
        {"Q2_0", rest("", "q8_0", "q2_0"), 1},
    });
}

// (d) gqa 1 and an FFN width of 4896 = 153 * 32 (not a multiple of 64): attn_v of the very-low-bit
// presets is only one grid up, and every ffn_down falls back (Q2_K/Q3_K/TQ/Q2_0 -> Q4_0, Q4_K -> Q5_0,
// IQ -> IQ4_NL).
TEST(PresetsLowBit, GqaOneAndFfnWidthNotMultipleOf64) {
    const std::string n = "iq4_nl";
    check_table(test::odd_ffn_spec(), {
        {"IQ2_XXS", dense("q5_K", "q2_K", "iq2_xxs", "iq2_xxs", "q2_K", "iq2_xxs", "iq2_xxs", "iq2_xxs", "q4_0@0-2;iq4_nl"), 24, true},
        {"IQ2_S", dense("q5_K", "iq3_s", "iq2_xs", "iq2_xs", "iq3_s", "iq3_s", "iq2_xs", "iq2_xs", n), 24, true},
        {"IQ1_M", dense("q5_K", "q2_K", "iq1_m", "iq1_m", "q2_K", "iq2_xxs", "iq1_m", "iq1_m", "q4_0@0-2;iq4_nl"), 24, true},
        // IQ3_XXS attn_v with gqa < 4: IQ3_S without an imatrix, IQ3_XXS with one.
        {"IQ3_XXS", dense("q5_K", "iq3_s", "iq2_s", "iq2_s", "iq3_s", "iq3_s", "iq3_xxs", "iq3_xxs", "q5_0@0-2;q4_0"), 24},
        {"IQ3_XXS", dense("q5_K", "iq3_s", "iq2_s", "iq2_s", "iq3_xxs", "iq3_s", "iq3_xxs", "iq3_xxs", n), 24, true},
        {"IQ3_XS", dense("q6_K", "iq3_s", "iq3_xxs", "iq3_xxs", "iq3_s", "iq3_s", "iq3_xxs@3-20;iq3_s", "iq3_xxs@3-20;iq3_s", n), 24, true},
        {"IQ3_M", dense("q6_K", "iq3_s", "iq3_s", "iq3_s", "q4_K", "q4_K", "iq3_s", "iq3_s", "q5_0@0-2;iq4_nl"), 24},
        {"TQ1_0", dense("q6_K", "q4_K", "tq1_0", "tq1_0", "tq1_0", "tq1_0", "tq1_0", "tq1_0", "q4_0"), 24},
        {"Q2_0", dense("q6_K", "q4_K", "q2_0", "q2_0", "q2_0", "q2_0", "q2_0", "q2_0", "q4_0"), 24},
        {"MXFP4_MOE", rest("q8_0", "q8_0", "q8_0")},
    });
}

// Q1_0 (128 elements) has no fallback in llama-quantize: a width that is not a multiple of 128 stops it.
TEST(PresetsLowBit, Q1_0HasNoShapeFallback) {
    const SyntheticModel m = test::make_model(test::odd_ffn_spec());
    QuantParams p;
    p.set_preset(parse_preset("Q1_0"));
    p.dry_run = true;
    try {
        plan_quantization(m.tensors, m.info(), p, nullptr, "odd.gguf");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(),
                     "odd.gguf: tensor 'blk.0.ffn_down.weight': no tensor type fallback is defined for type q1_0");
    }
}

// A 32-element type whose block does not divide ne0 has no smaller block to go to: F16, counted, with
// llama-quantize's "must use F16" warning (0c1e5709; older revisions stopped with an error).
TEST(PresetsLowBit, ThirtyTwoElementTypesFallBackToF16) {
    ModelSpec s;
    s.n_layer = 8;
    s.dim = 256;
    s.ffn = 1000;  // 1000 % 32 = 8
    s.n_head = 4;
    s.n_head_kv = 4;
    s.head_dim = 64;
    s.vocab = 1024;
    const SyntheticModel m = test::make_model(s);
    for (const char* preset : {"Q4_0", "Q5_1", "Q8_0", "IQ4_NL", "MXFP4_MOE", "Q4_K_M"}) {
        SCOPED_TRACE(preset);
        QuantParams p;
        p.set_preset(parse_preset(preset));
        p.dry_run = true;
        const QuantPlan plan = plan_quantization(m.tensors, m.info(), p);
        EXPECT_EQ(plan.n_fallback, 8);
        for (const TensorPlan& t : plan.tensors) {
            if (t.name.find("ffn_down") == std::string::npos) {
                EXPECT_FALSE(t.fallback) << t.name;
                continue;
            }
            EXPECT_EQ(t.dst_type, Type::F16) << t.name;
            EXPECT_TRUE(t.fallback);
            EXPECT_NE(t.fallback_warning.find("ncols   1000 not divisible by "), std::string::npos)
                << t.fallback_warning;
            EXPECT_NE(t.fallback_warning.find("(WARNING: must use F16 due to unusual shape) -> falling back to     f16"),
                      std::string::npos)
                << t.fallback_warning;
        }
    }
    // Through --tensor-type as well.
    QuantParams p;
    p.set_preset(parse_preset("Q4_K_M"));
    p.tensor_types.push_back(parse_tensor_type_rule("ffn_down=mxfp4"));
    p.dry_run = true;
    const QuantPlan plan = plan_quantization(m.tensors, m.info(), p);
    for (const TensorPlan& t : plan.tensors)
        if (t.name.find("ffn_down") != std::string::npos) { EXPECT_EQ(t.dst_type, Type::F16) << t.name; }
}

// NVFP4 has no preset (ftype 39 is not a TYPE choice) but is a tensor type for --tensor-type; like Q1_0,
// it has no shape fallback.
TEST(PresetsLowBit, Nvfp4ThroughTensorType) {
    EXPECT_EQ(find_preset("NVFP4"), nullptr);
    EXPECT_EQ(parse_ggml_type("NVFP4"), Type::NVFP4);
    QuantParams p;
    p.set_preset(parse_preset("Q4_K_M"));
    p.tensor_types.push_back(parse_tensor_type_rule("ffn_(up|down)=nvfp4"));
    p.dry_run = true;
    const SyntheticModel dense = test::make_model(test::dense_gqa_spec());
    const QuantPlan plan = plan_quantization(dense.tensors, dense.info(), p);
    for (const TensorPlan& t : plan.tensors) {
        if (t.name.find("ffn_up") != std::string::npos || t.name.find("ffn_down") != std::string::npos) {
            EXPECT_EQ(t.dst_type, Type::NVFP4) << t.name;
            EXPECT_TRUE(t.manual);
            EXPECT_EQ(t.dst_bytes, tensor_bytes(Type::NVFP4, t.ne));
        }
    }
    // ffn_down 4896 wide: 4896 % 64 = 32.
    const SyntheticModel odd = test::make_model(test::odd_ffn_spec());
    try {
        plan_quantization(odd.tensors, odd.info(), p, nullptr, "odd.gguf");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(),
                     "odd.gguf: tensor 'blk.0.ffn_down.weight': no tensor type fallback is defined for type nvfp4");
    }
}

// tensor_requires_imatrix: the IQ1/IQ2 grids and IQ3_XXS (token_embd and output exempt). Without an
// imatrix the preliminary pass stops at the first such tensor, in output order, naming it and its type;
// a dry run only records that the real run would need one.
TEST(PresetsLowBit, ImatrixRequirementNamesTensorAndType) {
    struct Row {
        ModelSpec spec;
        const char* preset;
        const char* tensor;  // nullptr: no tensor needs an imatrix
        const char* type;
    };
    const Row rows[] = {
        {test::dense_gqa_spec(), "IQ2_XXS", "blk.0.attn_k.weight", "iq2_xxs"},
        {test::dense_gqa_spec(), "IQ2_XS", "blk.0.attn_k.weight", "iq2_xs"},
        {test::dense_gqa_spec(), "IQ2_S", "blk.0.attn_k.weight", "iq2_xs"},
        {test::dense_gqa_spec(), "IQ2_M", "blk.0.attn_k.weight", "iq2_s"},
        {test::dense_gqa_spec(), "IQ1_S", "blk.0.attn_k.weight", "iq1_s"},
        {test::dense_gqa_spec(), "IQ1_M", "blk.0.attn_k.weight", "iq1_m"},
        {test::dense_gqa_spec(), "IQ3_XXS", "blk.0.attn_k.weight", "iq2_s"},
        {test::dense_gqa_spec(), "IQ3_XS", "blk.0.attn_k.weight", "iq3_xxs"},
        {test::dense_gqa_spec(), "IQ3_S", nullptr, nullptr},
        {test::dense_gqa_spec(), "IQ3_M", nullptr, nullptr},
        {test::dense_gqa_spec(), "TQ1_0", nullptr, nullptr},
        {test::dense_gqa_spec(), "TQ2_0", nullptr, nullptr},
        {test::dense_gqa_spec(), "MXFP4_MOE", nullptr, nullptr},
        {test::dense_gqa_spec(), "Q1_0", nullptr, nullptr},
        {test::dense_gqa_spec(), "Q2_0", nullptr, nullptr},
        // 8 experts: attn_k (Q4_K / Q8_0) and attn_output (Q5_K) are lifted, attn_q is the first.
        {test::moe_spec(), "IQ2_XXS", "blk.0.attn_q.weight", "iq2_xxs"},
        {test::moe_spec(), "IQ1_M", "blk.0.attn_q.weight", "iq1_m"},
        {test::moe_spec(), "IQ3_XXS", "blk.0.attn_q.weight", "iq2_s"},
        {test::moe_spec(), "IQ3_XS", "blk.0.attn_q.weight", "iq3_xxs"},
        // 896-wide matrices fall back to IQ4_NL, which needs none: the first ffn_down past the Q2_K ones.
        {test::tied_spec(), "IQ2_XXS", "blk.3.ffn_down.weight", "iq2_xxs"},
        {test::tied_spec(), "IQ2_M", "blk.3.ffn_down.weight", "iq2_s"},
        {test::tied_spec(), "IQ3_XXS", nullptr, nullptr},
        {test::tied_spec(), "IQ3_XS", nullptr, nullptr},
    };
    for (const Row& r : rows) {
        SCOPED_TRACE(std::string(r.preset) + " on " + r.spec.arch + (r.spec.n_expert ? " (MoE)" : ""));
        const SyntheticModel m = test::make_model(r.spec);
        QuantParams p;
        p.set_preset(parse_preset(r.preset));
        p.dry_run = true;
        const QuantPlan dry = plan_quantization(m.tensors, m.info(), p);
        EXPECT_EQ(dry.will_require_imatrix, r.tensor != nullptr);
        if (!r.tensor) continue;
        p.dry_run = false;
        try {
            plan_quantization(m.tensors, m.info(), p, nullptr, "m.gguf");
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()), "m.gguf: tensor '" + std::string(r.tensor) +
                                                 "': this quantization requires an imatrix! target type " + r.type +
                                                 " needs an importance matrix (--imatrix)");
        }
        // The same with an imatrix that lacks that one tensor: the main pass's check.
        Imatrix im = test::full_imatrix(m);
        im.entries.erase(r.tensor);
        try {
            plan_quantization(m.tensors, m.info(), p, &im, "m.gguf");
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()), "m.gguf: tensor '" + std::string(r.tensor) +
                                                 "': Missing importance matrix for tensor " + r.tensor +
                                                 " in a very low-bit quantization");
        }
    }
}

// ggml's IQ2_XXS, IQ2_XS and IQ1_S quantizers assert that they get importance weights; llama-quantize's
// own check exempts token_embd and output, so it aborts inside ggml after writing part of the file. We
// stop in the plan, naming the tensor and the type.
TEST(PresetsLowBit, ExemptTensorsWithoutWeightsStopBeforeWriting) {
    const SyntheticModel m = test::make_model(test::dense_gqa_spec());
    auto expect_error = [&](const QuantParams& p, const Imatrix* im, const std::string& what) {
        try {
            plan_quantization(m.tensors, m.info(), p, im, "m.gguf");
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_EQ(std::string(e.what()), what);
        }
    };
    // --pure IQ2_XXS, the imatrix lacking the exempt tensors: output.weight comes first.
    Imatrix im = test::full_imatrix(m);
    im.entries.erase("output.weight");
    im.entries.erase("token_embd.weight");
    QuantParams pure;
    pure.set_preset(parse_preset("IQ2_XXS"));
    pure.pure = true;
    expect_error(pure, &im,
                 "m.gguf: tensor 'output.weight': target type iq2_xxs cannot be quantized without an importance "
                 "matrix, and the imatrix has no usable entry for this tensor (llama-quantize aborts inside ggml here)");
    // No imatrix at all, a preset that needs none: --token-embedding-type / --output-tensor-type.
    QuantParams q;
    q.set_preset(parse_preset("Q4_K_M"));
    q.token_embedding_type = Type::IQ1_S;
    expect_error(q, nullptr,
                 "m.gguf: tensor 'token_embd.weight': target type iq1_s cannot be quantized without an importance "
                 "matrix, and no --imatrix was given (llama-quantize aborts inside ggml here)");
    q.token_embedding_type.reset();
    q.output_tensor_type = Type::IQ2_XS;
    expect_error(q, nullptr,
                 "m.gguf: tensor 'output.weight': target type iq2_xs cannot be quantized without an importance "
                 "matrix, and no --imatrix was given (llama-quantize aborts inside ggml here)");
    // A dry run quantizes nothing, so it does not stop (llama-quantize's dry run does not either).
    q.dry_run = true;
    EXPECT_NO_THROW(plan_quantization(m.tensors, m.info(), q, nullptr, "m.gguf"));
    // IQ2_S, IQ3_XXS and IQ1_M have a path without weights in ggml.
    for (Type t : {Type::IQ2_XXS, Type::IQ2_XS, Type::IQ1_S}) EXPECT_TRUE(type_info(t).requires_imatrix);
    for (Type t : {Type::IQ2_S, Type::IQ3_XXS, Type::IQ3_S, Type::IQ1_M, Type::Q2_K, Type::TQ1_0})
        EXPECT_FALSE(type_info(t).requires_imatrix) << type_info(t).name;
}

// --token-embedding-type applies to per_layer_token_embd too, unless a --tensor-type pattern names it.
TEST(PresetsLowBit, PerLayerTokenEmbdFollowsAPatternThatNamesIt) {
    SyntheticModel m = test::make_model(test::dense_gqa_spec());
    gguf::TensorInfo ple;
    ple.name = "per_layer_token_embd.weight";
    ple.ne = {8192, 4096};
    ple.type = Type::F16;
    m.tensors.push_back(ple);
    QuantParams p;
    p.set_preset(parse_preset("Q4_K_M"));
    p.token_embedding_type = Type::Q8_0;
    auto type_of = [&](const QuantPlan& plan, const std::string& name) {
        for (const TensorPlan& t : plan.tensors)
            if (t.name == name) return std::string(type_info(t.dst_type).name);
        return std::string("(missing)");
    };
    QuantPlan plan = plan_quantization(m.tensors, m.info(), p);
    EXPECT_EQ(type_of(plan, "token_embd.weight"), "q8_0");
    EXPECT_EQ(type_of(plan, "per_layer_token_embd.weight"), "q8_0");
    p.tensor_types.push_back(parse_tensor_type_rule("token_embd=q4_0"));
    plan = plan_quantization(m.tensors, m.info(), p);
    EXPECT_EQ(type_of(plan, "token_embd.weight"), "q8_0");  // forced, whatever the patterns say
    EXPECT_EQ(type_of(plan, "per_layer_token_embd.weight"), "q4_0");
}

// glm5-next: its own never-quantized tensors, and a Q8_0 floor for attn_q_a/attn_q_b/nextn.eh_proj (not
// under --pure or a --tensor-type pattern, which skip the rules).
TEST(PresetsLowBit, Glm5NextRules) {
    ModelSpec s;
    s.arch = "glm5-next";
    s.n_layer = 4;
    s.dim = 512;
    s.ffn = 1024;
    s.n_head = 8;
    s.n_head_kv = 8;
    s.head_dim = 64;
    s.vocab = 1024;
    SyntheticModel m = test::make_model(s);
    for (const char* n : {"blk.0.attn_q_a.weight", "blk.0.attn_q_b.weight", "blk.0.nextn.eh_proj.weight",
                          "blk.0.indexer.proj.weight", "blk.0.hc_attn_fn.weight", "blk.0.attn_kv_a_mqa.weight",
                          "blk.0.attn_k_b.weight", "blk.0.ssm_beta.weight", "blk.0.ffn_gate_tid2eid.weight"}) {
        gguf::TensorInfo t;
        t.name = n;
        t.ne = {512, 512};
        t.type = Type::F16;
        m.tensors.push_back(t);
    }
    auto plan_types = [&](const ModelInfo& info, bool pure) {
        QuantParams p;
        p.set_preset(parse_preset("Q4_K_M"));
        p.pure = pure;
        std::map<std::string, std::string> out;
        for (const TensorPlan& t : plan_quantization(m.tensors, info, p).tensors)
            out[t.name] = type_info(t.dst_type).name;
        return out;
    };
    ModelInfo info = m.info();
    std::map<std::string, std::string> r = plan_types(info, false);
    EXPECT_EQ(r["blk.0.attn_q_a.weight"], "q8_0");
    EXPECT_EQ(r["blk.0.attn_q_b.weight"], "q8_0");
    EXPECT_EQ(r["blk.0.nextn.eh_proj.weight"], "q8_0");
    for (const char* n : {"blk.0.indexer.proj.weight", "blk.0.hc_attn_fn.weight", "blk.0.attn_kv_a_mqa.weight",
                          "blk.0.attn_k_b.weight", "blk.0.ssm_beta.weight", "blk.0.ffn_gate_tid2eid.weight"})
        EXPECT_EQ(r[n], "f16") << n;
    EXPECT_EQ(r["blk.0.attn_q.weight"], "q4_K");
    r = plan_types(info, true);
    EXPECT_EQ(r["blk.0.attn_q_a.weight"], "q4_K");
    EXPECT_EQ(r["blk.0.indexer.proj.weight"], "f16");
    // Another architecture: none of this.
    info.arch = "llama";
    r = plan_types(info, false);
    EXPECT_EQ(r["blk.0.attn_q_a.weight"], "q4_K");
    EXPECT_EQ(r["blk.0.attn_kv_a_mqa.weight"], "q4_K");
    EXPECT_EQ(r["blk.0.hc_attn_fn.weight"], "q4_K");
    EXPECT_EQ(r["blk.0.ffn_gate_tid2eid.weight"], "f16");  // excluded for every architecture
}

// The types a preset can choose, from its rules; a preset is supported when all of them have a quantizer.
TEST(PresetsLowBit, TargetTypesComeFromTheRules) {
    auto names = [](const char* preset) {
        std::set<std::string> s;
        for (Type t : preset_target_types(parse_preset(preset))) s.insert(std::string(type_info(t).name));
        return s;
    };
    const std::set<std::string> iq1_s = names("IQ1_S");
    for (const char* t : {"iq1_s", "q5_K", "q2_K", "q4_K", "iq2_xxs", "q8_0", "iq4_nl", "q4_0", "q5_0", "q5_1", "f16"})
        EXPECT_TRUE(iq1_s.count(t)) << t;
    EXPECT_FALSE(iq1_s.count("iq3_s"));
    const std::set<std::string> mx = names("MXFP4_MOE");
    EXPECT_EQ(mx, (std::set<std::string>{"mxfp4", "q8_0", "f16"}));
    const std::set<std::string> tq = names("TQ2_0");
    for (const char* t : {"tq2_0", "q4_K", "q6_K", "q8_0", "q4_0", "q5_0", "f16"}) EXPECT_TRUE(tq.count(t)) << t;
    EXPECT_TRUE(names("COPY").empty());
    EXPECT_EQ(names("F16"), (std::set<std::string>{"f16"}));
    for (const PresetInfo& p : presets()) {
        const std::vector<Type> types = preset_target_types(p);
        const bool all = std::all_of(types.begin(), types.end(), [](Type t) { return can_produce(t); });
        EXPECT_EQ(preset_supported(p), all) << p.name;
        if (!p.only_copy) { EXPECT_EQ(types.front(), p.default_type) << p.name; }
    }
}

// Every low-bit preset plans without a quantizer in a dry run, on each model.
TEST(PresetsLowBit, DryRunNeedsNoQuantizer) {
    for (const ModelSpec& spec : {test::dense_gqa_spec(), test::moe_spec(), test::tied_spec()}) {
        const SyntheticModel m = test::make_model(spec);
        for (const char* preset : kLowBitPresets) {
            QuantParams p;
            p.set_preset(parse_preset(preset));
            p.dry_run = true;
            EXPECT_NO_THROW(plan_quantization(m.tensors, m.info(), p)) << preset;
        }
    }
}

}  // namespace
}  // namespace kquant
