// Typed access to a Reader's metadata.
#include "kquant/error.h"
#include "kquant/gguf.h"

namespace kquant::gguf {

namespace {
[[noreturn]] void wrong_type(const Reader& r, const KV& kv, const std::string& want) {
    std::string found = value_type_name(kv.value.type);
    if (kv.value.type == ValueType::ARRAY) found += " of " + value_type_name(kv.value.elem_type);
    fail(r.path(), "", "key " + printable(kv.key) + " has type " + found + ", expected " + want);
}
}  // namespace

std::optional<std::string> Reader::get_string(std::string_view key) const {
    const KV* kv = find_kv(key);
    if (!kv) return std::nullopt;
    if (kv->value.type != ValueType::STRING) wrong_type(*this, *kv, "string");
    return kv->value.str;
}

std::optional<uint32_t> Reader::get_u32(std::string_view key) const {
    const KV* kv = find_kv(key);
    if (!kv) return std::nullopt;
    if (kv->value.type != ValueType::U32) wrong_type(*this, *kv, "u32");
    return static_cast<uint32_t>(kv->value.u);
}

std::optional<int64_t> Reader::get_int(std::string_view key) const {
    const KV* kv = find_kv(key);
    if (!kv) return std::nullopt;
    try {
        return kv->value.as_int();
    } catch (const Error&) {
        wrong_type(*this, *kv, "an integer that fits in int64");
    }
}

std::optional<float> Reader::get_f32(std::string_view key) const {
    const KV* kv = find_kv(key);
    if (!kv) return std::nullopt;
    if (kv->value.type != ValueType::F32) wrong_type(*this, *kv, "f32");
    return static_cast<float>(kv->value.f);
}

std::optional<bool> Reader::get_bool(std::string_view key) const {
    const KV* kv = find_kv(key);
    if (!kv) return std::nullopt;
    if (kv->value.type != ValueType::BOOL) wrong_type(*this, *kv, "bool");
    return kv->value.u != 0;
}

std::optional<std::vector<std::string>> Reader::get_string_array(std::string_view key) const {
    const KV* kv = find_kv(key);
    if (!kv) return std::nullopt;
    if (kv->value.type != ValueType::ARRAY || kv->value.elem_type != ValueType::STRING)
        wrong_type(*this, *kv, "array of string");
    std::vector<std::string> out;
    out.reserve(kv->value.arr.size());
    for (const Value& v : kv->value.arr) out.push_back(v.str);
    return out;
}

}  // namespace kquant::gguf
