// Read -> write -> read keeps KVs (order, types, values) and tensor bytes; on ggml's own golden file,
// writing with the same KVs, tensor order and alignment reproduces the input byte for byte.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kquant/error.h"
#include "kquant/gguf.h"
#include "support/gguf_builder.h"

namespace kquant {
namespace {

// memcmp that accepts the null data pointers of empty tensors.
bool same_bytes(const uint8_t* a, const uint8_t* b, size_t n) { return n == 0 || std::memcmp(a, b, n) == 0; }

using gguf::KV;
using gguf::Reader;
using gguf::Value;
using gguf::ValueType;
using gguf::Writer;
using test::GgufBuilder;

// Every value type, arrays of each, nested and empty arrays.
GgufBuilder synthetic_model() {
    GgufBuilder b;
    b.kv("general.architecture", Value::of_string("llama"))
        .kv("t.u8", test::value_u8(250))
        .kv("t.i8", test::value_i8(-7))
        .kv("t.u16", test::value_u16(65535))
        .kv("t.i16", test::value_i16(-32768))
        .kv("t.u32", Value::of_u32(4000000000u))
        .kv("t.i32", Value::of_i32(-123456789))
        .kv("t.f32", Value::of_f32(3.14159f))
        .kv("t.f32_inf", Value::of_f32(-std::numeric_limits<float>::infinity()))
        .kv("t.bool", Value::of_bool(true))
        .kv("t.string", Value::of_string("h\xc3\xa9llo"))
        .kv("t.empty_string", Value::of_string(""))
        .kv("t.u64", test::value_u64(0xfedcba9876543210ull))
        .kv("t.i64", test::value_i64(std::numeric_limits<int64_t>::min()))
        .kv("t.f64", test::value_f64(-2.5e-300))
        .kv("t.arr_u8", Value::of_array(ValueType::U8, {test::value_u8(1), test::value_u8(2)}))
        .kv("t.arr_i32", Value::of_array(ValueType::I32, {Value::of_i32(-1), Value::of_i32(5), Value::of_i32(9)}))
        .kv("t.arr_f32", Value::of_array(ValueType::F32, {Value::of_f32(0.5f), Value::of_f32(-0.0f)}))
        .kv("t.arr_bool", Value::of_array(ValueType::BOOL, {Value::of_bool(false), Value::of_bool(true)}))
        .kv("t.arr_str", Value::of_array(ValueType::STRING, {Value::of_string("a"), Value::of_string(""),
                                                              Value::of_string("<|end|>")}))
        .kv("t.arr_u64", Value::of_array(ValueType::U64, {test::value_u64(1ull << 63)}))
        .kv("t.arr_f64", Value::of_array(ValueType::F64, {test::value_f64(1e300)}))
        .kv("t.arr_empty", Value::of_array(ValueType::I16, {}))
        .kv("t.arr_nested",
            Value::of_array(ValueType::ARRAY,
                            {Value::of_array(ValueType::U32, {Value::of_u32(1), Value::of_u32(2)}),
                             Value::of_array(ValueType::STRING, {Value::of_string("x")}),
                             Value::of_array(ValueType::ARRAY, {Value::of_array(ValueType::I8, {test::value_i8(-1)})})}))
        .kv("general.file_type", Value::of_u32(1));
    b.tensor("token_embd.weight", {64, 3}, Type::F16)
        .tensor("blk.0.attn_q.weight", {256, 2}, Type::Q4_K)
        .tensor("blk.0.attn_k.weight", {32, 3}, Type::Q8_0)
        .tensor("blk.0.attn_norm.weight", {7}, Type::F32)
        .tensor("blk.0.ffn_up_exps.weight", {32, 2, 3}, Type::Q4_0)
        .tensor("t.i32", {5, 1, 1, 2}, Type::I32)
        .tensor("t.bf16", {3}, Type::BF16)
        .tensor("t.empty", {0, 4}, Type::F32);
    return b;
}

std::vector<Writer::TensorSpec> specs_of(const Reader& r) {
    std::vector<Writer::TensorSpec> specs;
    for (const auto& t : r.tensors()) specs.push_back({t.name, t.ne, t.type});
    return specs;
}

// Writes everything `r` holds to `path` through the Writer, tensors in reverse order to exercise
// positional writes, each in two halves.
void rewrite(const Reader& r, const std::string& path) {
    Writer w(path, r.kvs(), specs_of(r), r.alignment());
    for (size_t i = r.tensors().size(); i-- > 0;) {
        const auto& t = r.tensors()[i];
        const size_t half = t.nbytes / 2;
        w.write_tensor(i, half, r.tensor_data(t) + half, t.nbytes - half);
        w.write_tensor(i, 0, r.tensor_data(t), half);
    }
    w.commit();
}

void expect_same_content(const Reader& a, const Reader& b) {
    EXPECT_EQ(a.version(), b.version());
    EXPECT_EQ(a.alignment(), b.alignment());
    ASSERT_EQ(a.kvs().size(), b.kvs().size());
    for (size_t i = 0; i < a.kvs().size(); ++i) EXPECT_EQ(a.kvs()[i], b.kvs()[i]) << "KV " << i << " " << a.kvs()[i].key;
    ASSERT_EQ(a.tensors().size(), b.tensors().size());
    for (size_t i = 0; i < a.tensors().size(); ++i) {
        const auto& ta = a.tensors()[i];
        const auto& tb = b.tensors()[i];
        EXPECT_EQ(ta.name, tb.name);
        EXPECT_EQ(ta.ne, tb.ne) << ta.name;
        EXPECT_EQ(ta.type, tb.type) << ta.name;
        EXPECT_EQ(ta.offset, tb.offset) << ta.name;
        ASSERT_EQ(ta.nbytes, tb.nbytes) << ta.name;
        EXPECT_TRUE(same_bytes(a.tensor_data(ta), b.tensor_data(tb), ta.nbytes)) << ta.name;
    }
}

TEST(GgufRoundTrip, SyntheticImageReadsAsBuilt) {
    const GgufBuilder b = synthetic_model();
    const test::GgufImage img = b.build();
    auto r = gguf::parse(img.bytes.data(), img.bytes.size(), "synthetic.gguf");
    EXPECT_EQ(r->version(), 3u);
    EXPECT_EQ(r->alignment(), 32u);
    EXPECT_EQ(r->data_offset(), img.offset_of("data"));
    EXPECT_EQ(r->kvs(), b.kvs());
    ASSERT_EQ(r->tensors().size(), b.tensors().size());
    for (size_t i = 0; i < b.tensors().size(); ++i) {
        const auto& want = b.tensors()[i];
        const auto& got = r->tensors()[i];
        EXPECT_EQ(got.name, want.name);
        EXPECT_EQ(got.ne, want.ne);
        EXPECT_EQ(got.type, want.type);
        EXPECT_EQ(r->data_offset() + got.offset, img.offset_of("tensor." + std::to_string(i) + ".data"));
        ASSERT_EQ(got.nbytes, want.data.size()) << want.name;
        EXPECT_TRUE(same_bytes(r->tensor_data(got), want.data.data(), got.nbytes)) << want.name;
    }
    EXPECT_EQ(r->find_tensor("blk.0.attn_q.weight"), &r->tensors()[1]);
    EXPECT_EQ(r->find_tensor("missing"), nullptr);
    EXPECT_EQ(r->tensors()[4].nrows(), 6);
    EXPECT_EQ(r->tensors()[7].nelements(), 0);
}

TEST(GgufRoundTrip, TypedGetters) {
    const test::GgufImage img = synthetic_model().build();
    auto r = gguf::parse(img.bytes.data(), img.bytes.size(), "synthetic.gguf");
    EXPECT_EQ(r->get_string("general.architecture"), "llama");
    EXPECT_EQ(r->get_u32("general.file_type"), 1u);
    EXPECT_EQ(r->get_int("t.i8"), -7);
    EXPECT_EQ(r->get_int("t.u32"), 4000000000ll);
    EXPECT_EQ(r->get_f32("t.f32"), 3.14159f);
    EXPECT_EQ(r->get_bool("t.bool"), true);
    EXPECT_EQ(r->get_string_array("t.arr_str"), (std::vector<std::string>{"a", "", "<|end|>"}));
    EXPECT_EQ(r->get_string("absent"), std::nullopt);
    EXPECT_EQ(r->get_u32("absent"), std::nullopt);
    try {
        (void)r->get_u32("t.i32");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("synthetic.gguf: key 't.i32' has type i32, expected u32"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW((void)r->get_int("t.u64"), Error);  // does not fit int64
    EXPECT_THROW((void)r->get_int("t.string"), Error);
    EXPECT_THROW((void)r->get_string_array("t.arr_i32"), Error);
}

TEST(GgufRoundTrip, OpenMatchesParse) {
    const std::string dir = test::fresh_test_dir("GgufRoundTrip.OpenMatchesParse");
    const test::GgufImage img = synthetic_model().build();
    test::write_file(dir + "/in.gguf", img.bytes);
    auto from_file = Reader::open(dir + "/in.gguf");
    auto from_memory = gguf::parse(img.bytes.data(), img.bytes.size(), "mem");
    EXPECT_EQ(from_file->path(), dir + "/in.gguf");
    EXPECT_EQ(from_file->file_size(), img.bytes.size());
    expect_same_content(*from_file, *from_memory);
}

TEST(GgufRoundTrip, SyntheticReadWriteReadIsByteIdentical) {
    const std::string dir = test::fresh_test_dir("GgufRoundTrip.Synthetic");
    const test::GgufImage img = synthetic_model().build();
    test::write_file(dir + "/in.gguf", img.bytes);
    auto in = Reader::open(dir + "/in.gguf");
    rewrite(*in, dir + "/out.gguf");
    auto out = Reader::open(dir + "/out.gguf");
    expect_same_content(*in, *out);
    EXPECT_EQ(test::read_file(dir + "/out.gguf"), img.bytes);
}

TEST(GgufRoundTrip, Version2AndWiderAlignment) {
    const std::string dir = test::fresh_test_dir("GgufRoundTrip.V2");
    GgufBuilder b = synthetic_model();
    b.version = 2;
    b.alignment = 256;
    b.kv("general.alignment", Value::of_u32(256));
    const test::GgufImage img = b.build();
    test::write_file(dir + "/in.gguf", img.bytes);
    auto in = Reader::open(dir + "/in.gguf");
    EXPECT_EQ(in->version(), 2u);
    EXPECT_EQ(in->alignment(), 256u);
    EXPECT_EQ(in->data_offset() % 256, 0u);
    for (const auto& t : in->tensors()) EXPECT_EQ(t.offset % 256, 0u) << t.name;
    rewrite(*in, dir + "/out.gguf");  // our writer always writes v3
    auto out = Reader::open(dir + "/out.gguf");
    EXPECT_EQ(out->version(), 3u);
    EXPECT_EQ(out->kvs(), in->kvs());
    std::vector<uint8_t> want = img.bytes;
    want[4] = 3;  // the only difference: the version field
    EXPECT_EQ(test::read_file(dir + "/out.gguf"), want);
}

// A signalling NaN with a payload in an f32 KV survives (a float->double->float conversion in
// hardware would set the quiet bit).
TEST(GgufRoundTrip, F32NanPayloadSurvives) {
    const std::string dir = test::fresh_test_dir("GgufRoundTrip.Nan");
    GgufBuilder b;
    b.kv("nan", Value::of_f32(0.0f)).tensor("t", {4}, Type::F32);
    test::GgufImage img = b.build();
    img.patch_u32("kv.0.value", 0xff800123u);  // sign set, signalling, payload 0x123
    test::write_file(dir + "/in.gguf", img.bytes);
    auto in = Reader::open(dir + "/in.gguf");
    EXPECT_TRUE(std::isnan(in->kvs()[0].value.f));
    rewrite(*in, dir + "/out.gguf");
    EXPECT_EQ(test::read_file(dir + "/out.gguf"), img.bytes);
}

TEST(GgufRoundTrip, NoTensors) {
    const std::string dir = test::fresh_test_dir("GgufRoundTrip.NoTensors");
    GgufBuilder b;
    b.kv("general.name", Value::of_string("empty model"));
    const test::GgufImage img = b.build();
    // ggml writes padding after the infos even without tensors, but does not require it when reading.
    const std::vector<uint8_t> unpadded(img.bytes.begin(), img.bytes.begin() + img.offset_of("infos_end"));
    ASSERT_LT(unpadded.size(), img.bytes.size());
    auto in = gguf::parse(unpadded.data(), unpadded.size(), "empty.gguf");
    EXPECT_TRUE(in->tensors().empty());
    EXPECT_EQ(in->kvs(), b.kvs());
    Writer w(dir + "/out.gguf", in->kvs(), {});
    w.commit();
    auto out = Reader::open(dir + "/out.gguf");
    EXPECT_EQ(out->kvs(), in->kvs());
    EXPECT_TRUE(out->tensors().empty());
    EXPECT_EQ(test::read_file(dir + "/out.gguf"), img.bytes);
}

TEST(GgufRoundTrip, GoldenFileIsReproducedByteForByte) {
    const std::string dir = test::fresh_test_dir("GgufRoundTrip.Golden");
    auto in = Reader::open(KQ_GOLDEN_PATH);
    EXPECT_EQ(in->version(), 3u);
    EXPECT_EQ(in->alignment(), 32u);
    ASSERT_FALSE(in->tensors().empty());
    ASSERT_NE(in->find_tensor("gaussian.input"), nullptr);
    EXPECT_EQ(in->find_tensor("gaussian.input")->type, Type::F32);
    const auto cases = in->get_string_array("golden.cases");
    ASSERT_TRUE(cases.has_value());
    EXPECT_EQ(cases->front(), "gaussian");
    rewrite(*in, dir + "/golden-copy.gguf");
    auto out = Reader::open(dir + "/golden-copy.gguf");
    expect_same_content(*in, *out);
    const std::vector<uint8_t> want = test::read_file(KQ_GOLDEN_PATH);
    const std::vector<uint8_t> got = test::read_file(dir + "/golden-copy.gguf");
    ASSERT_EQ(got.size(), want.size());
    size_t first_diff = 0;
    while (first_diff < got.size() && got[first_diff] == want[first_diff]) ++first_diff;
    EXPECT_EQ(first_diff, got.size()) << "first differing byte at offset " << first_diff;
}

}  // namespace
}  // namespace kquant
