// --override-kv entries: parsing (llama.cpp's KEY=TYPE:VALUE) and the KV they become in the output.
#include <cerrno>
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
        // atol: leading integer, the rest ignored, 0 when there is none (strtoll saturates instead of UB).
        o.kind = KvOverride::Kind::Int;
        errno = 0;
        o.i = std::strtoll(v->c_str(), nullptr, 10);
    } else if (auto v = value_after("float:")) {
        o.kind = KvOverride::Kind::Float;
        o.f = std::strtod(v->c_str(), nullptr);
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
