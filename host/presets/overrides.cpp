// --override-kv entries: parsing (llama.cpp's KEY=TYPE:VALUE) and the KV they become in the output.
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "kquant/error.h"
#include "kquant/presets.h"

namespace kquant {
namespace {

// llama.cpp keeps keys in a char[128] and str values in a char[128].
constexpr size_t kMaxKeyBytes = 127;
constexpr size_t kMaxStrBytes = 127;

[[noreturn]] void bad(std::string_view arg, const std::string& why) {
    throw Error("malformed KV override '" + std::string(arg) + "': " + why);
}

}  // namespace

KvOverride parse_kv_override(std::string_view arg) {
    const size_t eq = arg.find('=');
    if (eq == std::string_view::npos) bad(arg, "expected KEY=TYPE:VALUE");
    if (eq > kMaxKeyBytes) bad(arg, "the key must be shorter than 128 bytes");
    if (eq == 0) bad(arg, "empty key");
    KvOverride o;
    o.key = std::string(arg.substr(0, eq));
    const std::string_view rest = arg.substr(eq + 1);
    auto value_after = [&](std::string_view tag) -> std::optional<std::string> {
        if (rest.substr(0, tag.size()) != tag) return std::nullopt;
        return std::string(rest.substr(tag.size()));
    };
    if (auto v = value_after("int:")) {
        // llama.cpp reads the value with atol (junk ignored, 0 when there is none) and writes u32 of its
        // absolute value: what would be stored differently from what was typed is an error here.
        o.kind = KvOverride::Kind::Int;
        const char* text = v->c_str();
        char* end = nullptr;
        errno = 0;
        o.i = std::strtoll(text, &end, 10);
        const bool digits = end != text && std::isdigit(static_cast<unsigned char>(end[-1]));
        if (v->empty() || !digits || *end != '\0' || std::isspace(static_cast<unsigned char>(text[0])))
            bad(arg, printable(*v) + " is not an integer");
        const uint64_t mag = o.i < 0 ? 0 - static_cast<uint64_t>(o.i) : static_cast<uint64_t>(o.i);
        if (errno == ERANGE || mag > UINT32_MAX)
            bad(arg, *v + " is out of range: an int override is stored as u32 (its absolute value), at most " +
                         std::to_string(UINT32_MAX));
    } else if (auto v = value_after("float:")) {
        o.kind = KvOverride::Kind::Float;
        const char* text = v->c_str();
        char* end = nullptr;
        o.f = std::strtod(text, &end);
        if (v->empty() || end == text || *end != '\0' || std::isspace(static_cast<unsigned char>(text[0])))
            bad(arg, printable(*v) + " is not a number");
        if (std::isfinite(o.f) && !std::isfinite(static_cast<float>(o.f)))
            bad(arg, *v + " is out of the f32 range (a float override is stored as f32)");
    } else if (auto v = value_after("bool:")) {
        o.kind = KvOverride::Kind::Bool;
        if (*v == "true") o.b = true;
        else if (*v == "false") o.b = false;
        else bad(arg, "invalid boolean value '" + *v + "' (expected true or false)");
    } else if (auto v = value_after("str:")) {
        o.kind = KvOverride::Kind::Str;
        if (v->size() > kMaxStrBytes) bad(arg, "the value cannot exceed 127 bytes");
        o.s = *v;
    } else {
        bad(arg, "invalid type (expected int:, float:, bool: or str:)");
    }
    return o;
}

gguf::KV KvOverride::to_output_kv() const {
    gguf::Value v;
    switch (kind) {
        case Kind::Int: {
            // u32 of |value|, truncated: computed in unsigned arithmetic so INT64_MIN is defined too.
            const uint64_t mag = i < 0 ? 0 - static_cast<uint64_t>(i) : static_cast<uint64_t>(i);
            v.type = gguf::ValueType::U32;
            v.u = static_cast<uint32_t>(mag);
            break;
        }
        case Kind::Float:
            v.type = gguf::ValueType::F32;
            v.f = static_cast<double>(static_cast<float>(f));
            break;
        case Kind::Bool:
            v.type = gguf::ValueType::BOOL;
            v.u = b ? 1 : 0;
            break;
        case Kind::Str:
            v.type = gguf::ValueType::STRING;
            v.str = s;
            break;
    }
    return {key, v};
}

}  // namespace kquant
