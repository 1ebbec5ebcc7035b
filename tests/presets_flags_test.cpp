// The options that change type selection (§1.2, §4.1): --pure, --leave-output-tensor,
// --output-tensor-type, --token-embedding-type, --tensor-type, --allow-requantize, and the errors of
// the preliminary and main passes (§4.7, §6.3, §6.4).
#include <gtest/gtest.h>

#include <limits>
#include <map>

#include "kquant/error.h"
#include "kquant/imatrix.h"
#include "kquant/presets.h"
#include "support/preset_models.h"

namespace kquant {
namespace {

using test::SyntheticModel;

struct Planned {
    SyntheticModel model;
    QuantPlan plan;
    const TensorPlan& at(const std::string& name) const {
        for (const TensorPlan& t : plan.tensors)
            if (t.name == name) return t;
        throw std::out_of_range(name);
    }
    std::string type(const std::string& name) const { return std::string(type_info(at(name).dst_type).name); }
};

Planned plan_for(const test::ModelSpec& spec, QuantParams p, const Imatrix* im = nullptr) {
    Planned r{test::make_model(spec), {}};
    r.plan = plan_quantization(r.model.tensors, r.model.info(), p, im, "model.gguf");
    return r;
}

QuantParams preset(const char* name) {
    QuantParams p;
    p.set_preset(parse_preset(name));
    return p;
}

// Runs f, which must throw a kquant::Error whose message contains every one of `parts`.
template <class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
    try {
        f();
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        const std::string msg = e.what();
        for (const std::string& s : parts) EXPECT_NE(msg.find(s), std::string::npos) << "'" << s << "' not in: " << msg;
    }
}

TEST(PresetFlags, PureGivesTheDefaultTypeEverywhere) {
    QuantParams p = preset("Q4_K_M");
    p.pure = true;
    const Planned a = plan_for(test::dense_gqa_spec(), p);
    for (const char* n : {"output.weight", "token_embd.weight", "blk.0.attn_v.weight", "blk.0.ffn_down.weight",
                          "blk.31.attn_v.weight", "blk.5.attn_output.weight"})
        EXPECT_EQ(a.type(n), "q4_K") << n;
    EXPECT_EQ(a.type("blk.0.attn_norm.weight"), "f32");

    // The shape fallback still applies (24 ffn_down of width 4896).
    const Planned c = plan_for(test::odd_ffn_spec(), p);
    EXPECT_EQ(c.type("blk.0.ffn_down.weight"), "q5_0");
    EXPECT_EQ(c.plan.n_fallback, 24);

    // A tied token_embd gets the default type (rule A is skipped), then falls back like the rest.
    const Planned d = plan_for(test::tied_spec(), p);
    EXPECT_EQ(d.type("token_embd.weight"), "q5_0");
    EXPECT_TRUE(d.at("token_embd.weight").fallback);
    EXPECT_EQ(d.plan.n_fallback, 145);
}

TEST(PresetFlags, LeaveOutputTensorKeepsItsType) {
    QuantParams p = preset("Q4_K_M");
    p.leave_output_tensor = true;
    const Planned a = plan_for(test::dense_gqa_spec(), p);
    EXPECT_EQ(a.type("output.weight"), "f16");
    EXPECT_EQ(a.at("output.weight").action, TensorAction::Copy);
    EXPECT_FALSE(a.at("output.weight").allows_quantization);
    EXPECT_EQ(a.type("token_embd.weight"), "q4_K");  // still untied: output.weight exists
}

TEST(PresetFlags, OutputTensorType) {
    QuantParams p = preset("Q4_K_M");
    p.output_tensor_type = Type::Q8_0;
    const Planned a = plan_for(test::dense_gqa_spec(), p);
    EXPECT_EQ(a.type("output.weight"), "q8_0");
    EXPECT_EQ(a.type("token_embd.weight"), "q4_K");

    // Tied: the token embedding takes it through rule A...
    const Planned d = plan_for(test::tied_spec(), p);
    EXPECT_EQ(d.type("token_embd.weight"), "q8_0");
    EXPECT_EQ(d.plan.n_fallback, 144);
    // ...and, not being a forced type there, still gets the shape fallback.
    p.output_tensor_type = Type::Q4_K;
    const Planned d2 = plan_for(test::tied_spec(), p);
    EXPECT_EQ(d2.type("token_embd.weight"), "q5_0");
    EXPECT_EQ(d2.plan.n_fallback, 145);

    // Under --pure or a matching --tensor-type pattern, rule A does not run for a tied embedding.
    QuantParams pure = p;
    pure.pure = true;
    pure.output_tensor_type = Type::Q8_0;
    EXPECT_EQ(plan_for(test::tied_spec(), pure).type("token_embd.weight"), "q5_0");
    QuantParams manual = preset("Q4_K_M");
    manual.output_tensor_type = Type::Q8_0;
    manual.tensor_types = {parse_tensor_type_rule("token_embd=q5_1")};
    EXPECT_EQ(plan_for(test::tied_spec(), manual).type("token_embd.weight"), "q5_1");
}

TEST(PresetFlags, TokenEmbeddingTypeIsForcedWithoutFallback) {
    QuantParams p = preset("Q4_K_M");
    p.token_embedding_type = Type::Q8_0;
    const Planned a = plan_for(test::dense_gqa_spec(), p);
    EXPECT_EQ(a.type("token_embd.weight"), "q8_0");
    EXPECT_EQ(a.type("output.weight"), "q6_K");

    // 896 columns do not fit q4_K, but a forced type gets no fallback: the plan says so in a dry run
    // and refuses to run otherwise.
    p.token_embedding_type = Type::Q4_K;
    p.dry_run = true;
    const Planned d = plan_for(test::tied_spec(), p);
    EXPECT_EQ(d.type("token_embd.weight"), "q4_K");
    EXPECT_FALSE(d.at("token_embd.weight").fallback);
    EXPECT_EQ(d.plan.n_fallback, 144);
    p.dry_run = false;
    expect_error([&] { plan_for(test::tied_spec(), p); },
                 {"model.gguf", "token_embd.weight", "ncols 896 not divisible by 256"});
}

TEST(PresetFlags, TensorTypePatternsSkipTheRulesAndTheCounters) {
    // blk.1's attn_v is manual, so it does not take an attn_v ordinal: layer L >= 2 uses ordinal L-1.
    QuantParams p = preset("Q4_K_M");
    p.tensor_types = {parse_tensor_type_rule("blk\\.1\\.attn_v=q8_0")};
    const Planned a = plan_for(test::dense_gqa_spec(), p);
    const std::string spec = "q6_K@0,2-4,7,10,13,16,19,22,25,28-31;q8_0@1;q4_K";
    for (int l = 0; l < 32; ++l) {
        const std::string n = "blk." + std::to_string(l) + ".attn_v.weight";
        EXPECT_EQ(a.type(n), type_info(test::expected_type(spec, l)).name) << n;
        EXPECT_EQ(a.at(n).manual, l == 1) << n;
    }
}

TEST(PresetFlags, TensorTypeFirstMatchWinsAndIsUnanchored) {
    QuantParams p = preset("Q4_K_M");
    p.tensor_types = {parse_tensor_type_rule("ffn=q5_0"), parse_tensor_type_rule("ffn_down=q8_0"),
                      parse_tensor_type_rule("ATTN_K=Q8_0")};
    const Planned a = plan_for(test::dense_gqa_spec(), p);
    EXPECT_EQ(a.type("blk.3.ffn_down.weight"), "q5_0");
    EXPECT_EQ(a.type("blk.3.ffn_up.weight"), "q5_0");
    EXPECT_EQ(a.type("blk.3.attn_k.weight"), "q8_0");  // the name was lower-cased
    EXPECT_EQ(a.type("blk.3.attn_q.weight"), "q4_K");

    // attn_q also matches attn_qkv.
    std::vector<gguf::TensorInfo> in(2);
    in[0].name = "blk.0.attn_qkv.weight";
    in[0].ne = {256, 768};
    in[0].type = Type::F16;
    in[1].name = "blk.0.attn_output.weight";
    in[1].ne = {256, 256};
    in[1].type = Type::F16;
    ModelInfo m;
    m.arch = "phi3";
    m.n_layer = 1;
    QuantParams q = preset("Q4_K_M");
    q.tensor_types = {parse_tensor_type_rule("attn_q=q8_0")};
    const QuantPlan plan = plan_quantization(in, m, q);
    EXPECT_EQ(plan.tensors[0].name, "blk.0.attn_output.weight");
    EXPECT_EQ(plan.tensors[0].dst_type, Type::Q4_K);
    EXPECT_EQ(plan.tensors[1].dst_type, Type::Q8_0);
}

TEST(PresetFlags, TensorTypeStillFallsBackAndIsIgnoredForFloatPresets) {
    QuantParams p = preset("Q4_K_M");
    p.tensor_types = {parse_tensor_type_rule("ffn_down=q4_K")};
    const Planned c = plan_for(test::odd_ffn_spec(), p);
    EXPECT_EQ(c.type("blk.0.ffn_down.weight"), "q5_0");
    EXPECT_TRUE(c.at("blk.0.ffn_down.weight").manual);
    EXPECT_EQ(c.plan.n_fallback, 24);

    QuantParams f = preset("F16");
    f.tensor_types = {parse_tensor_type_rule("attn_v=q8_0")};
    EXPECT_EQ(plan_for(test::dense_gqa_spec(), f).type("blk.0.attn_v.weight"), "f16");

    QuantParams bad = preset("Q4_K_M");
    bad.tensor_types = {parse_tensor_type_rule("attn[=q8_0")};
    expect_error([&] { plan_for(test::dense_gqa_spec(), bad); }, {"invalid --tensor-type pattern 'attn['"});
}

TEST(PresetFlags, TensorTypeParsing) {
    const TensorTypeRule r = parse_tensor_type_rule("Blk\\.0\\.FFN_UP=Q5_K");
    EXPECT_EQ(r.pattern, "blk\\.0\\.ffn_up");
    EXPECT_EQ(r.type, Type::Q5_K);
    expect_error([] { parse_tensor_type_rule("attn_v"); }, {"malformed tensor type"});
    expect_error([] { parse_tensor_type_rule("=q8_0"); }, {"missing tensor name"});
    expect_error([] { parse_tensor_type_rule("attn_v="); }, {"missing quantization type"});
    expect_error([] { parse_tensor_type_rule("attn_v=q9_9"); }, {"invalid quantization type 'q9_9'"});
    const std::vector<TensorTypeRule> list = parse_tensor_type_list("a=q8_0  b=F16\n\tc=q4_k\n");
    ASSERT_EQ(list.size(), 3u);
    EXPECT_EQ(list[1].pattern, "b");
    EXPECT_EQ(list[1].type, Type::F16);
    EXPECT_EQ(list[2].type, Type::Q4_K);
    expect_error([] { parse_tensor_type_list("a=q8_0 oops", "types.txt"); }, {"types.txt", "'oops'"});
    EXPECT_EQ(parse_ggml_type("Q4_k"), Type::Q4_K);
    expect_error([] { parse_ggml_type("q4_k_m"); }, {"invalid ggml_type 'q4_k_m'", "iq4_xs"});
}

TEST(PresetFlags, RequantizingNeedsAllowRequantize) {
    test::ModelSpec s = test::dense_gqa_spec();
    s.n_layer = 2;
    s.weight_type = Type::Q8_0;
    // output.weight is first in order and needs Q6_K.
    expect_error([&] { plan_for(s, preset("Q4_K_M")); },
                 {"model.gguf", "output.weight", "requantizing from type q8_0 is disabled"});
    QuantParams p = preset("Q4_K_M");
    p.allow_requantize = true;
    const Planned r = plan_for(s, p);
    EXPECT_EQ(r.at("output.weight").action, TensorAction::Quantize);
    EXPECT_EQ(r.type("blk.0.attn_q.weight"), "q4_K");
    // Same type: copied, no requantization involved.
    const Planned same = plan_for(s, preset("Q8_0"));
    for (const TensorPlan& t : same.plan.tensors) EXPECT_EQ(t.action, TensorAction::Copy) << t.name;
    // A dry run does not check.
    QuantParams dry = preset("Q4_K_M");
    dry.dry_run = true;
    EXPECT_NO_THROW(plan_for(s, dry));
    // No dequantizer for the source type.
    s.weight_type = Type::Q8_1;
    expect_error([&] { plan_for(s, p); }, {"output.weight", "q8_1", "no dequantization available"});
}

TEST(PresetFlags, ImatrixRequirement) {
    // Q2_K_S: every Q2_K tensor except output/token_embd needs an imatrix; blk.0.attn_k is the first.
    expect_error([] { plan_for(test::dense_gqa_spec(), preset("Q2_K_S")); },
                 {"model.gguf", "blk.0.attn_k.weight", "this quantization requires an imatrix!"});
    QuantParams dry = preset("Q2_K_S");
    dry.dry_run = true;
    EXPECT_TRUE(plan_for(test::dense_gqa_spec(), dry).plan.will_require_imatrix);
    EXPECT_FALSE(plan_for(test::dense_gqa_spec(), [] { QuantParams q = preset("Q4_K_M"); q.dry_run = true; return q; }())
                     .plan.will_require_imatrix);

    // An imatrix without the tensor's entry: the main pass refuses.
    Imatrix im;
    im.entries["blk.0.attn_q.weight"] = std::vector<float>(4096, 1.0f);
    expect_error([&] { plan_for(test::dense_gqa_spec(), preset("Q2_K_S"), &im); },
                 {"Missing importance matrix for tensor blk.0.attn_k.weight in a very low-bit quantization"});
    // An imatrix left empty by filtering counts as none.
    Imatrix empty;
    expect_error([&] { plan_for(test::dense_gqa_spec(), preset("Q2_K_S"), &empty); },
                 {"this quantization requires an imatrix!"});
}

TEST(PresetFlags, UnsupportedTargetsAreRefusedOutsideDryRun) {
    const SyntheticModel m = test::make_model(test::dense_gqa_spec());
    const Imatrix im = test::full_imatrix(m);
    // Every preset's types have codecs now; a --tensor-type of a type without one (q8_1: ggml has no
    // quantizer for it either) is refused, naming the tensor and the types we can produce.
    EXPECT_NO_THROW(plan_quantization(m.tensors, m.info(), preset("IQ3_M"), &im));
    QuantParams p = preset("Q4_K_M");
    p.tensor_types = {parse_tensor_type_rule("attn_v=q8_1")};
    expect_error([&] { plan_quantization(m.tensors, m.info(), p, &im); },
                 {"blk.0.attn_v.weight", "cannot quantize to type q8_1", "iq2_xs"});
}

TEST(PresetFlags, ShapeFallbackToF16AndMissingFallback) {
    std::vector<gguf::TensorInfo> in(2);
    in[0].name = "blk.0.ffn_up.weight";
    in[0].ne = {4096, 64};
    in[0].type = Type::F16;
    in[1].name = "blk.0.odd.weight";
    in[1].ne = {100, 64};
    in[1].type = Type::F16;
    ModelInfo m;
    m.arch = "llama";
    m.n_layer = 1;
    const QuantPlan plan = plan_quantization(in, m, preset("Q4_K_M"));
    const TensorPlan& odd = plan.tensors[1];
    ASSERT_EQ(odd.name, "blk.0.odd.weight");
    EXPECT_EQ(odd.dst_type, Type::F16);
    EXPECT_EQ(odd.action, TensorAction::Copy);
    EXPECT_TRUE(odd.fallback);
    EXPECT_EQ(odd.fallback_warning,
              "warning: blk.0.odd.weight                     - ncols    100 not divisible by 256 (required for type"
              "    q4_K) (WARNING: must use F16 due to unusual shape) -> falling back to     f16");
    EXPECT_EQ(plan.n_fallback, 1);
    EXPECT_EQ(fallback_summary(plan), "WARNING: 1 of 2 tensor(s) required fallback quantization");

    // A 32-element type has nowhere smaller to go: F16 as well (0c1e5709; older revisions stopped).
    const QuantPlan q8 = plan_quantization(in, m, preset("Q8_0"));
    EXPECT_EQ(q8.tensors[1].dst_type, Type::F16);
    EXPECT_EQ(q8.tensors[1].fallback_warning,
              "warning: blk.0.odd.weight                     - ncols    100 not divisible by  32 (required for type"
              "    q8_0) (WARNING: must use F16 due to unusual shape) -> falling back to     f16");
    EXPECT_EQ(q8.n_fallback, 1);
    // Q1_0 (128 elements) has no fallback.
    QuantParams dry = preset("Q1_0");
    dry.dry_run = true;
    expect_error([&] { plan_quantization(in, m, dry); },
                 {"blk.0.odd.weight", "no tensor type fallback is defined for type q1_0"});
}

TEST(PresetFlags, FallbackWarningWithoutF16) {
    const Planned c = plan_for(test::odd_ffn_spec(), preset("Q6_K"));
    EXPECT_EQ(c.at("blk.0.ffn_down.weight").fallback_warning,
              "warning: blk.0.ffn_down.weight                - ncols   4896 not divisible by 256 (required for type"
              "    q6_K) -> falling back to    q8_0");
    EXPECT_EQ(fallback_summary(c.plan), "WARNING: 24 of " + std::to_string(c.model.tensors.size()) +
                                            " tensor(s) required fallback quantization");
}

TEST(PresetFlags, MoeLayerMustBeReadableFromTheName) {
    test::ModelSpec s = test::moe_spec();
    s.n_layer = 2;
    SyntheticModel m = test::make_model(s);
    gguf::TensorInfo extra;
    extra.name = "mm.ffn_up.weight";
    extra.ne = {4096, 256};
    extra.type = Type::F16;
    m.tensors.push_back(extra);
    expect_error([&] { plan_quantization(m.tensors, m.info(), preset("Q4_K_M")); },
                 {"Failed to determine layer for tensor mm.ffn_up.weight"});
    m.tensors.back().name = "blk.7.ffn_down_exps.weight";
    expect_error([&] { plan_quantization(m.tensors, m.info(), preset("Q4_K_M")); },
                 {"Bad layer 7 for tensor blk.7.ffn_down_exps.weight. Must be in [0, 2)"});
}

TEST(PresetFlags, ImatrixWeightsAreAttachedPerTensor) {
    const SyntheticModel m = test::make_model(test::moe_spec());
    Imatrix im = test::full_imatrix(m);
    const QuantPlan plan = plan_quantization(m.tensors, m.info(), preset("Q4_K_M"), &im);
    for (const TensorPlan& t : plan.tensors) {
        if (t.action != TensorAction::Quantize) {
            EXPECT_EQ(t.imatrix, nullptr) << t.name;
            continue;
        }
        ASSERT_NE(t.imatrix, nullptr) << t.name;
        const int64_t ne2 = t.ne.size() > 2 ? t.ne[2] : 1;
        EXPECT_EQ(t.imatrix->size(), static_cast<size_t>(t.ne[0] * ne2)) << t.name;
        EXPECT_EQ(t.imatrix, &im.entries.at(t.name));
    }
    const std::vector<PlannedTensor> pp = to_pipeline_plan(plan, m.tensors);
    ASSERT_EQ(pp.size(), plan.tensors.size());
    for (size_t i = 0; i < pp.size(); ++i) {
        EXPECT_EQ(pp[i].src->name, plan.tensors[i].name);
        EXPECT_EQ(pp[i].dst, plan.tensors[i].dst_type);
        EXPECT_EQ(pp[i].action, plan.tensors[i].action);
        EXPECT_EQ(pp[i].qw, plan.tensors[i].imatrix ? plan.tensors[i].imatrix->data() : nullptr);
    }

    // Missing entry: a note, quantized without. Token embedding of another size: a note. Others: error.
    im.entries.erase("blk.3.attn_q.weight");
    im.entries["token_embd.weight"] = std::vector<float>(7, 1.0f);
    const QuantPlan p2 = plan_quantization(m.tensors, m.info(), preset("Q4_K_M"), &im);
    for (const TensorPlan& t : p2.tensors) {
        if (t.name == "blk.3.attn_q.weight") {
            EXPECT_EQ(t.imatrix, nullptr);
            EXPECT_EQ(t.imatrix_note, "did not find weights for blk.3.attn_q.weight");
        }
        if (t.name == "token_embd.weight") {
            EXPECT_EQ(t.imatrix, nullptr);
            EXPECT_EQ(t.imatrix_note, "imatrix size 7 is different from tensor size 4096 for token_embd.weight");
        }
    }
    im.entries["blk.0.ffn_down_exps.weight"] = std::vector<float>(14336, 1.0f);  // one expert's worth
    expect_error([&] { plan_quantization(m.tensors, m.info(), preset("Q4_K_M"), &im); },
                 {"blk.0.ffn_down_exps.weight",
                  "imatrix size 14336 is different from tensor size 114688 for blk.0.ffn_down_exps.weight"});
    // Non-finite values are refused before anything else, dry run included.
    im.entries["blk.0.ffn_down_exps.weight"] = std::vector<float>(114688, 1.0f);
    im.entries["blk.0.ffn_down_exps.weight"][5] = std::numeric_limits<float>::infinity();
    QuantParams dry = preset("Q4_K_M");
    dry.dry_run = true;
    expect_error([&] { plan_quantization(m.tensors, m.info(), dry, &im); },
                 {"blk.0.ffn_down_exps.weight", "imatrix contains non-finite value inf"});
}

}  // namespace
}  // namespace kquant
