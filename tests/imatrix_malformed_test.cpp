// Malformed imatrix files: every class of damage gives a kquant::Error that names the file (and the
// entry where there is one), never a crash or a silent partial result.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include "kquant/error.h"
#include "kquant/imatrix.h"
#include "support/gguf_builder.h"
#include "support/imatrix_files.h"

namespace kquant {
namespace {

using gguf::Value;
using gguf::ValueType;
using test::f32_bytes;

template <class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
    try {
        f();
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        const std::string msg = e.what();
        for (const std::string& s : parts) EXPECT_NE(msg.find(s), std::string::npos) << "'" << s << "' not in: " << msg;
    }
}

// ---- legacy ----

struct Bytes {
    std::vector<uint8_t> b;
    Bytes& i32(int32_t v) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        b.insert(b.end(), p, p + 4);
        return *this;
    }
    Bytes& str(const std::string& s) {
        b.insert(b.end(), s.begin(), s.end());
        return *this;
    }
    Bytes& f32(float v) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        b.insert(b.end(), p, p + 4);
        return *this;
    }
};

void legacy_error(const Bytes& bytes, std::initializer_list<std::string> parts) {
    expect_error([&] { parse_imatrix_legacy(bytes.b, "bad.dat"); }, parts);
}

TEST(ImatrixMalformedLegacy, HeaderAndCounts) {
    legacy_error(Bytes{}, {"bad.dat", "no data"});
    legacy_error(Bytes{{1, 0, 0}}, {"bad.dat", "no data"});
    legacy_error(Bytes{}.i32(0), {"bad.dat", "no data", "entry count 0"});
    legacy_error(Bytes{}.i32(-1), {"bad.dat", "entry count -1"});
}

TEST(ImatrixMalformedLegacy, NameLength) {
    legacy_error(Bytes{}.i32(1), {"bad.dat", "entry 1 of 1", "name length", "truncated"});
    legacy_error(Bytes{}.i32(1).i32(-5), {"bad.dat", "invalid name length -5"});
    legacy_error(Bytes{}.i32(1).i32(100).str("short"), {"bad.dat", "invalid name length 100"});
    legacy_error(Bytes{}.i32(1).i32(std::numeric_limits<int32_t>::max()), {"invalid name length 2147483647"});
}

TEST(ImatrixMalformedLegacy, ValueCounts) {
    legacy_error(Bytes{}.i32(1).i32(1).str("a"), {"bad.dat", "tensor 'a'", "ncall", "truncated"});
    legacy_error(Bytes{}.i32(1).i32(1).str("a").i32(1), {"tensor 'a'", "value count", "truncated"});
    legacy_error(Bytes{}.i32(1).i32(1).str("a").i32(1).i32(0), {"tensor 'a'", "invalid value count 0"});
    legacy_error(Bytes{}.i32(1).i32(1).str("a").i32(1).i32(-3), {"tensor 'a'", "invalid value count -3"});
    legacy_error(Bytes{}.i32(1).i32(1).str("a").i32(1).i32(10).f32(1).f32(2), {"tensor 'a'", "10 values", "truncated"});
    // A huge count is refused before anything is allocated.
    legacy_error(Bytes{}.i32(1).i32(1).str("a").i32(1).i32(std::numeric_limits<int32_t>::max()),
                 {"tensor 'a'", "2147483647 values", "truncated"});
    // Fewer entries than announced.
    legacy_error(Bytes{}.i32(2).i32(1).str("a").i32(1).i32(1).f32(1), {"entry 2 of 2", "truncated"});
}

TEST(ImatrixMalformedLegacy, Trailer) {
    const Bytes good = Bytes{}.i32(1).i32(1).str("a").i32(1).i32(1).f32(1);
    Bytes t1 = good;
    t1.b.push_back(1);
    t1.b.push_back(2);
    legacy_error(t1, {"bad.dat", "trailer's chunk count", "truncated"});
    Bytes t2 = good;
    t2.i32(5).b.push_back(9);
    legacy_error(t2, {"trailer's dataset name length", "truncated"});
    Bytes t3 = good;
    t3.i32(5).i32(50).str("wiki");
    legacy_error(t3, {"trailer's dataset name", "needs 50 bytes"});
}

// ---- GGUF ----

std::string dir() {
    static const std::string d = test::fresh_test_dir("imatrix_malformed");
    return d;
}

struct TensorSpec {
    std::string name;
    std::vector<int64_t> ne;
    Type type;
    std::vector<uint8_t> data;
};

std::vector<gguf::KV> good_meta() {
    return {{"general.type", Value::of_string("imatrix")},
            {"imatrix.datasets", Value::of_array(ValueType::STRING, {Value::of_string("d")})},
            {"imatrix.chunk_count", Value::of_u32(4)},
            {"imatrix.chunk_size", Value::of_u32(512)}};
}

std::vector<TensorSpec> good_tensors() {
    return {{"w.in_sum2", {2}, Type::F32, f32_bytes({1.0f, 2.0f})}, {"w.counts", {1}, Type::F32, f32_bytes({2.0f})}};
}

std::string write_gguf(const std::string& name, const std::vector<gguf::KV>& kvs, const std::vector<TensorSpec>& ts) {
    test::GgufBuilder b;
    for (const gguf::KV& kv : kvs) b.kv(kv.key, kv.value);
    for (const TensorSpec& t : ts) b.tensor(t.name, t.ne, t.type, t.data);
    const std::string path = dir() + "/" + name;
    test::write_file(path, b.build().bytes);
    return path;
}

void gguf_error(const std::string& name, const std::vector<gguf::KV>& kvs, const std::vector<TensorSpec>& ts,
                std::initializer_list<std::string> parts) {
    const std::string path = write_gguf(name, kvs, ts);
    expect_error([&] { load_imatrix(path); }, parts);
}

TEST(ImatrixMalformedGguf, TheGoodFileLoads) {
    const Imatrix im = load_imatrix(write_gguf("good.gguf", good_meta(), good_tensors()));
    EXPECT_EQ(im.entries.at("w"), (std::vector<float>{0.5f, 1.0f}));
}

TEST(ImatrixMalformedGguf, MissingOrMismatchedTensors) {
    gguf_error("no_counts.gguf", good_meta(), {good_tensors()[0]}, {"no_counts.gguf", "tensor 'w'", "no .counts tensor"});
    gguf_error("no_sums.gguf", good_meta(), {good_tensors()[1]}, {"tensor 'w'", "no .in_sum2 tensor"});
    std::vector<TensorSpec> ts = good_tensors();
    ts.push_back({"w.in_sum", {3}, Type::F32, f32_bytes({1, 2, 3})});
    gguf_error("in_sum.gguf", good_meta(), ts, {"tensor 'w'", ".in_sum and .in_sum2 differ"});
    gguf_error("empty.gguf", good_meta(), {}, {"empty.gguf", "no data"});
    ts = good_tensors();
    ts[0] = {"w.in_sum2", {5}, Type::F32, f32_bytes({1, 2, 3, 4, 5})};
    ts[1] = {"w.counts", {1, 2}, Type::F32, f32_bytes({1, 1})};
    gguf_error("ragged.gguf", good_meta(), ts, {"tensor 'w'", "5 values, not a multiple of its 2 counts"});
}

TEST(ImatrixMalformedGguf, WrongTensorTypes) {
    std::vector<TensorSpec> ts = good_tensors();
    ts[0] = {"w.in_sum2", {2}, Type::F16, {0, 0x3c, 0, 0x40}};
    gguf_error("f16_sums.gguf", good_meta(), ts, {"tensor 'w'", "must be F32", "w.in_sum2 is f16"});
    ts = good_tensors();
    ts[1] = {"w.counts", {1}, Type::I32, {2, 0, 0, 0}};
    gguf_error("i32_counts.gguf", good_meta(), ts, {"tensor 'w'", "must be F32", "w.counts is i32"});
    ts = good_tensors();
    ts[1] = {"w.counts", {1}, Type::F32, f32_bytes({std::numeric_limits<float>::quiet_NaN()})};
    gguf_error("nan_count.gguf", good_meta(), ts, {"tensor 'w'", "count 0 is not finite"});
}

TEST(ImatrixMalformedGguf, Metadata) {
    for (const char* key : {"imatrix.datasets", "imatrix.chunk_count", "imatrix.chunk_size"}) {
        std::vector<gguf::KV> kvs;
        for (const gguf::KV& kv : good_meta())
            if (kv.key != key) kvs.push_back(kv);
        gguf_error("no_key.gguf", kvs, good_tensors(), {"no_key.gguf", "missing imatrix metadata", key});
    }
    std::vector<gguf::KV> kvs = good_meta();
    kvs[2].value = Value::of_i32(4);
    gguf_error("i32_chunks.gguf", kvs, good_tensors(), {"imatrix.chunk_count", "has type i32, expected u32"});
    kvs = good_meta();
    kvs[1].value = Value::of_array(ValueType::U32, {Value::of_u32(1)});
    gguf_error("u32_datasets.gguf", kvs, good_tensors(), {"imatrix.datasets", "array of strings"});
    kvs = good_meta();
    kvs[1].value = Value::of_string("d");
    gguf_error("str_datasets.gguf", kvs, good_tensors(), {"imatrix.datasets", "has type string, expected array"});
}

TEST(ImatrixMalformedGguf, TruncatedFile) {
    test::GgufBuilder b = test::imatrix_gguf_builder({{"w", 4, {1, 2, 3, 4}, {1}, std::nullopt}});
    const test::GgufImage img = b.build();
    const std::vector<uint8_t>& bytes = img.bytes;
    // Inside the last tensor's data, inside the tensor infos, inside the header.
    for (size_t cut : {img.offset_of("data_end") - 1, img.offset_of("infos_end") - 5, size_t{10}}) {
        const std::string path = dir() + "/cut" + std::to_string(cut) + ".gguf";
        test::write_file(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + cut));
        expect_error([&] { load_imatrix(path); }, {path});
    }
}

}  // namespace
}  // namespace kquant
