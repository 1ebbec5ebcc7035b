#include "support/gguf_builder.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace kquant::test {

using gguf::Value;
using gguf::ValueType;

void ByteSink::put_string(const std::string& s) {
    put<uint64_t>(s.size());
    put_raw(s.data(), s.size());
}

void ByteSink::put_raw(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    bytes.insert(bytes.end(), p, p + n);
}

void ByteSink::pad_to(size_t alignment) {
    while (bytes.size() % alignment != 0) bytes.push_back(0);
}

size_t GgufImage::offset_of(const std::string& field) const {
    auto it = at.find(field);
    if (it == at.end()) throw std::out_of_range("GgufImage: no field '" + field + "'");
    return it->second;
}

void GgufImage::patch_u32(const std::string& field, uint32_t v, size_t delta) {
    std::memcpy(bytes.data() + offset_of(field) + delta, &v, 4);
}

void GgufImage::patch_u64(const std::string& field, uint64_t v, size_t delta) {
    std::memcpy(bytes.data() + offset_of(field) + delta, &v, 8);
}

uint64_t tensor_bytes(const std::vector<int64_t>& ne, Type type) {
    const TypeInfo& ti = type_info(type);
    uint64_t n = 1;
    for (int64_t d : ne) n *= static_cast<uint64_t>(d);
    return n / static_cast<uint64_t>(ti.block_elems) * ti.block_bytes;
}

namespace {

void put_payload(ByteSink& s, const Value& v) {
    switch (v.type) {
        case ValueType::U8: s.put<uint8_t>(static_cast<uint8_t>(v.u)); break;
        case ValueType::I8: s.put<int8_t>(static_cast<int8_t>(v.i)); break;
        case ValueType::U16: s.put<uint16_t>(static_cast<uint16_t>(v.u)); break;
        case ValueType::I16: s.put<int16_t>(static_cast<int16_t>(v.i)); break;
        case ValueType::U32: s.put<uint32_t>(static_cast<uint32_t>(v.u)); break;
        case ValueType::I32: s.put<int32_t>(static_cast<int32_t>(v.i)); break;
        case ValueType::U64: s.put<uint64_t>(v.u); break;
        case ValueType::I64: s.put<int64_t>(v.i); break;
        case ValueType::F32: s.put<float>(static_cast<float>(v.f)); break;
        case ValueType::F64: s.put<double>(v.f); break;
        case ValueType::BOOL: s.put<uint8_t>(v.u ? 1 : 0); break;
        case ValueType::STRING: s.put_string(v.str); break;
        case ValueType::ARRAY:
            s.put<uint32_t>(static_cast<uint32_t>(v.elem_type));
            s.put<uint64_t>(v.arr.size());
            for (const Value& e : v.arr) put_payload(s, e);
            break;
    }
}

Value scalar(ValueType t) {
    Value v;
    v.type = t;
    return v;
}

}  // namespace

GgufBuilder& GgufBuilder::kv(const std::string& key, const Value& v) {
    kvs_.push_back({key, v});
    return *this;
}

GgufBuilder& GgufBuilder::tensor(const std::string& name, std::vector<int64_t> ne, Type type,
                                 std::optional<std::vector<uint8_t>> data) {
    Tensor t{name, std::move(ne), type, {}};
    if (data) {
        t.data = std::move(*data);
    } else {
        t.data.resize(tensor_bytes(t.ne, type));
        uint32_t x = 0x9e3779b9u * static_cast<uint32_t>(tensors_.size() + 1);
        for (uint8_t& b : t.data) {
            x = x * 1664525u + 1013904223u;
            b = static_cast<uint8_t>(x >> 24);
        }
    }
    tensors_.push_back(std::move(t));
    return *this;
}

GgufImage GgufBuilder::build() const {
    GgufImage img;
    ByteSink s;
    auto mark = [&](const std::string& field) { img.at[field] = s.size(); };
    mark("magic");
    s.put_raw("GGUF", 4);
    mark("version");
    s.put<uint32_t>(version);
    mark("n_tensors");
    s.put<uint64_t>(tensors_.size());
    mark("n_kv");
    s.put<uint64_t>(kvs_.size());
    for (size_t i = 0; i < kvs_.size(); ++i) {
        const std::string p = "kv." + std::to_string(i) + ".";
        mark(p + "key");
        s.put_string(kvs_[i].key);
        mark(p + "type");
        s.put<uint32_t>(static_cast<uint32_t>(kvs_[i].value.type));
        mark(p + "value");
        put_payload(s, kvs_[i].value);
    }
    std::vector<uint64_t> offsets;
    uint64_t off = 0;
    for (const Tensor& t : tensors_) {
        offsets.push_back(off);
        off += (t.data.size() + alignment - 1) / alignment * alignment;
    }
    for (size_t i = 0; i < tensors_.size(); ++i) {
        const std::string p = "tensor." + std::to_string(i) + ".";
        const Tensor& t = tensors_[i];
        mark(p + "name");
        s.put_string(t.name);
        mark(p + "n_dims");
        s.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
        for (size_t j = 0; j < t.ne.size(); ++j) {
            mark(p + "ne." + std::to_string(j));
            s.put<int64_t>(t.ne[j]);
        }
        mark(p + "type");
        s.put<int32_t>(static_cast<int32_t>(t.type));
        mark(p + "offset");
        s.put<uint64_t>(offsets[i]);
    }
    mark("infos_end");
    s.pad_to(alignment);  // ggml pads even when there are no tensors
    mark("data");
    for (size_t i = 0; i < tensors_.size(); ++i) {
        mark("tensor." + std::to_string(i) + ".data");
        s.put_raw(tensors_[i].data.data(), tensors_[i].data.size());
        mark("data_end");
        s.pad_to(alignment);
    }
    if (tensors_.empty()) img.at["data_end"] = s.size();
    img.bytes = std::move(s.bytes);
    return img;
}

Value value_u8(uint8_t v) { Value r = scalar(ValueType::U8); r.u = v; return r; }
Value value_i8(int8_t v) { Value r = scalar(ValueType::I8); r.i = v; return r; }
Value value_u16(uint16_t v) { Value r = scalar(ValueType::U16); r.u = v; return r; }
Value value_i16(int16_t v) { Value r = scalar(ValueType::I16); r.i = v; return r; }
Value value_u64(uint64_t v) { Value r = scalar(ValueType::U64); r.u = v; return r; }
Value value_i64(int64_t v) { Value r = scalar(ValueType::I64); r.i = v; return r; }
Value value_f64(double v) { Value r = scalar(ValueType::F64); r.f = v; return r; }

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw std::runtime_error("cannot write " + path);
}

std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot read " + path);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::string fresh_test_dir(const std::string& name) {
    namespace fs = std::filesystem;
    // CTest runs tests in parallel processes: the running test's own name keeps their directories apart
    // even when two tests ask for the same name.
    fs::path dir = fs::path(KQ_TEST_TMPDIR);
    if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
        std::string test = std::string(info->test_suite_name()) + "." + info->name();
        for (char& c : test)
            if (c == '/') c = '_';
        dir /= test;
    }
    dir /= name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir.string();
}

std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
    return names;
}

}  // namespace kquant::test
