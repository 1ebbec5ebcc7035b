// Metadata values and tensor-info arithmetic shared by the reader and the writer.
#include <limits>

#include "kquant/error.h"
#include "kquant/gguf.h"

namespace kquant::gguf {

Value Value::of_u16(uint16_t v) {
    Value r;
    r.type = ValueType::U16;
    r.u = v;
    return r;
}

Value Value::of_u32(uint32_t v) {
    Value r;
    r.type = ValueType::U32;
    r.u = v;
    return r;
}

Value Value::of_i32(int32_t v) {
    Value r;
    r.type = ValueType::I32;
    r.i = v;
    return r;
}

Value Value::of_f32(float v) {
    Value r;
    r.type = ValueType::F32;
    r.f = static_cast<double>(v);
    return r;
}

Value Value::of_bool(bool v) {
    Value r;
    r.type = ValueType::BOOL;
    r.u = v ? 1 : 0;
    return r;
}

Value Value::of_string(std::string v) {
    Value r;
    r.type = ValueType::STRING;
    r.str = std::move(v);
    return r;
}

Value Value::of_array(ValueType elem, std::vector<Value> v) {
    Value r;
    r.type = ValueType::ARRAY;
    r.elem_type = elem;
    r.arr = std::move(v);
    return r;
}

int64_t Value::as_int() const {
    switch (type) {
        case ValueType::U8:
        case ValueType::U16:
        case ValueType::U32:
        case ValueType::BOOL:
            return static_cast<int64_t>(u);
        case ValueType::U64:
            if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                throw Error("u64 value " + std::to_string(u) + " does not fit in int64");
            return static_cast<int64_t>(u);
        case ValueType::I8:
        case ValueType::I16:
        case ValueType::I32:
        case ValueType::I64:
            return i;
        default:
            throw Error("value of type " + value_type_name(type) + " is not an integer");
    }
}

std::string value_type_name(ValueType t) {
    switch (t) {
        case ValueType::U8: return "u8";
        case ValueType::I8: return "i8";
        case ValueType::U16: return "u16";
        case ValueType::I16: return "i16";
        case ValueType::U32: return "u32";
        case ValueType::I32: return "i32";
        case ValueType::F32: return "f32";
        case ValueType::BOOL: return "bool";
        case ValueType::STRING: return "string";
        case ValueType::ARRAY: return "array";
        case ValueType::U64: return "u64";
        case ValueType::I64: return "i64";
        case ValueType::F64: return "f64";
    }
    return "type " + std::to_string(static_cast<uint32_t>(t));
}

int64_t TensorInfo::nelements() const {
    int64_t n = 1;
    for (int64_t d : ne) n *= d;  // the reader and writer reject shapes whose product overflows
    return n;
}

int n_dims(const std::vector<int64_t>& ne) {
    int n = static_cast<int>(ne.size());
    while (n > 1 && ne[n - 1] == 1) --n;
    return n < 1 ? 1 : n;
}

std::vector<int64_t> written_shape(const std::vector<int64_t>& ne) {
    if (ne.empty()) return {1};
    return std::vector<int64_t>(ne.begin(), ne.begin() + n_dims(ne));  // n_dims <= ne.size() here
}

}  // namespace kquant::gguf
