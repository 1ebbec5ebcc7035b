#include "report/detail.h"

#include <charconv>

#include "kquant/quantize.h"

namespace kquant::report::detail {

std::string type_name(Type t) { return std::string(type_info(t).name); }

std::string shape_str(const std::vector<int64_t>& ne) {
    std::string s = "[";
    for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

bool same_shape(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
    const size_t n = std::max(a.size(), b.size());
    for (size_t i = 0; i < n; ++i)
        if ((i < a.size() ? a[i] : 1) != (i < b.size() ? b[i] : 1)) return false;
    return true;
}

std::string value_text(const gguf::Value& v) {
    using gguf::ValueType;
    const std::string tn = gguf::value_type_name(v.type);
    switch (v.type) {
        case ValueType::U8: case ValueType::U16: case ValueType::U32: case ValueType::U64:
            return tn + " " + std::to_string(v.u);
        case ValueType::I8: case ValueType::I16: case ValueType::I32: case ValueType::I64:
            return tn + " " + std::to_string(v.i);
        case ValueType::BOOL: return tn + (v.u ? " true" : " false");
        case ValueType::F32: {
            char buf[32];
            const auto res = std::to_chars(buf, buf + sizeof buf, static_cast<float>(v.f));
            return tn + " " + std::string(buf, res.ptr);
        }
        case ValueType::F64: {
            char buf[32];
            const auto res = std::to_chars(buf, buf + sizeof buf, v.f);
            return tn + " " + std::string(buf, res.ptr);
        }
        case ValueType::STRING: {
            constexpr size_t kMax = 80;
            if (v.str.size() <= kMax) return tn + " \"" + v.str + "\"";
            return tn + " \"" + v.str.substr(0, kMax) + "...\" (" + std::to_string(v.str.size()) + " bytes)";
        }
        case ValueType::ARRAY:
            return "array<" + gguf::value_type_name(v.elem_type) + ">[" + std::to_string(v.arr.size()) + "]";
    }
    return tn;
}

namespace {
bool is_float(Type t) { return t == Type::F32 || t == Type::F16 || t == Type::BF16; }
}  // namespace

bool readable(Type t) {
    if (is_float(t)) return true;
    const RowCodec* c = scalar_codec(t);
    return c && c->dequantize_row;
}

}  // namespace kquant::report::detail
