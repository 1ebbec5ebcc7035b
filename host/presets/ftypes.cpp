// The preset table (llama_ftype names, numbers and default types) and the TYPE argument parser.
#include <cctype>
#include <limits>

#include "kquant/error.h"
#include "kquant/presets.h"
#include "kquant/quantize.h"

namespace kquant {
namespace {

// llama-quantize's listing order: it decides which name a number resolves to (15 -> "Q4_K").
// clang-format off
constexpr PresetInfo kPresets[] = {
    {"Q1_0",      FType::Q1_0,        Type::Q1_0,    false},
    {"Q2_0",      FType::Q2_0,        Type::Q2_0,    false},
    {"Q4_0",      FType::Q4_0,        Type::Q4_0,    false},
    {"Q4_1",      FType::Q4_1,        Type::Q4_1,    false},
    {"MXFP4_MOE", FType::MXFP4_MOE,   Type::MXFP4,   false},
    {"Q5_0",      FType::Q5_0,        Type::Q5_0,    false},
    {"Q5_1",      FType::Q5_1,        Type::Q5_1,    false},
    {"IQ2_XXS",   FType::IQ2_XXS,     Type::IQ2_XXS, false},
    {"IQ2_XS",    FType::IQ2_XS,      Type::IQ2_XS,  false},
    {"IQ2_S",     FType::IQ2_S,       Type::IQ2_XS,  false},
    {"IQ2_M",     FType::IQ2_M,       Type::IQ2_S,   false},
    {"IQ1_S",     FType::IQ1_S,       Type::IQ1_S,   false},
    {"IQ1_M",     FType::IQ1_M,       Type::IQ1_M,   false},
    {"TQ1_0",     FType::TQ1_0,       Type::TQ1_0,   false},
    {"TQ2_0",     FType::TQ2_0,       Type::TQ2_0,   false},
    {"Q2_K",      FType::Q2_K,        Type::Q2_K,    false},
    {"Q2_K_S",    FType::Q2_K_S,      Type::Q2_K,    false},
    {"IQ3_XXS",   FType::IQ3_XXS,     Type::IQ3_XXS, false},
    {"IQ3_S",     FType::IQ3_S,       Type::IQ3_S,   false},
    {"IQ3_M",     FType::IQ3_M,       Type::IQ3_S,   false},
    {"Q3_K",      FType::Q3_K_M,      Type::Q3_K,    false},  // alias of Q3_K_M
    {"IQ3_XS",    FType::IQ3_XS,      Type::IQ3_S,   false},
    {"Q3_K_S",    FType::Q3_K_S,      Type::Q3_K,    false},
    {"Q3_K_M",    FType::Q3_K_M,      Type::Q3_K,    false},
    {"Q3_K_L",    FType::Q3_K_L,      Type::Q3_K,    false},
    {"IQ4_NL",    FType::IQ4_NL,      Type::IQ4_NL,  false},
    {"IQ4_XS",    FType::IQ4_XS,      Type::IQ4_XS,  false},
    {"Q4_K",      FType::Q4_K_M,      Type::Q4_K,    false},  // alias of Q4_K_M
    {"Q4_K_S",    FType::Q4_K_S,      Type::Q4_K,    false},
    {"Q4_K_M",    FType::Q4_K_M,      Type::Q4_K,    false},
    {"Q5_K",      FType::Q5_K_M,      Type::Q5_K,    false},  // alias of Q5_K_M
    {"Q5_K_S",    FType::Q5_K_S,      Type::Q5_K,    false},
    {"Q5_K_M",    FType::Q5_K_M,      Type::Q5_K,    false},
    {"Q6_K",      FType::Q6_K,        Type::Q6_K,    false},
    {"Q8_0",      FType::Q8_0,        Type::Q8_0,    false},
    {"F16",       FType::MOSTLY_F16,  Type::F16,     false},
    {"BF16",      FType::MOSTLY_BF16, Type::BF16,    false},
    {"F32",       FType::ALL_F32,     Type::F32,     false},
    {"COPY",      FType::ALL_F32,     Type::F32,     true},   // after F32, so that 0 means F32
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

// Float targets are conversions; a quantized one needs a codec.
bool preset_supported(const PresetInfo& p) {
    return p.only_copy || !is_block_quantized(p.default_type) || scalar_codec(p.default_type) != nullptr;
}

void require_supported(const PresetInfo& p) {
    if (preset_supported(p)) return;
    throw Error("quantization type " + std::string(p.name) + " (default tensor type " +
                std::string(type_info(p.default_type).name) + ") is not supported by kquant-cuda; supported: " +
                preset_names(true));
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

}  // namespace kquant
