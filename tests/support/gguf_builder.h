// Builds GGUF images in memory for tests, independently of the project's writer: a small layout engine
// (header, KVs, tensor infos, data laid out like ggml) that records where every field lies, so that
// tests can patch single fields to make malformed images.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kquant/gguf.h"
#include "kquant/types.h"

namespace kquant::test {

// Little-endian byte emitter.
class ByteSink {
public:
    std::vector<uint8_t> bytes;
    size_t size() const { return bytes.size(); }
    template <class T>
    void put(T v) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        bytes.insert(bytes.end(), p, p + sizeof(T));
    }
    void put_string(const std::string& s);  // u64 length + bytes
    void put_raw(const void* data, size_t n);
    void pad_to(size_t alignment);          // zero bytes up to a multiple of alignment
};

struct GgufImage {
    std::vector<uint8_t> bytes;
    // Byte offsets of fields: "magic", "version", "n_tensors", "n_kv", "kv.<i>.key", "kv.<i>.type",
    // "kv.<i>.value", "tensor.<i>.name", "tensor.<i>.n_dims", "tensor.<i>.ne.<j>", "tensor.<i>.type",
    // "tensor.<i>.offset", "infos_end", "data", "tensor.<i>.data", "data_end" (end of the last tensor's
    // bytes, before its padding).
    std::map<std::string, size_t> at;
    size_t offset_of(const std::string& field) const;  // throws std::out_of_range naming the field

    void patch_u32(const std::string& field, uint32_t v, size_t delta = 0);
    void patch_u64(const std::string& field, uint64_t v, size_t delta = 0);
    void patch_i64(const std::string& field, int64_t v, size_t delta = 0) { patch_u64(field, static_cast<uint64_t>(v), delta); }
};

class GgufBuilder {
public:
    struct Tensor {
        std::string name;
        std::vector<int64_t> ne;
        Type type;
        std::vector<uint8_t> data;
    };

    uint32_t version = 3;
    size_t alignment = 32;  // layout only: add a `general.alignment` KV yourself when it is not 32

    GgufBuilder& kv(const std::string& key, const gguf::Value& v);
    // Without data, the tensor gets a deterministic byte pattern of its size (seeded by its index).
    GgufBuilder& tensor(const std::string& name, std::vector<int64_t> ne, Type type,
                        std::optional<std::vector<uint8_t>> data = std::nullopt);

    const std::vector<gguf::KV>& kvs() const { return kvs_; }
    const std::vector<Tensor>& tensors() const { return tensors_; }
    GgufImage build() const;

private:
    std::vector<gguf::KV> kvs_;
    std::vector<Tensor> tensors_;
};

// Size in bytes of a tensor of this shape and type (ne0 a multiple of the block size).
uint64_t tensor_bytes(const std::vector<int64_t>& ne, Type type);

// Scalar value factories for the types gguf::Value has no factory for.
gguf::Value value_u8(uint8_t v);
gguf::Value value_i8(int8_t v);
gguf::Value value_u16(uint16_t v);
gguf::Value value_i16(int16_t v);
gguf::Value value_u64(uint64_t v);
gguf::Value value_i64(int64_t v);
gguf::Value value_f64(double v);

// Writes bytes to a file (throws std::runtime_error on failure) / reads a whole file.
void write_file(const std::string& path, const std::vector<uint8_t>& bytes);
std::vector<uint8_t> read_file(const std::string& path);

// A fresh, empty directory under KQ_TEST_TMPDIR for one test (created; removed first if present).
std::string fresh_test_dir(const std::string& name);
// Names of the entries of a directory (no "." / "..").
std::vector<std::string> list_dir(const std::string& dir);

}  // namespace kquant::test
