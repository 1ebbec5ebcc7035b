// Per-tensor target types of every supported preset on four synthetic models, against tables written
// by hand from llama-quantize-behaviour.md §4.4/§4.5/§4.7 (not from running the planner). Notation:
// "q6_K@0-3,6;q4_K" = q6_K for layers 0-3 and 6, q4_K elsewhere. A tensor whose role is not listed
// (norms, biases, rope_freqs, the MoE router) must keep its input type and be copied.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "kquant/imatrix.h"
#include "kquant/presets.h"
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

const std::string kUmb16 = "0-1,4,7,10,13-15";
const std::string kUmb24 = "0-2,5,8,11,14,17,20-23";
const std::string kUmb32 = "0-3,6,9,12,15,18,21,24,27-31";

Expect all_weights(const std::string& output, const std::string& t) { return dense(output, t, t, t, t, t, t, t, t); }

void check_table(const ModelSpec& spec, const std::vector<Case>& cases) { test::check_preset_table(spec, cases); }

// (a) dense, GQA 4, 32 layers: §4.5's table column by column.
TEST(PresetTables, DenseGqaLlama) {
    const std::string u = kUmb32;
    check_table(test::dense_gqa_spec(), {
        {"Q2_K", dense("q6_K", "q2_K", "q2_K", "q2_K", "q4_K", "q3_K", "q2_K", "q2_K", "q3_K")},
        {"Q2_K_S", dense("q6_K", "q2_K", "q2_K", "q2_K", "q4_K", "q2_K", "q2_K", "q2_K", "q4_K@0-3;q2_K"), 0, true},
        {"Q3_K_S", all_weights("q6_K", "q3_K")},
        {"Q3_K_M", dense("q6_K", "q3_K", "q3_K", "q3_K", "q5_K@0-1;q4_K", "q4_K", "q3_K", "q3_K", "q5_K@0-1;q4_K")},
        {"Q3_K", dense("q6_K", "q3_K", "q3_K", "q3_K", "q5_K@0-1;q4_K", "q4_K", "q3_K", "q3_K", "q5_K@0-1;q4_K")},
        {"Q3_K_L", dense("q6_K", "q3_K", "q3_K", "q3_K", "q5_K", "q5_K", "q3_K", "q3_K", "q5_K")},
        {"Q4_K_S", dense("q6_K", "q4_K", "q4_K", "q4_K", "q5_K@0-3;q4_K", "q4_K", "q4_K", "q4_K", "q5_K@0-3;q4_K")},
        {"Q4_K_M", dense("q6_K", "q4_K", "q4_K", "q4_K", "q6_K@" + u + ";q4_K", "q4_K", "q4_K", "q4_K", "q6_K@" + u + ";q4_K")},
        {"Q4_K", dense("q6_K", "q4_K", "q4_K", "q4_K", "q6_K@" + u + ";q4_K", "q4_K", "q4_K", "q4_K", "q6_K@" + u + ";q4_K")},
        {"Q5_K_S", all_weights("q6_K", "q5_K")},
        {"Q5_K_M", dense("q6_K", "q5_K", "q5_K", "q5_K", "q6_K@" + u + ";q5_K", "q5_K", "q5_K", "q5_K", "q6_K@" + u + ";q5_K")},
        {"Q5_K", dense("q6_K", "q5_K", "q5_K", "q5_K", "q6_K@" + u + ";q5_K", "q5_K", "q5_K", "q5_K", "q6_K@" + u + ";q5_K")},
        {"Q6_K", all_weights("q6_K", "q6_K")},
        {"Q8_0", all_weights("q8_0", "q8_0")},
        {"Q4_0", all_weights("q6_K", "q4_0")},
        {"Q4_0", dense("q6_K", "q4_0", "q4_0", "q4_0", "q4_0", "q4_0", "q4_0", "q4_0", "q4_1@0-3;q4_0"), 0, true},
        {"Q4_1", all_weights("q6_K", "q4_1")},
        {"Q4_1", all_weights("q6_K", "q4_1"), 0, true},
        {"Q5_0", all_weights("q6_K", "q5_0")},
        {"Q5_0", dense("q6_K", "q5_0", "q5_0", "q5_0", "q5_0", "q5_0", "q5_0", "q5_0", "q5_1@0-3;q5_0"), 0, true},
        {"Q5_1", all_weights("q6_K", "q5_1")},
        {"IQ4_NL", dense("q6_K", "iq4_nl", "iq4_nl", "iq4_nl", "q5_K", "iq4_nl", "iq4_nl", "iq4_nl", "q5_K@0-3;iq4_nl")},
        {"IQ4_NL", dense("q6_K", "iq4_nl", "iq4_nl", "iq4_nl", "q5_K", "iq4_nl", "iq4_nl", "iq4_nl", "iq4_nl"), 0, true},
        {"IQ4_XS", dense("q6_K", "iq4_xs", "iq4_xs", "iq4_xs", "q5_K", "iq4_xs", "iq4_xs", "iq4_xs", "q5_K@0-3;iq4_xs")},
        {"F16", all_weights("f16", "f16")},
        {"BF16", all_weights("bf16", "bf16")},
        {"F32", all_weights("f32", "f32")},
        {"COPY", {}},
    });
}

// The same model under presets kquant-cuda cannot produce: the type rules still hold for --dry-run.
TEST(PresetTables, DenseGqaLlamaUnsupportedPresetsDryRun) {
    check_table(test::dense_gqa_spec(), {
        // D: IQ2_XS, gqa >= 4 lifts attn_v; ffn_down counter < 32/8.
        {"IQ2_XS", dense("q5_K", "q2_K", "iq2_xs", "iq2_xs", "q4_K", "iq2_xs", "iq2_xs", "iq2_xs", "q2_K@0-3;iq2_xs"), 0, false, true},
        {"IQ2_S", dense("q5_K", "iq3_s", "iq2_xs", "iq2_xs", "q4_K", "iq3_s", "iq2_xs", "iq2_xs", "iq3_s@0-3;iq2_xs"), 0, false, true},
        {"IQ1_S", dense("q5_K", "q2_K", "iq1_s", "iq1_s", "q4_K", "iq2_xxs", "iq1_s", "iq1_s", "q2_K@0-3;iq1_s"), 0, false, true},
        // E-L for the IQ3 presets.
        {"IQ3_XS", dense("q6_K", "iq3_s", "iq3_xxs", "iq3_xxs", "q4_K", "iq3_s", "iq3_xxs@4-27;iq3_s", "iq3_xxs@4-27;iq3_s", "iq3_s"), 0, false, true},
        {"IQ3_M", dense("q6_K", "iq3_s", "iq3_s", "iq3_s", "q4_K", "q4_K", "iq3_s", "iq3_s", "q4_K@0-3;iq3_s"), 0, false, true},
        {"IQ3_XXS", dense("q5_K", "iq3_s", "iq2_s", "iq2_s", "q4_K", "iq3_s", "iq3_xxs", "iq3_xxs", "q4_K@0-3;q3_K"), 0, false, true},
        {"IQ3_XXS", dense("q5_K", "iq3_s", "iq2_s", "iq2_s", "q4_K", "iq3_s", "iq3_xxs", "iq3_xxs", "iq3_xxs"), 0, true, true},
        {"TQ1_0", dense("q6_K", "q4_K", "tq1_0", "tq1_0", "tq1_0", "tq1_0", "tq1_0", "tq1_0", "tq1_0"), 0, false, true},
    });
}

// (b) MoE with 8 experts, 16 layers: attn_v/attn_k -> Q8_0, attn_output -> Q5_K for the listed presets,
// FFN layers read from the names (two ffn_down tensors per layer: experts and shared experts).
TEST(PresetTables, MoeEightExperts) {
    const std::string u = kUmb16;
    check_table(test::moe_spec(), {
        {"Q2_K", moe("q6_K", "q2_K", "q2_K", "q8_0", "q8_0", "q5_K", "q2_K", "q3_K")},
        {"Q2_K_S", moe("q6_K", "q2_K", "q2_K", "q8_0", "q8_0", "q2_K", "q2_K", "q4_K@0-1;q2_K"), 0, true},
        {"Q3_K_S", moe("q6_K", "q3_K", "q3_K", "q8_0", "q8_0", "q5_K", "q3_K", "q3_K")},
        {"Q3_K_M", moe("q6_K", "q3_K", "q3_K", "q8_0", "q8_0", "q5_K", "q3_K", "q5_K@0;q4_K")},
        {"Q3_K_L", moe("q6_K", "q3_K", "q3_K", "q8_0", "q8_0", "q3_K", "q3_K", "q5_K")},
        {"Q4_K_S", moe("q6_K", "q4_K", "q4_K", "q8_0", "q8_0", "q5_K", "q4_K", "q5_K@0-1;q4_K")},
        {"Q4_K_M", moe("q6_K", "q4_K", "q4_K", "q8_0", "q8_0", "q5_K", "q4_K", "q6_K@" + u + ";q4_K")},
        {"Q5_K_S", moe("q6_K", "q5_K", "q5_K", "q8_0", "q8_0", "q5_K", "q5_K", "q5_K")},
        {"Q5_K_M", moe("q6_K", "q5_K", "q5_K", "q8_0", "q8_0", "q5_K", "q5_K", "q6_K@" + u + ";q5_K")},
        {"Q6_K", moe("q6_K", "q6_K", "q6_K", "q8_0", "q8_0", "q6_K", "q6_K", "q6_K")},
        {"Q8_0", moe("q8_0", "q8_0", "q8_0", "q8_0", "q8_0", "q8_0", "q8_0", "q8_0")},
        {"Q4_0", moe("q6_K", "q4_0", "q4_0", "q8_0", "q8_0", "q4_0", "q4_0", "q4_0")},
        {"Q4_0", moe("q6_K", "q4_0", "q4_0", "q8_0", "q8_0", "q4_0", "q4_0", "q4_1@0-1;q4_0"), 0, true},
        {"Q4_1", moe("q6_K", "q4_1", "q4_1", "q8_0", "q8_0", "q4_1", "q4_1", "q4_1")},
        {"Q5_0", moe("q6_K", "q5_0", "q5_0", "q8_0", "q8_0", "q5_0", "q5_0", "q5_0")},
        {"Q5_1", moe("q6_K", "q5_1", "q5_1", "q8_0", "q8_0", "q5_1", "q5_1", "q5_1")},
        {"IQ4_NL", moe("q6_K", "iq4_nl", "iq4_nl", "q8_0", "q8_0", "q5_K", "iq4_nl", "q5_K@0-1;iq4_nl")},
        {"IQ4_XS", moe("q6_K", "iq4_xs", "iq4_xs", "q8_0", "q8_0", "q5_K", "iq4_xs", "q5_K@0-1;iq4_xs")},
        {"F16", moe("f16", "f16", "f16", "f16", "f16", "f16", "f16", "f16")},
        {"BF16", moe("bf16", "bf16", "bf16", "bf16", "bf16", "bf16", "bf16", "bf16")},
        {"F32", moe("f32", "f32", "f32", "f32", "f32", "f32", "f32", "f32")},
        {"COPY", {}},
        // D with 8 experts: attn_v Q4_K (n_expert >= 4), attn_k Q4_K, attn_output Q5_K; ffn_down uses the
        // running counter even here, and both ffn_down tensors of layer 0 use up the 16/8 = 2 slots.
        {"IQ2_XXS", moe("q5_K", "q2_K", "iq2_xxs", "q4_K", "q4_K", "q5_K", "iq2_xxs", "q2_K@0;iq2_xxs"), 0, false, true},
        // B: merged experts to MXFP4, everything else (shared experts included) to Q8_0.
        {"MXFP4_MOE", {{"output.weight", "q8_0"}, {"token_embd.weight", "q8_0"}, {"attn_q.weight", "q8_0"},
                       {"attn_k.weight", "q8_0"}, {"attn_v.weight", "q8_0"}, {"attn_output.weight", "q8_0"},
                       {"ffn_gate_exps.weight", "mxfp4"}, {"ffn_up_exps.weight", "mxfp4"},
                       {"ffn_down_exps.weight", "mxfp4"}, {"ffn_gate_shexp.weight", "q8_0"},
                       {"ffn_up_shexp.weight", "q8_0"}, {"ffn_down_shexp.weight", "q8_0"}}, 0, false, true},
    });
}

// (c) FFN width 4896 = 153 * 32: every K-quant ffn_down falls back (Q2_K/Q3_K -> Q4_0, Q4_K -> Q5_0,
// Q5_K -> Q5_1, Q6_K -> Q8_0, IQ4_XS -> IQ4_NL); gqa 1, so Q2_K's attn_v is Q3_K.
TEST(PresetTables, FfnWidthNotMultipleOf256) {
    const std::string u = kUmb24;
    check_table(test::odd_ffn_spec(), {
        {"Q2_K", dense("q6_K", "q2_K", "q2_K", "q2_K", "q3_K", "q3_K", "q2_K", "q2_K", "q4_0"), 24},
        {"Q2_K_S", dense("q6_K", "q2_K", "q2_K", "q2_K", "q2_K", "q2_K", "q2_K", "q2_K", "q5_0@0-2;q4_0"), 24, true},
        {"Q3_K_S", dense("q6_K", "q3_K", "q3_K", "q3_K", "q3_K", "q3_K", "q3_K", "q3_K", "q4_0"), 24},
        {"Q3_K_M", dense("q6_K", "q3_K", "q3_K", "q3_K", "q5_K@0-1;q4_K", "q4_K", "q3_K", "q3_K", "q5_1@0;q5_0"), 24},
        {"Q3_K_L", dense("q6_K", "q3_K", "q3_K", "q3_K", "q5_K", "q5_K", "q3_K", "q3_K", "q5_1"), 24},
        {"Q4_K_S", dense("q6_K", "q4_K", "q4_K", "q4_K", "q5_K@0-3;q4_K", "q4_K", "q4_K", "q4_K", "q5_1@0-2;q5_0"), 24},
        {"Q4_K_M", dense("q6_K", "q4_K", "q4_K", "q4_K", "q6_K@" + u + ";q4_K", "q4_K", "q4_K", "q4_K", "q8_0@" + u + ";q5_0"), 24},
        {"Q5_K_S", dense("q6_K", "q5_K", "q5_K", "q5_K", "q5_K", "q5_K", "q5_K", "q5_K", "q5_1"), 24},
        {"Q5_K_M", dense("q6_K", "q5_K", "q5_K", "q5_K", "q6_K@" + u + ";q5_K", "q5_K", "q5_K", "q5_K", "q8_0@" + u + ";q5_1"), 24},
        {"Q6_K", dense("q6_K", "q6_K", "q6_K", "q6_K", "q6_K", "q6_K", "q6_K", "q6_K", "q8_0"), 24},
        {"Q8_0", all_weights("q8_0", "q8_0")},
        {"Q4_0", all_weights("q6_K", "q4_0")},
        {"Q4_1", all_weights("q6_K", "q4_1")},
        {"Q5_0", all_weights("q6_K", "q5_0")},
        {"Q5_1", all_weights("q6_K", "q5_1")},
        {"IQ4_NL", dense("q6_K", "iq4_nl", "iq4_nl", "iq4_nl", "iq4_nl", "iq4_nl", "iq4_nl", "iq4_nl", "q5_1@0-2;iq4_nl"), 3},
        {"IQ4_XS", dense("q6_K", "iq4_xs", "iq4_xs", "iq4_xs", "iq4_xs", "iq4_xs", "iq4_xs", "iq4_xs", "q5_1@0-2;iq4_nl"), 24},
        {"F16", all_weights("f16", "f16")},
        {"BF16", all_weights("bf16", "bf16")},
        {"F32", all_weights("f32", "f32")},
        {"COPY", {}},
    });
}

// (d) tied embeddings, dim 896 = 3.5 * 256 (gqa 7): token_embd goes through rule A (Q8_0 without a
// fallback count for K presets, Q6_K -> Q8_0 counted for the 32-element presets), and every 896-wide
// matrix falls back for 256-element types.
TEST(PresetTables, TiedEmbeddingsNarrowModel) {
    const std::string u = kUmb24;
    check_table(test::tied_spec(), {
        {"Q2_K", dense("", "q8_0", "q4_0", "q4_0", "q5_0", "q4_0", "q4_0", "q4_0", "q3_K"), 144},
        {"Q2_K_S", dense("", "q8_0", "q4_0", "q4_0", "q5_0", "q4_0", "q4_0", "q4_0", "q4_K@0-2;q2_K"), 144, true},
        {"Q3_K_S", dense("", "q8_0", "q4_0", "q4_0", "q4_0", "q4_0", "q4_0", "q4_0", "q3_K"), 144},
        {"Q3_K_M", dense("", "q8_0", "q4_0", "q4_0", "q5_1@0-1;q5_0", "q5_0", "q4_0", "q4_0", "q5_K@0;q4_K"), 144},
        {"Q3_K_L", dense("", "q8_0", "q4_0", "q4_0", "q5_1", "q5_1", "q4_0", "q4_0", "q5_K"), 144},
        {"Q4_K_S", dense("", "q8_0", "q5_0", "q5_0", "q5_1@0-3;q5_0", "q5_0", "q5_0", "q5_0", "q5_K@0-2;q4_K"), 144},
        {"Q4_K_M", dense("", "q8_0", "q5_0", "q5_0", "q8_0@" + u + ";q5_0", "q5_0", "q5_0", "q5_0", "q6_K@" + u + ";q4_K"), 144},
        {"Q5_K_S", dense("", "q8_0", "q5_1", "q5_1", "q5_1", "q5_1", "q5_1", "q5_1", "q5_K"), 144},
        {"Q5_K_M", dense("", "q8_0", "q5_1", "q5_1", "q8_0@" + u + ";q5_1", "q5_1", "q5_1", "q5_1", "q6_K@" + u + ";q5_K"), 144},
        {"Q6_K", dense("", "q8_0", "q8_0", "q8_0", "q8_0", "q8_0", "q8_0", "q8_0", "q6_K"), 144},
        {"Q8_0", all_weights("", "q8_0")},
        {"Q4_0", dense("", "q8_0", "q4_0", "q4_0", "q4_0", "q4_0", "q4_0", "q4_0", "q4_0"), 1},
        {"Q4_1", dense("", "q8_0", "q4_1", "q4_1", "q4_1", "q4_1", "q4_1", "q4_1", "q4_1"), 1},
        {"Q5_0", dense("", "q8_0", "q5_0", "q5_0", "q5_0", "q5_0", "q5_0", "q5_0", "q5_0"), 1},
        {"Q5_1", dense("", "q8_0", "q5_1", "q5_1", "q5_1", "q5_1", "q5_1", "q5_1", "q5_1"), 1},
        {"IQ4_NL", dense("", "q8_0", "iq4_nl", "iq4_nl", "q5_1", "iq4_nl", "iq4_nl", "iq4_nl", "q5_K@0-2;iq4_nl"), 25},
        {"IQ4_XS", dense("", "q8_0", "iq4_nl", "iq4_nl", "q5_1", "iq4_nl", "iq4_nl", "iq4_nl", "q5_K@0-2;iq4_xs"), 144},
        {"F16", all_weights("", "f16")},
        {"BF16", all_weights("", "bf16")},
        {"F32", all_weights("", "f32")},
        {"COPY", {}},
    });
}

// §4.5: Llama-3-8B at Q4_K_M has 33 Q6_K, 193 Q4_K and 65 F32 norms (plus rope_freqs here).
TEST(PresetTables, Llama3_8BQ4_K_MCounts) {
    const SyntheticModel m = test::make_model(test::dense_gqa_spec());
    QuantParams p;
    p.set_preset(parse_preset("Q4_K_M"));
    const QuantPlan plan = plan_quantization(m.tensors, m.info(), p);
    std::map<Type, int> n;
    int norms = 0;
    for (const TensorPlan& t : plan.tensors) {
        ++n[t.dst_type];
        if (t.dst_type == Type::F32 && t.name.find("_norm.weight") != std::string::npos) ++norms;
    }
    EXPECT_EQ(plan.tensors.size(), 292u);
    EXPECT_EQ(n[Type::Q6_K], 33);
    EXPECT_EQ(n[Type::Q4_K], 193);
    EXPECT_EQ(norms, 65);
    EXPECT_EQ(n[Type::F32], 66);  // the norms and rope_freqs
    EXPECT_EQ(plan.n_fallback, 0);
    EXPECT_EQ(fallback_summary(plan), "");
}

// 70B size class (§4.4 E): attn_v Q3_K/Q4_K become Q5_K; llama needs n_head != n_head_kv, qwen2 not.
TEST(PresetTables, SeventyBSizeClass) {
    ModelSpec s;
    s.n_layer = 80;
    s.dim = 512;
    s.ffn = 1024;
    s.n_head = 64;
    s.n_head_kv = 8;
    s.head_dim = 8;
    s.vocab = 1024;
    const std::string umb80 = "0-9,12,15,18,21,24,27,30,33,36,39,42,45,48,51,54,57,60,63,66,69,70-79";
    check_table(s, {
        {"Q4_K_M", dense("q6_K", "q4_K", "q4_K", "q4_K", "q6_K@" + umb80 + ";q5_K", "q4_K", "q4_K", "q4_K", "q6_K@" + umb80 + ";q4_K")},
        {"Q3_K_M", dense("q6_K", "q3_K", "q3_K", "q3_K", "q5_K", "q4_K", "q3_K", "q3_K", "q5_K@0-4;q4_K")},
        {"Q2_K", dense("q6_K", "q2_K", "q2_K", "q2_K", "q5_K", "q3_K", "q2_K", "q2_K", "q3_K")},
        {"Q3_K_S", dense("q6_K", "q3_K", "q3_K", "q3_K", "q5_K", "q3_K", "q3_K", "q3_K", "q3_K")},
    });
    s.n_head_kv = 64;  // llama 65B: no bump
    check_table(s, {{"Q3_K_S", all_weights("q6_K", "q3_K")}});
    s.arch = "qwen2";  // qwen2: 80 layers is enough
    check_table(s, {{"Q3_K_S", dense("q6_K", "q3_K", "q3_K", "q3_K", "q5_K", "q3_K", "q3_K", "q3_K", "q3_K")}});
    s.arch = "falcon";  // not a 70B class; Falcon's own rules: Q8_0 output, Q3_K_L ffn_down/attn_output Q4_K
    check_table(s, {{"Q3_K_L", dense("q8_0", "q3_K", "q3_K", "q3_K", "q5_K", "q4_K", "q3_K", "q3_K", "q4_K")}});
}

// A dense model (n_expert <= 1) counts FFN tensors with the running counter, so two ffn_down tensors
// per layer make the counter run ahead of the layer (§4.2).
TEST(PresetTables, DenseCounterDriftsWithTwoFfnDownPerLayer) {
    ModelSpec s;
    s.n_layer = 8;
    s.dim = 256;
    s.ffn = 512;
    s.n_head = 4;
    s.n_head_kv = 4;
    s.head_dim = 64;
    s.vocab = 1024;
    s.shexp_ffn = 256;
    // Counter order per layer: ffn_down (2L), ffn_down_shexp (2L+1); umb(i, 8) is true for
    // i = 0, 3, 6, 7, 8, ..., 15.
    Expect e = dense("q6_K", "q4_K", "q4_K", "q4_K", "q6_K@0,3,6-7;q4_K", "q4_K", "q4_K", "q4_K", "q6_K@0,3-7;q4_K");
    e["ffn_gate_shexp.weight"] = "q4_K";
    e["ffn_up_shexp.weight"] = "q4_K";
    e["ffn_down_shexp.weight"] = "q6_K@1,3-7;q4_K";
    check_table(s, {{"Q4_K_M", e}});
}

}  // namespace
}  // namespace kquant
