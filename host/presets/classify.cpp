// Name-based facts about tensors: category, eligibility for quantization, layer number, output order,
// the shape fallback table and the imatrix requirement.
#include <algorithm>
#include <cctype>
#include <climits>

#include "kquant/presets.h"
#include "presets/detail.h"

namespace kquant {
namespace {

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// §4.2: the first matching substring decides (exact names first).
struct CategoryPattern {
    std::string_view substring;
    TensorCategory category;
};
constexpr CategoryPattern kCategoryPatterns[] = {
    {"attn_qkv.weight", TensorCategory::AttentionQkv},
    {"attn_kv_b.weight", TensorCategory::AttentionKvB},
    {"attn_v.weight", TensorCategory::AttentionV},
    {"attn_k.weight", TensorCategory::AttentionK},
    {"attn_q.weight", TensorCategory::AttentionQ},
    {"attn_output.weight", TensorCategory::AttentionOutput},
    {"ffn_up", TensorCategory::FfnUp},
    {"ffn_gate", TensorCategory::FfnGate},
    {"ffn_down", TensorCategory::FfnDown},
};

// §3 item 6: substrings of tensors that are never quantized (small, or not matrices).
constexpr std::string_view kNeverQuantized[] = {
    "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
    "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
    "indexer.q_proj.weight", "attn_rel_b.weight",
    "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
    "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
    "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
    "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
    ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger",
    "a.rvq.codebook", "mm.a.code_embd",
};
// §3 item 7: exact names (position embeddings, token types).
constexpr std::string_view kNeverQuantizedExact[] = {"position_embd.weight", "token_types.weight"};

// glm5-next keeps these as they are: its hyper-connection, indexer, compressor and small SSM-gate
// weights, and the MLA pieces that stay in full precision there.
constexpr std::string_view kNeverQuantizedGlm5Next[] = {
    "hc_", "indexer.attn_q_b", "indexer.attn_k", "indexer.proj", "indexer_compressor_gate",
    "indexer_compressor_ape", "ssm_f_a.weight", "ssm_f_b.weight", "ssm_g_a.weight", "ssm_g_b.weight",
    "ssm_beta.weight", "attn_kv_a_mqa.weight", "attn_k_b.weight", "attn_v_b.weight",
};

// §4.7: each 256-element type goes to the 32-element type of about the same bits per weight (IQ types
// to IQ4_NL, the 2/3-bit and ternary ones to Q4_0); Q2_0 (64 elements) to Q4_0 as well.
struct Fallback {
    Type from, to;
};
constexpr Fallback kFallbacks[] = {
    {Type::IQ1_S, Type::IQ4_NL},   {Type::IQ1_M, Type::IQ4_NL},  {Type::IQ2_XXS, Type::IQ4_NL},
    {Type::IQ2_XS, Type::IQ4_NL},  {Type::IQ2_S, Type::IQ4_NL},  {Type::IQ3_XXS, Type::IQ4_NL},
    {Type::IQ3_S, Type::IQ4_NL},   {Type::IQ4_XS, Type::IQ4_NL}, {Type::Q2_0, Type::Q4_0},
    {Type::Q2_K, Type::Q4_0},      {Type::Q3_K, Type::Q4_0},     {Type::TQ1_0, Type::Q4_0},
    {Type::TQ2_0, Type::Q4_0},     {Type::Q4_K, Type::Q5_0},     {Type::Q5_K, Type::Q5_1},
    {Type::Q6_K, Type::Q8_0},
};

// Types that need an importance matrix whatever the preset (§6.3).
constexpr Type kImatrixTypes[] = {Type::IQ3_XXS, Type::IQ2_XXS, Type::IQ2_XS, Type::IQ2_S, Type::IQ1_M, Type::IQ1_S};

}  // namespace

TensorCategory tensor_category(std::string_view name) {
    if (name == "output.weight") return TensorCategory::Output;
    if (detail::is_token_embd_name(name)) return TensorCategory::TokenEmbd;
    for (const CategoryPattern& p : kCategoryPatterns)
        if (contains(name, p.substring)) return p.category;
    return TensorCategory::Other;
}

std::string_view category_name(TensorCategory c) {
    switch (c) {
        case TensorCategory::TokenEmbd: return "token_embd";
        case TensorCategory::AttentionQ: return "attn_q";
        case TensorCategory::AttentionV: return "attn_v";
        case TensorCategory::AttentionK: return "attn_k";
        case TensorCategory::AttentionQkv: return "attn_qkv";
        case TensorCategory::AttentionKvB: return "attn_kv_b";
        case TensorCategory::AttentionOutput: return "attn_output";
        case TensorCategory::FfnUp: return "ffn_up";
        case TensorCategory::FfnGate: return "ffn_gate";
        case TensorCategory::FfnDown: return "ffn_down";
        case TensorCategory::Output: return "output";
        case TensorCategory::Other: return "other";
    }
    return "other";
}

bool tensor_allows_quantization(std::string_view name, const std::vector<int64_t>& ne, const QuantParams& p,
                                std::string_view arch) {
    if (p.only_copy) return false;
    if (gguf::n_dims(ne) < 2) return false;
    // llama-quantize tests `rfind("weight") == size - 6`; for a name shorter than 6 both sides wrap to
    // npos only when the name has exactly 5 bytes, which it therefore accepts. Kept for identical output.
    if (name.size() != 5 && (name.size() < 6 || name.substr(name.size() - 6) != "weight")) return false;
    if (p.leave_output_tensor && name == "output.weight") return false;
    for (std::string_view s : kNeverQuantized)
        if (contains(name, s)) return false;
    for (std::string_view s : kNeverQuantizedExact)
        if (name == s) return false;
    if (arch == "glm5-next")
        for (std::string_view s : kNeverQuantizedGlm5Next)
            if (contains(name, s)) return false;
    return true;
}

bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

namespace detail {

std::optional<int> parse_block_prefix(std::string_view name) {
    // sscanf("blk.%d."): the literal prefix, then %d (leading white space, a sign, digits). What
    // follows the number is not checked: sscanf has already counted the conversion.
    constexpr std::string_view prefix = "blk.";
    if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
    size_t i = prefix.size();
    while (i < name.size() && std::isspace(static_cast<unsigned char>(name[i]))) ++i;
    bool neg = false;
    if (i < name.size() && (name[i] == '+' || name[i] == '-')) neg = name[i++] == '-';
    if (i >= name.size() || !std::isdigit(static_cast<unsigned char>(name[i]))) return std::nullopt;
    int64_t v = 0;
    for (; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])); ++i)
        v = std::min<int64_t>(v * 10 + (name[i] - '0'), int64_t{INT_MAX} + 1);
    v = neg ? -v : v;
    return static_cast<int>(std::clamp<int64_t>(v, INT_MIN, INT_MAX));
}

bool is_token_embd_name(std::string_view name) {
    return name == "token_embd.weight" || name == "per_layer_token_embd.weight";
}

}  // namespace detail

int block_index(std::string_view name) { return detail::parse_block_prefix(name).value_or(-1); }

bool tensor_order_less(std::string_view a, std::string_view b) {
    const int la = block_index(a), lb = block_index(b);
    if (la != lb) return la < lb;
    return a < b;  // byte-wise, like std::string's operator<
}

std::optional<Type> fallback_type(Type t) {
    for (const Fallback& f : kFallbacks)
        if (f.from == t) return f.to;
    if (type_info(t).block_elems <= 32) return t;  // no smaller block to demote to
    return std::nullopt;
}

bool requires_imatrix(std::string_view name, Type target, FType ftype) {
    if (detail::is_token_embd_name(name) || name == "output.weight") return false;
    if (std::find(std::begin(kImatrixTypes), std::end(kImatrixTypes), target) != std::end(kImatrixTypes))
        return true;
    return target == Type::Q2_K && ftype == FType::Q2_K_S;
}

}  // namespace kquant
