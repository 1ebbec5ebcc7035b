// Encoding of the GGUF header, KVs and tensor infos (the writer's metadata block).
#include <cstring>

#include "gguf/detail.h"
#include "kquant/error.h"
#include "kquant/gguf.h"

namespace kquant::gguf {

namespace {

class Encoder {
public:
    std::vector<uint8_t> out;

    template <class T>
    void put(T v) {
        const size_t at = out.size();
        out.resize(at + sizeof(T));
        std::memcpy(out.data() + at, &v, sizeof(T));
    }
    void put_string(std::string_view s) {
        put<uint64_t>(s.size());
        out.insert(out.end(), s.begin(), s.end());
    }

    // The value's payload, without its type tag (which precedes it only at the top level).
    void put_value(const Value& v, const std::string& key, int depth) {
        switch (v.type) {
            case ValueType::U8: put<uint8_t>(static_cast<uint8_t>(v.u)); break;
            case ValueType::I8: put<int8_t>(static_cast<int8_t>(v.i)); break;
            case ValueType::U16: put<uint16_t>(static_cast<uint16_t>(v.u)); break;
            case ValueType::I16: put<int16_t>(static_cast<int16_t>(v.i)); break;
            case ValueType::U32: put<uint32_t>(static_cast<uint32_t>(v.u)); break;
            case ValueType::I32: put<int32_t>(static_cast<int32_t>(v.i)); break;
            case ValueType::U64: put<uint64_t>(v.u); break;
            case ValueType::I64: put<int64_t>(v.i); break;
            case ValueType::F32: put<uint32_t>(detail::double_to_f32_bits(v.f)); break;
            case ValueType::F64: put<double>(v.f); break;
            case ValueType::BOOL: put<uint8_t>(v.u != 0 ? 1 : 0); break;
            case ValueType::STRING: put_string(v.str); break;
            case ValueType::ARRAY:
                if (depth >= detail::kMaxArrayDepth)
                    throw Error("key " + printable(key) + ": arrays nested deeper than " +
                                std::to_string(detail::kMaxArrayDepth) + " levels");
                put<uint32_t>(static_cast<uint32_t>(v.elem_type));
                put<uint64_t>(v.arr.size());
                for (size_t j = 0; j < v.arr.size(); ++j) {
                    if (v.arr[j].type != v.elem_type)
                        throw Error("key " + printable(key) + ": array element " + std::to_string(j) + " has type " +
                                    value_type_name(v.arr[j].type) + " in an array of " +
                                    value_type_name(v.elem_type));
                    put_value(v.arr[j], key, depth + 1);
                }
                break;
            default:
                throw Error("key " + printable(key) + ": unknown value type " +
                            std::to_string(static_cast<uint32_t>(v.type)));
        }
    }
};

}  // namespace

std::vector<uint8_t> serialize_metadata(const std::vector<KV>& kvs, const std::vector<TensorInfo>& infos,
                                        uint32_t version) {
    Encoder e;
    e.out.insert(e.out.end(), {'G', 'G', 'U', 'F'});
    e.put<uint32_t>(version);
    e.put<uint64_t>(infos.size());
    e.put<uint64_t>(kvs.size());
    for (const KV& kv : kvs) {
        e.put_string(kv.key);
        e.put<uint32_t>(static_cast<uint32_t>(kv.value.type));
        e.put_value(kv.value, kv.key, 0);
    }
    for (const TensorInfo& t : infos) {
        e.put_string(t.name);
        e.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
        for (int64_t d : t.ne) e.put<int64_t>(d);
        e.put<int32_t>(static_cast<int32_t>(t.type));
        e.put<uint64_t>(t.offset);
    }
    return std::move(e.out);
}

}  // namespace kquant::gguf
