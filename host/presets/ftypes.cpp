// The preset table (llama_ftype names, numbers and default types) and the TYPE argument parser.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>

#include "kquant/error.h"
#include "kquant/presets.h"
#include "kquant/quantize.h"
#include "presets/detail.h"

namespace kquant {
namespace {

// llama-quantize's QUANT_OPTIONS (tools/quantize/quantize.cpp at 0c1e5709): names, ftype numbers and
// the notes its usage prints, reproduced as data. The order decides which name a number resolves to
// (15 -> "Q4_K").
// clang-format off
constexpr PresetInfo kPresets[] = {
    {"Q1_0",      FType::Q1_0,        Type::Q1_0,    false, "1.125 bpw quantization"},
    {"Q2_0",      FType::Q2_0,        Type::Q2_0,    false, "2.25 bpw quantization (group 64)"},
    {"Q4_0",      FType::Q4_0,        Type::Q4_0,    false, "4.34G, +0.4685 ppl @ Llama-3-8B"},
    {"Q4_1",      FType::Q4_1,        Type::Q4_1,    false, "4.78G, +0.4511 ppl @ Llama-3-8B"},
    {"MXFP4_MOE", FType::MXFP4_MOE,   Type::MXFP4,   false, "MXFP4 MoE"},
    {"Q5_0",      FType::Q5_0,        Type::Q5_0,    false, "5.21G, +0.1316 ppl @ Llama-3-8B"},
    {"Q5_1",      FType::Q5_1,        Type::Q5_1,    false, "5.65G, +0.1062 ppl @ Llama-3-8B"},
    {"IQ2_XXS",   FType::IQ2_XXS,     Type::IQ2_XXS, false, "2.06 bpw quantization"},
    {"IQ2_XS",    FType::IQ2_XS,      Type::IQ2_XS,  false, "2.31 bpw quantization"},
    {"IQ2_S",     FType::IQ2_S,       Type::IQ2_XS,  false, "2.5  bpw quantization"},
    {"IQ2_M",     FType::IQ2_M,       Type::IQ2_S,   false, "2.7  bpw quantization"},
    {"IQ1_S",     FType::IQ1_S,       Type::IQ1_S,   false, "1.56 bpw quantization"},
    {"IQ1_M",     FType::IQ1_M,       Type::IQ1_M,   false, "1.75 bpw quantization"},
    {"TQ1_0",     FType::TQ1_0,       Type::TQ1_0,   false, "1.69 bpw ternarization"},
    {"TQ2_0",     FType::TQ2_0,       Type::TQ2_0,   false, "2.06 bpw ternarization"},
    {"Q2_K",      FType::Q2_K,        Type::Q2_K,    false, "2.96G, +3.5199 ppl @ Llama-3-8B"},
    {"Q2_K_S",    FType::Q2_K_S,      Type::Q2_K,    false, "2.96G, +3.1836 ppl @ Llama-3-8B"},
    {"IQ3_XXS",   FType::IQ3_XXS,     Type::IQ3_XXS, false, "3.06 bpw quantization"},
    {"IQ3_S",     FType::IQ3_S,       Type::IQ3_S,   false, "3.44 bpw quantization"},
    {"IQ3_M",     FType::IQ3_M,       Type::IQ3_S,   false, "3.66 bpw quantization mix"},
    {"Q3_K",      FType::Q3_K_M,      Type::Q3_K,    false, "alias for Q3_K_M"},
    {"IQ3_XS",    FType::IQ3_XS,      Type::IQ3_S,   false, "3.3 bpw quantization"},
    {"Q3_K_S",    FType::Q3_K_S,      Type::Q3_K,    false, "3.41G, +1.6321 ppl @ Llama-3-8B"},
    {"Q3_K_M",    FType::Q3_K_M,      Type::Q3_K,    false, "3.74G, +0.6569 ppl @ Llama-3-8B"},
    {"Q3_K_L",    FType::Q3_K_L,      Type::Q3_K,    false, "4.03G, +0.5562 ppl @ Llama-3-8B"},
    {"IQ4_NL",    FType::IQ4_NL,      Type::IQ4_NL,  false, "4.50 bpw non-linear quantization"},
    {"IQ4_XS",    FType::IQ4_XS,      Type::IQ4_XS,  false, "4.25 bpw non-linear quantization"},
    {"Q4_K",      FType::Q4_K_M,      Type::Q4_K,    false, "alias for Q4_K_M"},
    {"Q4_K_S",    FType::Q4_K_S,      Type::Q4_K,    false, "4.37G, +0.2689 ppl @ Llama-3-8B"},
    {"Q4_K_M",    FType::Q4_K_M,      Type::Q4_K,    false, "4.58G, +0.1754 ppl @ Llama-3-8B"},
    {"Q5_K",      FType::Q5_K_M,      Type::Q5_K,    false, "alias for Q5_K_M"},
    {"Q5_K_S",    FType::Q5_K_S,      Type::Q5_K,    false, "5.21G, +0.1049 ppl @ Llama-3-8B"},
    {"Q5_K_M",    FType::Q5_K_M,      Type::Q5_K,    false, "5.33G, +0.0569 ppl @ Llama-3-8B"},
    {"Q6_K",      FType::Q6_K,        Type::Q6_K,    false, "6.14G, +0.0217 ppl @ Llama-3-8B"},
    {"Q8_0",      FType::Q8_0,        Type::Q8_0,    false, "7.96G, +0.0026 ppl @ Llama-3-8B"},
    {"F16",       FType::MOSTLY_F16,  Type::F16,     false, "14.00G, +0.0020 ppl @ Mistral-7B"},
    {"BF16",      FType::MOSTLY_BF16, Type::BF16,    false, "14.00G, -0.0050 ppl @ Mistral-7B"},
    {"F32",       FType::ALL_F32,     Type::F32,     false, "26.00G              @ 7B"},
    // After F32, so that 0 means F32.
    {"COPY",      FType::ALL_F32,     Type::F32,     true,  "only copy tensors, no quantizing"},
};
// clang-format on

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// std::stoi's reading: optional leading whitespace and sign, then at least one digit; the rest ignored.
std::optional<int> leading_int(std::string_view s) {
    size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    bool neg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
    int64_t v = 0;
    for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
        v = v * 10 + (s[i] - '0');
        if (v > static_cast<int64_t>(std::numeric_limits<int>::max()) + 1) return std::nullopt;  // out_of_range
    }
    if (neg) v = -v;
    if (v > std::numeric_limits<int>::max() || v < std::numeric_limits<int>::min()) return std::nullopt;
    return static_cast<int>(v);
}

}  // namespace

std::span<const PresetInfo> presets() { return kPresets; }

const PresetInfo* find_preset(std::string_view arg) {
    for (const PresetInfo& p : kPresets)
        if (iequals(p.name, arg)) return &p;
    const std::optional<int> n = leading_int(arg);
    if (!n || *n < 0) return nullptr;
    return preset_for_ftype(static_cast<uint32_t>(*n));
}

const PresetInfo* preset_for_ftype(uint32_t ftype) {
    for (const PresetInfo& p : kPresets)
        if (static_cast<uint32_t>(p.ftype) == ftype) return &p;
    return nullptr;
}

const PresetInfo& parse_preset(std::string_view arg) {
    if (const PresetInfo* p = find_preset(arg)) return *p;
    throw Error("invalid quantization type '" + std::string(arg) + "'; valid types: " + preset_names());
}

std::vector<Type> preset_target_types(const PresetInfo& p) {
    if (p.only_copy) return {};
    std::vector<Type> types = {p.default_type};
    if (is_block_quantized(p.default_type))
        for (Type t : detail::rule_types(p.ftype))
            if (std::find(types.begin(), types.end(), t) == types.end()) types.push_back(t);
    // The shape fallback of each (F16 when even the fallback does not fit a 32-element block).
    for (size_t i = 0; i < types.size(); ++i) {
        if (!is_block_quantized(types[i])) continue;
        const std::optional<Type> fb = fallback_type(types[i]);
        for (Type t : {fb.value_or(types[i]), Type::F16})
            if (std::find(types.begin(), types.end(), t) == types.end()) types.push_back(t);
    }
    return types;
}

bool preset_supported(const PresetInfo& p) {
    const std::vector<Type> types = preset_target_types(p);
    return std::all_of(types.begin(), types.end(), [](Type t) { return can_produce(t); });
}

void require_supported(const PresetInfo& p) {
    if (preset_supported(p)) return;
    std::string missing;
    for (Type t : preset_target_types(p))
        if (!can_produce(t)) missing += (missing.empty() ? "" : ", ") + std::string(type_info(t).name);
    throw Error("quantization type " + std::string(p.name) + " (default tensor type " +
                std::string(type_info(p.default_type).name) + ") is not supported by kquant-cuda: no quantizer for " +
                missing + " (--dry-run still shows its tensor types); supported: " + preset_names(true));
}

std::string preset_names(bool supported_only) {
    std::string s;
    for (const PresetInfo& p : kPresets) {
        if (supported_only && !preset_supported(p)) continue;
        if (!s.empty()) s += ", ";
        s += p.name;
    }
    return s;
}

std::string format_quant_options() {
    // llama-quantize's usage layout ("  %2d  or  %-7s : note"; COPY without a number), plus our mark.
    std::string out = "Quantization types (TYPE), as llama-quantize lists them; * = this build produces it:\n";
    char line[160];
    for (const PresetInfo& p : kPresets) {
        const char mark = preset_supported(p) ? '*' : ' ';
        if (p.only_copy)
            std::snprintf(line, sizeof line, "%c           %-9s : %s\n", mark, std::string(p.name).c_str(),
                          std::string(p.description).c_str());
        else
            std::snprintf(line, sizeof line, "%c  %2u  or  %-9s : %s\n", mark, static_cast<unsigned>(p.ftype),
                          std::string(p.name).c_str(), std::string(p.description).c_str());
        out += line;
    }
    return out;
}

}  // namespace kquant
