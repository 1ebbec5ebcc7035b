// §4.4: llama-quantize's per-preset type rules (llama_tensor_get_type_impl, llama.cpp 0c1e5709), written
// as one table per preset. A rule list is tried in order and the first rule whose conditions all hold
// gives the type; no match keeps the type. Each rule says briefly why it is there.
#include <algorithm>
#include <array>
#include <span>

#include "kquant/error.h"
#include "presets/detail.h"

namespace kquant::detail {
namespace {

// Conditions a rule can require (a bit set; all must hold). "i" is the position the category counts
// with: the attn_v ordinal for attn_v-like tensors, the layer for FFN tensors.
enum : uint32_t {
    kAlways = 0,
    kGqa4 = 1u << 0,            // n_gqa >= 4
    kExperts4 = 1u << 1,        // n_expert >= 4
    kMoE8 = 1u << 2,            // n_expert == 8
    kNotMoE8 = 1u << 3,
    kFalcon = 1u << 4,
    kNotFalcon = 1u << 5,
    kImatrix = 1u << 6,
    kNoImatrix = 1u << 7,
    kFirst2 = 1u << 8,          // i < 2
    kFirst4 = 1u << 9,          // i < 4
    kMoreBits = 1u << 10,       // use_more_bits(i, n)
    kFirstEighth = 1u << 11,    // i < n/8
    kFirstSixteenth = 1u << 12, // i < n/16
    kMiddle = 1u << 13,         // n/8 <= i < 7n/8
};

struct Rule {
    uint32_t when;
    Type type;
};
using Rules = std::span<const Rule>;

struct PresetRules {
    FType ftype;
    Type output;                     // rule A, when the shape and architecture allow the preset's choice
    std::optional<Type> token_embd;  // rule C (untied token embedding)
    bool very_low_bit = false;       // rule D replaces E-L
    bool mxfp4_moe = false;          // rule B replaces C-L
    Rules attn_v{}, attn_k{}, attn_q{}, attn_output{}, ffn_down{}, ffn_gate_up{};
};

using T = Type;

// Why the rules are what they are (llama.cpp's reasons, in short): a few tensors decide much more of the
// quality than their share of the size. attn_v is small when several query heads share it (GQA) and in
// MoE models, where the experts dominate the size, so extra bits there cost little. ffn_down is the
// most sensitive FFN matrix, most of all in the first layers. use_more_bits spreads extra bits over the
// first and last eighth of the layers and every third layer between.

// attn_k, every preset outside D: in an 8-expert model the attention is a small part of the file, so
// 8-bit keys cost little (~128 MB for Mixtral-8x7B).
constexpr Rule kAttnKMoE[] = {{kMoE8, T::Q8_0}};
// attn_output, 8 experts, for the presets rule I lists: same reasoning, up to Q5_K.
constexpr Rule kAttnOutMoE[] = {{kNotFalcon | kMoE8, T::Q5_K}};

// Q4_0/Q5_0 with an imatrix: the first layers' ffn_down can still go badly wrong, and the _1 variant
// (with a min) guards against it. Only with an imatrix, so that a plain run stays as it always was and
// because the _1 types themselves misbehave on ffn_down without one.
constexpr Rule kQ4_0FfnDown[] = {{kImatrix | kFirstEighth, T::Q4_1}};
constexpr Rule kQ5_0FfnDown[] = {{kImatrix | kFirstEighth, T::Q5_1}};

// Q2_K: 2-bit attn_v and ffn_down lose too much; one or two steps up (two when GQA makes attn_v small).
constexpr Rule kQ2_KAttnV[] = {{kGqa4, T::Q4_K}, {kAlways, T::Q3_K}};
constexpr Rule kQ2_KFfnDown[] = {{kAlways, T::Q3_K}};
constexpr Rule kQ2_KAttnOut[] = {{kNotFalcon | kMoE8, T::Q5_K}, {kNotFalcon | kNotMoE8, T::Q3_K}};

// Q2_K_S: the smaller Q2_K mix; only GQA attn_v and the first eighth of ffn_down are lifted.
constexpr Rule kQ2_K_SAttnV[] = {{kGqa4, T::Q4_K}};
constexpr Rule kQ2_K_SFfnDown[] = {{kFirstEighth, T::Q4_K}};

// Q3_K_M: the first two attn_v and the first sixteenth of ffn_down get Q5_K, the rest Q4_K (Falcon keeps
// Q3_K outside use_more_bits layers: its ffn_down is wide).
constexpr Rule kQ3_K_MAttnV[] = {{kFirst2, T::Q5_K}, {kAlways, T::Q4_K}};
constexpr Rule kQ3_K_MFfnDown[] = {
    {kFirstSixteenth, T::Q5_K}, {kNotFalcon, T::Q4_K}, {kMoreBits, T::Q4_K}, {kAlways, T::Q3_K}};
constexpr Rule kQ3_K_MAttnOut[] = {{kNotFalcon | kMoE8, T::Q5_K}, {kNotFalcon | kNotMoE8, T::Q4_K}};

// Q3_K_L: the large 3-bit mix: Q5_K for every sensitive tensor (Q4_K for Falcon's). Its attn_output is
// not in rule I's 8-expert list, so it stays Q3_K there.
constexpr Rule kQ3_K_LAttnV[] = {{kAlways, T::Q5_K}};
constexpr Rule kQ3_K_LFfnDown[] = {{kFalcon, T::Q4_K}, {kAlways, T::Q5_K}};
constexpr Rule kQ3_K_LAttnOut[] = {{kNotFalcon | kNotMoE8, T::Q5_K}, {kFalcon, T::Q4_K}};

// Q4_K_S: the small 4-bit mix lifts only the first four attn_v and the first eighth of ffn_down.
constexpr Rule kQ4_K_SAttnV[] = {{kFirst4, T::Q5_K}};
constexpr Rule kQ4_K_SFfnDown[] = {{kNotFalcon | kFirstEighth, T::Q5_K}};

// Q4_K_M / Q5_K_M: Q6_K on the use_more_bits layers of attn_v and ffn_down (Falcon: a graded ffn_down).
constexpr Rule kQ4_K_MAttnV[] = {{kMoreBits, T::Q6_K}};
constexpr Rule kQ4_K_MFfnDown[] = {
    {kFalcon | kFirstSixteenth, T::Q6_K}, {kFalcon | kMoreBits, T::Q5_K}, {kFalcon, T::Q4_K}, {kMoreBits, T::Q6_K}};
constexpr Rule kQ5_K_MAttnV[] = {{kMoreBits, T::Q6_K}};
constexpr Rule kQ5_K_MFfnDown[] = {{kMoreBits, T::Q6_K}};

// IQ4_NL / IQ4_XS: Q5_K for a GQA attn_v; without an imatrix also for the first eighth of ffn_down
// (with one, the non-linear 4-bit grid holds up there by itself).
constexpr Rule kIQ4AttnV[] = {{kGqa4, T::Q5_K}};
constexpr Rule kIQ4FfnDown[] = {{kFirstEighth | kNoImatrix, T::Q5_K}};

// IQ3_XXS: attn_q/attn_k step down to IQ2_S to pay for the rest; attn_v and attn_output go up to
// IQ3_S (Q4_K with GQA). Without an imatrix its 3-bit grid is too coarse for ffn_down, which becomes a
// K-quant (Q4_K early, Q3_K after), and for attn_v (IQ3_S).
constexpr Rule kIQ3_XXSAttnV[] = {{kGqa4, T::Q4_K}, {kNoImatrix, T::IQ3_S}};
constexpr Rule kIQ3_XXSAttnK[] = {{kMoE8, T::Q8_0}, {kAlways, T::IQ2_S}};
constexpr Rule kIQ3_XXSAttnQ[] = {{kAlways, T::IQ2_S}};
constexpr Rule kIQ3_XXSFfnDown[] = {{kNoImatrix | kFirstEighth, T::Q4_K}, {kNoImatrix, T::Q3_K}};
constexpr Rule kIQ3_XXSAttnOut[] = {{kNotFalcon | kMoE8, T::Q5_K}, {kNotFalcon | kNotMoE8, T::IQ3_S}};

// IQ3_XS: IQ3_S with attn_q/attn_k and the middle three quarters of ffn_gate/ffn_up one grid smaller
// (IQ3_XXS): the first and last layers matter most, the bulk of the FFN least.
constexpr Rule kIQ3_XSAttnV[] = {{kGqa4, T::Q4_K}};
constexpr Rule kIQ3_XSAttnK[] = {{kMoE8, T::Q8_0}, {kAlways, T::IQ3_XXS}};
constexpr Rule kIQ3_XSAttnQ[] = {{kAlways, T::IQ3_XXS}};
constexpr Rule kIQ3_XSFfnGateUp[] = {{kMiddle, T::IQ3_XXS}};

// IQ3_S: only a GQA attn_v is lifted.
constexpr Rule kIQ3_SAttnV[] = {{kGqa4, T::Q4_K}};

// IQ3_M: the IQ3_S "mix": Q4_K for every attn_v, attn_output and the first eighth of ffn_down (in
// 8-expert models also the use_more_bits layers, the experts' ffn_down being most of the model).
constexpr Rule kIQ3_MAttnV[] = {{kAlways, T::Q4_K}};
constexpr Rule kIQ3_MFfnDown[] = {{kFirstEighth, T::Q4_K}, {kMoE8 | kMoreBits, T::Q4_K}};
constexpr Rule kIQ3_MAttnOut[] = {{kNotFalcon | kMoE8, T::Q5_K}, {kNotFalcon | kNotMoE8, T::Q4_K}};

// Rule D (IQ1/IQ2 presets): at 1.5-2.7 bits the model only survives if the few sensitive tensors keep
// far more bits. attn_v goes to Q4_K when it is small (GQA >= 4, or any model with 4+ experts where
// attention is a small share), else one grid up (IQ3_S for IQ2_S/IQ2_M, Q2_K otherwise); attn_k of an
// 8-expert model to Q4_K; the first eighth of ffn_down (counted with the running counter, even in MoE
// models) to that same grid; attn_output to Q5_K with 8 experts, else one grid up for IQ1 (IQ2_XXS) and
// IQ2_S/IQ2_M (IQ3_S).
constexpr Rule kVLAttnVQ2K[] = {{kGqa4, T::Q4_K}, {kExperts4, T::Q4_K}, {kAlways, T::Q2_K}};
constexpr Rule kVLAttnVIQ3S[] = {{kGqa4, T::Q4_K}, {kExperts4, T::Q4_K}, {kAlways, T::IQ3_S}};
constexpr Rule kVLAttnK[] = {{kMoE8, T::Q4_K}};
constexpr Rule kVLFfnDownQ2K[] = {{kFirstEighth, T::Q2_K}};
constexpr Rule kVLFfnDownIQ3S[] = {{kFirstEighth, T::IQ3_S}};
constexpr Rule kVLAttnOutMoE[] = {{kMoE8, T::Q5_K}};
constexpr Rule kVLAttnOutIQ2XXS[] = {{kMoE8, T::Q5_K}, {kAlways, T::IQ2_XXS}};
constexpr Rule kVLAttnOutIQ3S[] = {{kMoE8, T::Q5_K}, {kAlways, T::IQ3_S}};

PresetRules plain(FType f, Type output) {
    PresetRules r{f, output, std::nullopt};
    r.attn_k = kAttnKMoE;
    return r;
}

PresetRules very_low_bit(FType f, Type token_embd, Rules attn_v, Rules ffn_down, Rules attn_output) {
    PresetRules r{f, T::Q5_K, token_embd};
    r.very_low_bit = true;
    r.attn_v = attn_v;
    r.attn_k = kVLAttnK;
    r.ffn_down = ffn_down;
    r.attn_output = attn_output;
    return r;
}

const std::vector<PresetRules>& preset_rules() {
    static const std::vector<PresetRules> table = [] {
        std::vector<PresetRules> v;
        // 32-element legacy types (and Q1_0/Q2_0): a Q6_K output, since the output projection decides
        // every logit; with an imatrix, Q4_1/Q5_1 for the early ffn_down of Q4_0/Q5_0.
        auto q4_0 = plain(FType::Q4_0, T::Q6_K);
        q4_0.ffn_down = kQ4_0FfnDown;
        v.push_back(q4_0);
        v.push_back(plain(FType::Q4_1, T::Q6_K));
        auto q5_0 = plain(FType::Q5_0, T::Q6_K);
        q5_0.ffn_down = kQ5_0FfnDown;
        v.push_back(q5_0);
        v.push_back(plain(FType::Q5_1, T::Q6_K));
        v.push_back(plain(FType::Q8_0, T::Q8_0));
        v.push_back(plain(FType::Q1_0, T::Q6_K));
        auto q2_0 = plain(FType::Q2_0, T::Q6_K);
        q2_0.token_embd = T::Q4_K;
        v.push_back(q2_0);

        // K-quants
        auto q2_k = plain(FType::Q2_K, T::Q6_K);
        q2_k.attn_v = kQ2_KAttnV;
        q2_k.ffn_down = kQ2_KFfnDown;
        q2_k.attn_output = kQ2_KAttnOut;
        v.push_back(q2_k);
        auto q2_k_s = plain(FType::Q2_K_S, T::Q6_K);
        q2_k_s.attn_v = kQ2_K_SAttnV;
        q2_k_s.ffn_down = kQ2_K_SFfnDown;
        v.push_back(q2_k_s);
        auto q3_k_s = plain(FType::Q3_K_S, T::Q6_K);
        q3_k_s.attn_output = kAttnOutMoE;
        v.push_back(q3_k_s);
        auto q3_k_m = plain(FType::Q3_K_M, T::Q6_K);
        q3_k_m.attn_v = kQ3_K_MAttnV;
        q3_k_m.ffn_down = kQ3_K_MFfnDown;
        q3_k_m.attn_output = kQ3_K_MAttnOut;
        v.push_back(q3_k_m);
        auto q3_k_l = plain(FType::Q3_K_L, T::Q6_K);
        q3_k_l.attn_v = kQ3_K_LAttnV;
        q3_k_l.ffn_down = kQ3_K_LFfnDown;
        q3_k_l.attn_output = kQ3_K_LAttnOut;
        v.push_back(q3_k_l);
        auto q4_k_s = plain(FType::Q4_K_S, T::Q6_K);
        q4_k_s.attn_v = kQ4_K_SAttnV;
        q4_k_s.ffn_down = kQ4_K_SFfnDown;
        q4_k_s.attn_output = kAttnOutMoE;
        v.push_back(q4_k_s);
        auto q4_k_m = plain(FType::Q4_K_M, T::Q6_K);
        q4_k_m.attn_v = kQ4_K_MAttnV;
        q4_k_m.ffn_down = kQ4_K_MFfnDown;
        q4_k_m.attn_output = kAttnOutMoE;
        v.push_back(q4_k_m);
        v.push_back(plain(FType::Q5_K_S, T::Q6_K));
        auto q5_k_m = plain(FType::Q5_K_M, T::Q6_K);
        q5_k_m.attn_v = kQ5_K_MAttnV;
        q5_k_m.ffn_down = kQ5_K_MFfnDown;
        v.push_back(q5_k_m);
        v.push_back(plain(FType::Q6_K, T::Q6_K));

        // Non-linear 4-bit
        for (FType f : {FType::IQ4_NL, FType::IQ4_XS}) {
            auto r = plain(f, T::Q6_K);
            r.attn_v = kIQ4AttnV;
            r.ffn_down = kIQ4FfnDown;
            r.attn_output = kAttnOutMoE;
            v.push_back(r);
        }

        // IQ3 family (IQ3_XXS's output is Q5_K like rule D's: it is the smallest of them)
        auto iq3_xxs = plain(FType::IQ3_XXS, T::Q5_K);
        iq3_xxs.token_embd = T::IQ3_S;
        iq3_xxs.attn_v = kIQ3_XXSAttnV;
        iq3_xxs.attn_k = kIQ3_XXSAttnK;
        iq3_xxs.attn_q = kIQ3_XXSAttnQ;
        iq3_xxs.ffn_down = kIQ3_XXSFfnDown;
        iq3_xxs.attn_output = kIQ3_XXSAttnOut;
        v.push_back(iq3_xxs);
        auto iq3_xs = plain(FType::IQ3_XS, T::Q6_K);
        iq3_xs.attn_v = kIQ3_XSAttnV;
        iq3_xs.attn_k = kIQ3_XSAttnK;
        iq3_xs.attn_q = kIQ3_XSAttnQ;
        iq3_xs.ffn_gate_up = kIQ3_XSFfnGateUp;
        iq3_xs.attn_output = kAttnOutMoE;
        v.push_back(iq3_xs);
        auto iq3_s = plain(FType::IQ3_S, T::Q6_K);
        iq3_s.attn_v = kIQ3_SAttnV;
        iq3_s.attn_output = kAttnOutMoE;
        v.push_back(iq3_s);
        auto iq3_m = plain(FType::IQ3_M, T::Q6_K);
        iq3_m.attn_v = kIQ3_MAttnV;
        iq3_m.ffn_down = kIQ3_MFfnDown;
        iq3_m.attn_output = kIQ3_MAttnOut;
        v.push_back(iq3_m);

        // Very low bit (rule D). Output Q5_K (not Q6_K): at this size every byte counts. The token
        // embedding is only looked up, never multiplied, so it is cheap to keep at Q2_K/IQ3_S rather
        // than the 1-2 bit grids (which also need an imatrix, and llama-quantize exempts it from that).
        v.push_back(very_low_bit(FType::IQ2_XXS, T::Q2_K, kVLAttnVQ2K, kVLFfnDownQ2K, kVLAttnOutMoE));
        v.push_back(very_low_bit(FType::IQ2_XS, T::Q2_K, kVLAttnVQ2K, kVLFfnDownQ2K, kVLAttnOutMoE));
        v.push_back(very_low_bit(FType::IQ1_S, T::Q2_K, kVLAttnVQ2K, kVLFfnDownQ2K, kVLAttnOutIQ2XXS));
        v.push_back(very_low_bit(FType::IQ1_M, T::Q2_K, kVLAttnVQ2K, kVLFfnDownQ2K, kVLAttnOutIQ2XXS));
        v.push_back(very_low_bit(FType::IQ2_S, T::IQ3_S, kVLAttnVIQ3S, kVLFfnDownIQ3S, kVLAttnOutIQ3S));
        v.push_back(very_low_bit(FType::IQ2_M, T::IQ3_S, kVLAttnVIQ3S, kVLFfnDownIQ3S, kVLAttnOutIQ3S));

        // Ternary (and Q2_0 above): these formats suit weights trained to few levels, not the embedding
        // table, which gets Q4_K; everything else keeps the default type.
        for (FType f : {FType::TQ1_0, FType::TQ2_0}) {
            auto r = plain(f, T::Q6_K);
            r.token_embd = T::Q4_K;
            v.push_back(r);
        }

        // MXFP4 for merged experts, Q8_0 for everything else (rule B): MXFP4 is the format MoE models
        // such as gpt-oss ship their experts in, and the experts are nearly all of the size.
        PresetRules mx{FType::MXFP4_MOE, T::Q8_0, std::nullopt};
        mx.mxfp4_moe = true;
        v.push_back(mx);
        return v;
    }();
    return table;
}

const PresetRules* rules_for(FType f) {
    for (const PresetRules& r : preset_rules())
        if (r.ftype == f) return &r;
    return nullptr;
}

Type pick(Rules rules, uint32_t holds, Type t) {
    for (const Rule& r : rules)
        if ((r.when & ~holds) == 0) return r.type;
    return t;
}

uint32_t model_conditions(const ModelInfo& m, bool has_imatrix) {
    uint32_t c = 0;
    if (m.n_gqa() >= 4) c |= kGqa4;
    if (m.n_expert >= 4) c |= kExperts4;
    c |= m.n_expert == 8 ? kMoE8 : kNotMoE8;
    c |= m.arch == "falcon" ? kFalcon : kNotFalcon;
    c |= has_imatrix ? kImatrix : kNoImatrix;
    return c;
}

uint32_t position_conditions(int i, int n) {
    uint32_t c = 0;
    if (i < 2) c |= kFirst2;
    if (i < 4) c |= kFirst4;
    if (use_more_bits(i, n)) c |= kMoreBits;
    if (i < n / 8) c |= kFirstEighth;
    if (i < n / 16) c |= kFirstSixteenth;
    if (i >= n / 8 && i < 7 * n / 8) c |= kMiddle;
    return c;
}

// The (layer, count) an FFN rule uses: the running counter for dense models; for MoE models the layer
// in the name, because expert tensors need not come one per layer in order.
int ffn_layer(int counter, int n, const ModelInfo& m, std::string_view name, const std::string& file) {
    if (std::max<uint32_t>(1, m.n_expert) <= 1) return counter;
    const std::optional<int> layer = parse_block_prefix(name);
    if (!layer) fail(file, std::string(name), "Failed to determine layer for tensor " + std::string(name));
    if (*layer < 0 || *layer >= n)
        fail(file, std::string(name),
             "Bad layer " + std::to_string(*layer) + " for tensor " + std::string(name) + ". Must be in [0, " +
                 std::to_string(n) + ")");
    return *layer;
}

bool is_attn_v_like(TensorCategory c) {
    return c == TensorCategory::AttentionV || c == TensorCategory::AttentionQkv || c == TensorCategory::AttentionKvB;
}

bool is_ffn(TensorCategory c) {
    return c == TensorCategory::FfnUp || c == TensorCategory::FfnGate || c == TensorCategory::FfnDown;
}

}  // namespace

std::vector<Type> rule_types(FType ftype) {
    const PresetRules* r = rules_for(ftype);
    if (!r) return {};
    std::vector<Type> out;
    auto add = [&](Type t) {
        if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
    };
    add(r->output);
    add(Type::Q8_0);  // rule A's shape/Falcon choice, rule E's 8-expert attn_v, F's attn_k
    if (r->token_embd) add(*r->token_embd);
    if (r->mxfp4_moe) add(Type::MXFP4);
    for (Rules rules : {r->attn_v, r->attn_k, r->attn_q, r->attn_output, r->ffn_down, r->ffn_gate_up})
        for (const Rule& rule : rules) add(rule.type);
    // Rule E's 70B attn_v bump (only from Q3_K/Q4_K, so over-inclusive for some presets; harmless here).
    if (!r->very_low_bit && !r->mxfp4_moe) add(Type::Q5_K);
    return out;
}

Type apply_preset_rules(SelectionState& s, const ModelInfo& model, FType ftype, Type t, std::string_view name,
                        const std::vector<int64_t>& ne, TensorCategory cat, const std::optional<Type>& output_type,
                        const std::string& file) {
    const PresetRules* r = rules_for(ftype);
    if (!r) return t;  // F32/F16/BF16 never reach here; NVFP4 has no CLI name
    const int64_t ne0 = ne.empty() ? 1 : ne[0];

    // glm5-next: its query low-rank pair and its next-token (MTP) projection never go below 8 bits.
    if (model.arch == "glm5-next" && (name.find("attn_q_a") != std::string_view::npos ||
                                      name.find("attn_q_b") != std::string_view::npos ||
                                      name.find("nextn.eh_proj") != std::string_view::npos))
        return Type::Q8_0;

    // A: the output tensor, and the token embedding when it doubles as the output. It decides every
    // logit, so it gets the preset's output type; Q8_0 when the default type's block does not divide
    // the row (a smaller-block type would only be a fallback), for Falcon (whose output is sensitive),
    // and for MXFP4_MOE (which keeps everything but the experts at 8 bits).
    if (cat == TensorCategory::Output || (s.tied_embeddings && cat == TensorCategory::TokenEmbd)) {
        if (output_type) return *output_type;
        if (r->mxfp4_moe || model.arch == "falcon" || ne0 % type_info(t).block_elems != 0) return Type::Q8_0;
        return r->output;
    }
    // B: merged experts to MXFP4 (for bailingmoe3 only the FFN ones), everything else to Q8_0.
    if (r->mxfp4_moe) {
        const bool experts = ne.size() > 2 && ne[2] > 1;
        return experts && (model.arch != "bailingmoe3" || is_ffn(cat)) ? Type::MXFP4 : Type::Q8_0;
    }
    // C
    if (cat == TensorCategory::TokenEmbd) return r->token_embd.value_or(t);

    const uint32_t mc = model_conditions(model, s.has_imatrix);
    const bool attn_v = is_attn_v_like(cat);

    // D: no 70B or 8-expert adjustments, gate/up counters stay put, ffn_down uses the counter.
    if (r->very_low_bit) {
        if (attn_v) {
            t = pick(r->attn_v, mc, t);
            ++s.i_attention_wv;
        } else if (cat == TensorCategory::AttentionK) {
            t = pick(r->attn_k, mc, t);
        } else if (cat == TensorCategory::FfnDown) {
            t = pick(r->ffn_down, mc | position_conditions(s.i_ffn_down, s.n_ffn), t);
            ++s.i_ffn_down;
        } else if (cat == TensorCategory::AttentionOutput) {
            t = pick(r->attn_output, mc, t);
        }
        return t;
    }

    // E
    if (attn_v) {
        t = pick(r->attn_v, mc | position_conditions(s.i_attention_wv, s.n_attention_wv), t);
        // 70B: 8 query heads share each attn_v head, so attn_v is 8x smaller than attn_q and Q5_K costs
        // next to nothing. 8 experts: the same argument, up to Q8_0 (whatever the preset).
        if (model.size_class_70b && (t == Type::Q3_K || t == Type::Q4_K)) t = Type::Q5_K;
        if (model.n_expert == 8) t = Type::Q8_0;
        ++s.i_attention_wv;
        return t;
    }
    switch (cat) {
        case TensorCategory::AttentionK: return pick(r->attn_k, mc, t);       // F
        case TensorCategory::AttentionQ: return pick(r->attn_q, mc, t);       // G
        case TensorCategory::AttentionOutput: return pick(r->attn_output, mc, t);  // I
        case TensorCategory::FfnDown: {                                       // H
            const int i = ffn_layer(s.i_ffn_down, s.n_ffn, model, name, file);
            t = pick(r->ffn_down, mc | position_conditions(i, s.n_ffn), t);
            ++s.i_ffn_down;
            return t;
        }
        case TensorCategory::FfnGate: {                                       // K
            const int i = ffn_layer(s.i_ffn_gate, s.n_ffn, model, name, file);
            t = pick(r->ffn_gate_up, mc | position_conditions(i, s.n_ffn), t);
            ++s.i_ffn_gate;
            return t;
        }
        case TensorCategory::FfnUp: {                                         // L
            const int i = ffn_layer(s.i_ffn_up, s.n_ffn, model, name, file);
            t = pick(r->ffn_gate_up, mc | position_conditions(i, s.n_ffn), t);
            ++s.i_ffn_up;
            return t;
        }
        default: return t;  // OTHER (and J, which E always takes first)
    }
}

}  // namespace kquant::detail
