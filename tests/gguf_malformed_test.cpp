// Malformed GGUF input: every class of damage gives a kquant::Error naming the file, the problem and
// where it is; no input crashes or reads out of bounds (run these under -DKQUANT_SANITIZE=ON too).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <random>

#include "kquant/error.h"
#include "kquant/gguf.h"
#include "support/gguf_builder.h"

namespace kquant {
namespace {

using gguf::Value;
using gguf::ValueType;
using test::GgufBuilder;
using test::GgufImage;

constexpr const char* kName = "model.gguf";

// KVs of several kinds and two tensors; the last tensor's size is a multiple of 32, so the image ends
// exactly at the end of its data. The first KV is long enough that a cut in the later KVs still leaves
// room for the KV count, so that those cuts are reported at the field.
GgufBuilder small_model() {
    GgufBuilder b;
    b.kv("general.architecture", Value::of_string("a synthetic model for malformed-input tests"))
        .kv("a.arr", Value::of_array(ValueType::I32, {Value::of_i32(1), Value::of_i32(2), Value::of_i32(3)}))
        .kv("a.strs", Value::of_array(ValueType::STRING, {Value::of_string("abcdefghij"), Value::of_string("klmnopqrst"),
                                                           Value::of_string("uvwxyz0123")}))
        .kv("a.u32", Value::of_u32(7));
    b.tensor("blk.0.attn_q.weight", {32, 2}, Type::Q8_0).tensor("output.weight", {8, 4}, Type::F32);
    return b;
}

// Parses the first `len` bytes from a buffer of exactly that size (so that the sanitizer sees any
// over-read) and returns the error message, or "" when the image parsed.
std::string parse_error(const std::vector<uint8_t>& bytes, size_t len = std::string::npos) {
    const std::vector<uint8_t> exact(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(std::min(len, bytes.size())));
    try {
        gguf::parse(exact.data(), exact.size(), kName);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

void expect_error(const std::vector<uint8_t>& bytes, std::initializer_list<std::string> parts) {
    const std::string msg = parse_error(bytes);
    ASSERT_FALSE(msg.empty()) << "image parsed without error";
    EXPECT_EQ(msg.rfind(std::string(kName) + ": ", 0), 0u) << msg;
    for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

TEST(GgufMalformed, SmallModelIsValid) {
    const GgufImage img = small_model().build();
    EXPECT_EQ(parse_error(img.bytes), "");
    EXPECT_EQ(img.offset_of("data_end"), img.bytes.size());
}

TEST(GgufMalformed, EveryTruncationIsAnError) {
    const GgufImage img = small_model().build();
    for (size_t len = 0; len < img.bytes.size(); ++len) {
        const std::string msg = parse_error(img.bytes, len);
        EXPECT_FALSE(msg.empty()) << "prefix of " << len << " bytes parsed";
        EXPECT_NE(msg.find(kName), std::string::npos) << msg;
    }
}

TEST(GgufMalformed, TruncationMessageNamesTheField) {
    const GgufImage img = small_model().build();
    const size_t size_field = 8;
    struct Cut {
        size_t len;
        std::string want;
    };
    const std::vector<Cut> cuts = {
        {2, "truncated file: magic needs 4 bytes at offset 0, file has 2"},
        {img.offset_of("version") + 1, "version needs 4 bytes at offset 4, file has 5"},
        {img.offset_of("n_tensors") + 3, "tensor count needs 8 bytes at offset 8"},
        {img.offset_of("n_kv") + 7, "KV count needs 8 bytes at offset 16"},
        // Inside KV 0, fewer bytes remain than 4 KVs take at least.
        {img.offset_of("kv.0.key") + 4, "KV count 4 (at offset 16) cannot fit in the 4 bytes after the header"},
        {img.offset_of("kv.0.value") + 9, "KV count 4 (at offset 16) cannot fit"},
        {img.offset_of("kv.1.key") + 4, "KV 1 key length needs 8 bytes at offset " +
                                            std::to_string(img.offset_of("kv.1.key"))},
        {img.offset_of("kv.1.key") + size_field + 3, "KV 1 key (5-byte string) needs 5 bytes"},
        {img.offset_of("kv.1.type") + 1, "KV 1 ('a.arr') type needs 4 bytes"},
        {img.offset_of("kv.1.value") + 2, "KV 1 ('a.arr') value array element type needs 4 bytes"},
        {img.offset_of("kv.1.value") + 4 + 5, "KV 1 ('a.arr') value array length needs 8 bytes"},
        {img.offset_of("kv.1.value") + 12 + 4 + 1, "KV 1 ('a.arr') value: array length 3 at offset " +
                                                        std::to_string(img.offset_of("kv.1.value") + 4) +
                                                        " cannot fit in the remaining 5 bytes"},
        {img.offset_of("kv.2.value") + 12 + 18 + 8 + 3, "KV 2 ('a.strs') array element 1 (10-byte string) needs 10 bytes"},
        {img.offset_of("kv.3.value") + 3, "KV 3 ('a.u32') value needs 4 bytes"},
        // Inside tensor info 0, fewer bytes remain than 2 tensor infos take at least.
        {img.offset_of("tensor.0.name") + 3, "tensor count 2 (at offset 8) cannot fit in the 3 bytes after the KVs"},
        {img.offset_of("tensor.1.name") + 8 + 4, "tensor info 1 name (13-byte string) needs 13 bytes"},
        {img.offset_of("tensor.1.n_dims") + 1, "tensor info 1 ('output.weight') n_dims needs 4 bytes"},
        {img.offset_of("tensor.1.ne.1") + 1, "tensor info 1 ('output.weight') ne[1] needs 8 bytes"},
        {img.offset_of("tensor.1.type") + 2, "tensor info 1 ('output.weight') type needs 4 bytes"},
        {img.offset_of("tensor.1.offset") + 7, "tensor info 1 ('output.weight') data offset needs 8 bytes"},
        {img.offset_of("data") + 10, "tensor 'blk.0.attn_q.weight': data (68 bytes at data offset 0"},
        {img.bytes.size() - 1, "tensor 'output.weight': data (128 bytes at data offset 96"},
    };
    for (const Cut& c : cuts) {
        const std::string msg = parse_error(img.bytes, c.len);
        EXPECT_NE(msg.find(c.want), std::string::npos) << "cut at " << c.len << ": '" << c.want << "' not in: " << msg;
    }
    // A cut inside the padding before the data section (the infos end at an unaligned offset here).
    const size_t infos_end = img.offset_of("infos_end");
    ASSERT_NE(infos_end % 32, 0u);
    EXPECT_NE(parse_error(img.bytes, infos_end + 1).find("padding before the data section"), std::string::npos);
    // Cuts past the data of a tensor name it and the file size.
    EXPECT_NE(parse_error(img.bytes, img.bytes.size() - 1).find("extends past the end of the file (" +
                                                                 std::to_string(img.bytes.size() - 1) + " bytes)"),
              std::string::npos);
}

TEST(GgufMalformed, AbsurdCountsAreRejectedBeforeAllocating) {
    const GgufImage base = small_model().build();
    {
        GgufImage img = base;
        img.patch_u64("n_kv", 1ull << 62);
        expect_error(img.bytes, {"KV count 4611686018427387904 (at offset 16) cannot fit in the"});
    }
    {
        GgufImage img = base;
        img.patch_u64("n_tensors", (1ull << 63) - 1);
        expect_error(img.bytes, {"tensor count 9223372036854775807 (at offset 8) cannot fit", "truncated file or corrupt count"});
    }
    {
        GgufImage img = base;
        img.patch_u64("n_tensors", ~0ull);  // -1 as the i64 the format declares
        expect_error(img.bytes, {"negative tensor count -1 at offset 8"});
    }
    {
        GgufImage img = base;
        img.patch_u64("n_kv", 1ull << 63);
        expect_error(img.bytes, {"negative KV count"});
    }
    {
        // More tensors than fit after the KVs, though not more than the bytes after the header.
        GgufImage img = base;
        const uint64_t after_kvs = img.bytes.size() - img.offset_of("tensor.0.name");
        img.patch_u64("n_tensors", after_kvs / 24 + 1);
        expect_error(img.bytes, {"cannot fit in the", "bytes after the KVs"});
    }
    {
        GgufImage img = base;
        img.patch_u64("kv.0.key", ~0ull - 3);
        expect_error(img.bytes, {"truncated file: KV 0 key (18446744073709551612-byte string) needs "
                                 "18446744073709551612 bytes at offset 32"});
    }
    {
        GgufImage img = base;
        img.patch_u64("kv.0.value", 1ull << 60);
        expect_error(img.bytes, {"KV 0 ('general.architecture') value (1152921504606846976-byte string) needs "
                                 "1152921504606846976 bytes at offset 64"});
    }
    {
        GgufImage img = base;
        img.patch_u64("tensor.1.name", 1ull << 40);
        expect_error(img.bytes, {"tensor info 1 name", "needs 1099511627776 bytes"});
    }
    {
        GgufImage img = base;
        img.patch_u64("kv.1.value", 1ull << 61, 4);
        expect_error(img.bytes, {"KV 1 ('a.arr')", "array length 2305843009213693952", "cannot fit in the remaining"});
    }
    {
        GgufImage img = base;
        img.patch_u64("kv.2.value", 1ull << 40, 12);  // the first string of an array
        expect_error(img.bytes, {"KV 2 ('a.strs') array element 0 (1099511627776-byte string) needs 1099511627776 bytes"});
    }
    {
        GgufImage img = base;
        img.patch_u32("tensor.1.n_dims", 5);
        expect_error(img.bytes, {"tensor 'output.weight': n_dims 5", "exceeds the maximum of 4"});
    }
    {
        GgufImage img = base;
        img.patch_u32("tensor.1.n_dims", 0xffffffffu);
        expect_error(img.bytes, {"tensor 'output.weight': n_dims 4294967295"});
    }
}

TEST(GgufMalformed, TensorDataPastTheEnd) {
    const GgufImage base = small_model().build();
    for (uint64_t off : {uint64_t{128}, uint64_t{1} << 40, ~uint64_t{0} & ~uint64_t{31}}) {
        GgufImage img = base;
        img.patch_u64("tensor.1.offset", off);
        expect_error(img.bytes, {"tensor 'output.weight': data (128 bytes at data offset " + std::to_string(off),
                                 "extends past the end of the file"});
    }
}

TEST(GgufMalformed, MisalignedTensorOffset) {
    GgufImage img = small_model().build();
    img.patch_u64("tensor.1.offset", 64 + 4);
    expect_error(img.bytes, {"tensor 'output.weight': data offset 68", "is not a multiple of the alignment 32"});
}

TEST(GgufMalformed, BadAlignment) {
    for (uint32_t a : {0u, 3u, 48u}) {
        GgufBuilder b = small_model();
        b.kv("general.alignment", Value::of_u32(a));
        expect_error(b.build().bytes, {"general.alignment = " + std::to_string(a) + " is not a non-zero power of two"});
    }
    {
        GgufBuilder b = small_model();
        b.kv("general.alignment", test::value_u64(32));
        expect_error(b.build().bytes, {"key 'general.alignment' must be of type u32, found u64"});
    }
    {
        GgufBuilder b = small_model();
        b.kv("general.alignment", Value::of_i32(32));
        expect_error(b.build().bytes, {"must be of type u32, found i32"});
    }
    {
        // A valid non-default alignment that the tensor offsets do not follow.
        GgufBuilder b = small_model();
        b.kv("general.alignment", Value::of_u32(64));
        expect_error(b.build().bytes, {"tensor 'output.weight': data offset 96", "alignment 64"});
    }
}

TEST(GgufMalformed, BadMagic) {
    GgufImage img = small_model().build();
    img.bytes[3] = 'G';
    expect_error(img.bytes, {"bad magic at offset 0", "found 47 47 55 47"});
}

TEST(GgufMalformed, UnsupportedVersions) {
    for (uint32_t v : {0u, 1u, 4u}) {
        GgufImage img = small_model().build();
        img.patch_u32("version", v);
        expect_error(img.bytes, {"unsupported GGUF version " + std::to_string(v) + " at offset 4"});
    }
    GgufImage img = small_model().build();
    img.patch_u32("version", 3u << 24);  // a big-endian v3 file read on a little-endian host
    expect_error(img.bytes, {"unsupported GGUF version 50331648", "big-endian"});
}

TEST(GgufMalformed, DuplicateTensorNames) {
    GgufBuilder b;
    b.tensor("w", {32}, Type::F32).tensor("x", {32}, Type::F32).tensor("w", {64}, Type::F16);
    expect_error(b.build().bytes, {"tensor 'w': duplicate tensor name: tensor info 2", "repeats tensor info 0"});
}

TEST(GgufMalformed, DuplicateKeys) {
    GgufBuilder b = small_model();
    b.kv("a.arr", Value::of_u32(1));
    expect_error(b.build().bytes, {"duplicate key 'a.arr': KV 4 at offset", "repeats KV 1"});
}

TEST(GgufMalformed, EmptyKey) {
    GgufBuilder b = small_model();
    b.kv("", Value::of_u32(1));
    expect_error(b.build().bytes, {"KV 4 at offset", "has an empty key"});
}

TEST(GgufMalformed, UnknownTensorType) {
    for (int32_t id : {4, 31, 43, 1000, -1}) {
        GgufImage img = small_model().build();
        img.patch_u32("tensor.0.type", static_cast<uint32_t>(id));
        expect_error(img.bytes, {"tensor 'blk.0.attn_q.weight': unknown ggml type id " + std::to_string(id) +
                                 " at offset " + std::to_string(img.offset_of("tensor.0.type"))});
    }
}

TEST(GgufMalformed, UnknownValueTypes) {
    {
        GgufImage img = small_model().build();
        img.patch_u32("kv.3.type", 13);
        expect_error(img.bytes, {"KV 3 ('a.u32') value: unknown value type 13"});
    }
    {
        GgufImage img = small_model().build();
        img.patch_u32("kv.1.value", 99);
        expect_error(img.bytes, {"KV 1 ('a.arr') value: unknown array element type 99"});
    }
}

TEST(GgufMalformed, NestingDepthIsBounded) {
    // 1000 arrays nested in one another, each holding the next: rejected, not a stack overflow.
    test::ByteSink s;
    s.put_raw("GGUF", 4);
    s.put<uint32_t>(3);
    s.put<uint64_t>(0);
    s.put<uint64_t>(1);
    s.put_string("deep");
    s.put<uint32_t>(static_cast<uint32_t>(ValueType::ARRAY));
    for (int d = 0; d < 1000; ++d) {
        s.put<uint32_t>(static_cast<uint32_t>(ValueType::ARRAY));
        s.put<uint64_t>(1);
    }
    expect_error(s.bytes, {"KV 0 ('deep')", "arrays nested deeper than 16 levels"});
}

TEST(GgufMalformed, RowNotAMultipleOfBlockSize) {
    GgufImage img = small_model().build();
    img.patch_i64("tensor.0.ne.0", 48);
    expect_error(img.bytes, {"tensor 'blk.0.attn_q.weight': ne0 = 48 is not a multiple of the block size 32 of type q8_0"});
}

TEST(GgufMalformed, BadShapes) {
    {
        GgufImage img = small_model().build();
        img.patch_i64("tensor.1.ne.0", int64_t{1} << 40);
        img.patch_i64("tensor.1.ne.1", int64_t{1} << 40);
        expect_error(img.bytes, {"tensor 'output.weight': element count of shape [1099511627776, 1099511627776] "
                                 "overflows int64"});
    }
    {
        GgufImage img = small_model().build();
        img.patch_i64("tensor.1.ne.0", int64_t{1} << 62);
        img.patch_i64("tensor.1.ne.1", 1);
        expect_error(img.bytes, {"tensor 'output.weight': byte size of shape [4611686018427387904, 1] in type f32 overflows"});
    }
    {
        GgufImage img = small_model().build();
        img.patch_i64("tensor.1.ne.1", -4);
        expect_error(img.bytes, {"tensor 'output.weight': ne[1] = -4 is negative"});
    }
    {
        // A huge but representable tensor is caught by the bounds check, without arithmetic wrap-around.
        GgufImage img = small_model().build();
        img.patch_i64("tensor.1.ne.0", int64_t{1} << 60);
        img.patch_i64("tensor.1.ne.1", 1);
        expect_error(img.bytes, {"tensor 'output.weight': data (4611686018427387904 bytes", "extends past the end"});
    }
}

TEST(GgufMalformed, OpenReportsFileProblems) {
    const std::string dir = test::fresh_test_dir("GgufMalformed.Open");
    auto message = [](const std::string& path) {
        try {
            gguf::Reader::open(path);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    EXPECT_EQ(message(dir + "/missing.gguf"), dir + "/missing.gguf: cannot open: No such file or directory");
    EXPECT_EQ(message(dir), dir + ": not a regular file (a directory); kquant-cuda reads only regular files");
    test::write_file(dir + "/empty.gguf", {});
    EXPECT_EQ(message(dir + "/empty.gguf"),
              dir + "/empty.gguf: truncated file: magic needs 4 bytes at offset 0, file has 0");
    GgufImage img = small_model().build();
    img.bytes.resize(img.bytes.size() - 1);
    test::write_file(dir + "/cut.gguf", img.bytes);
    EXPECT_NE(message(dir + "/cut.gguf").find(dir + "/cut.gguf: tensor 'output.weight': data"), std::string::npos);
}

// Random byte corruption of a valid image: every result is a parse or a kquant::Error, never a crash or
// another exception (the sanitizer build checks the reads).
TEST(GgufMalformed, RandomCorruptionNeverCrashes) {
    const GgufImage base = small_model().build();
    const size_t meta_end = base.offset_of("infos_end");
    std::mt19937 rng(12345);
    int errors = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        std::vector<uint8_t> bytes = base.bytes;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < flips; ++k) {
            const size_t at = rng() % meta_end;
            switch (rng() % 3) {
                case 0: bytes[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
                case 1: bytes[at] = static_cast<uint8_t>(rng()); break;
                default: bytes[at] = (rng() & 1) ? 0xff : 0x00; break;
            }
        }
        const size_t len = (rng() % 4 == 0) ? rng() % (bytes.size() + 1) : bytes.size();
        try {
            const std::vector<uint8_t> exact(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(len));
            auto r = gguf::parse(exact.data(), exact.size(), kName);
            for (const auto& t : r->tensors()) {
                ASSERT_LE(r->data_offset() + t.offset + t.nbytes, exact.size()) << t.name;
                volatile uint8_t sink = t.nbytes ? r->tensor_data(t)[t.nbytes - 1] : 0;
                (void)sink;
            }
        } catch (const Error& e) {
            ++errors;
            ASSERT_EQ(std::string(e.what()).rfind(std::string(kName) + ": ", 0), 0u) << e.what();
        }
    }
    EXPECT_GT(errors, 1000);
}

}  // namespace
}  // namespace kquant
