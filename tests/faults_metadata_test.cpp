// Issue 12, item 12 and messages: metadata that would cost far more memory than its file is refused up
// front; names in messages are escaped and shortened.
#include <gtest/gtest.h>

#include <cstring>

#include "kquant/error.h"
#include "kquant/gguf.h"
#include "kquant/imatrix.h"
#include "kquant/presets.h"
#include "support/gguf_builder.h"
#include "support/imatrix_files.h"

namespace kquant::test {
namespace {

std::string parse_error(const std::vector<uint8_t>& bytes) {
    try {
        gguf::parse(bytes.data(), bytes.size(), "m.gguf");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// A KV holding an array of n elements of type `elem`, each of `elem_bytes` zero bytes.
std::vector<uint8_t> array_image(gguf::ValueType elem, uint64_t n, size_t elem_bytes) {
    ByteSink s;
    s.put_raw("GGUF", 4);
    s.put<uint32_t>(3);
    s.put<uint64_t>(0);
    s.put<uint64_t>(1);
    s.put_string("tokenizer.ggml.tokens");
    s.put<uint32_t>(static_cast<uint32_t>(gguf::ValueType::ARRAY));
    s.put<uint32_t>(static_cast<uint32_t>(elem));
    s.put<uint64_t>(n);
    s.bytes.resize(s.bytes.size() + n * elem_bytes, 0);
    return s.bytes;
}

// Millions of empty strings (8 bytes each in the file) took 1.26 GB once parsed; u8 values cost ~100
// times their size. Beyond the bound (512 MiB parsed) both are refused before anything is allocated.
TEST(FaultsMetadata, MetadataBeyondTheMemoryBoundIsRefused) {
    for (const auto& [elem, n, size] : {std::tuple{gguf::ValueType::STRING, uint64_t{6} << 20, size_t{8}},
                                        std::tuple{gguf::ValueType::U8, uint64_t{6} << 20, size_t{1}}}) {
        const std::string msg = parse_error(array_image(elem, n, size));
        EXPECT_NE(msg.find("more than 512 MiB of memory"), std::string::npos) << msg;
    }
    // A real tokenizer (a few hundred thousand entries) stays well below the bound.
    EXPECT_EQ(parse_error(array_image(gguf::ValueType::STRING, 300000, 8)), "");
}

// ggml refuses tensor names of 64 bytes or more (GGML_MAX_NAME); so do we, which also bounds what a
// --tensor-type pattern is matched against.
TEST(FaultsMetadata, TensorNamesOverGgmlsLimitAreRefused) {
    GgufBuilder ok, bad;
    ok.tensor(std::string(63, 'n'), {4}, Type::F32);
    bad.tensor(std::string(100000, 'n'), {4}, Type::F32);
    EXPECT_EQ(parse_error(ok.build().bytes), "");
    const std::string msg = parse_error(bad.build().bytes);
    EXPECT_NE(msg.find("has 100000 bytes; ggml allows at most 63"), std::string::npos) << msg.substr(0, 300);
    EXPECT_LT(msg.size(), 400u) << "the name was echoed whole";
}

TEST(FaultsMetadata, NamesInMessagesAreEscapedAndShortened) {
    EXPECT_EQ(printable("blk.0.attn_q.weight"), "'blk.0.attn_q.weight'");
    static const char raw[] = "a\0b\x1b[2J\n\t\x7f";
    EXPECT_EQ(printable(std::string(raw, sizeof raw - 1)), "'a\\x00b\\x1b[2J\\n\\t\\x7f'");
    EXPECT_EQ(printable("caf\xc3\xa9"), "'caf\xc3\xa9'");                   // UTF-8 passes
    EXPECT_EQ(printable("\xc2\x9b" "1m"), "'\\xc2\\x9b1m'");                // C1 control (CSI) escaped
    EXPECT_EQ(printable("\xff\xc3"), "'\\xff\\xc3'");                      // invalid UTF-8 escaped
    EXPECT_EQ(printable(std::string(1000, 'x'), 10), "'xxxxxxxxxx'... (1000 bytes)");
    // The Error type itself never carries a NUL or an escape sequence.
    static const char msg[] = "tensor 'a\0b': \x1b[31mred";
    const Error e(std::string(msg, sizeof msg - 1));
    EXPECT_EQ(std::string(e.what()), "tensor 'a\\x00b': \\x1b[31mred");
    EXPECT_EQ(std::string(Error("two\nlines\tkept").what()), "two\nlines\tkept");
    EXPECT_EQ(context("f.gguf", std::string("x\0y", 3), "bad"), "f.gguf: tensor 'x\\x00y': bad");

    // A legacy imatrix entry name with an escape sequence.
    const std::vector<uint8_t> dat = imatrix_legacy_bytes({{"blk.0\x1b[2J", 1, std::vector<float>(4, 0.0f)}});
    const Imatrix im = parse_imatrix_legacy(dat, "im.dat");
    const std::vector<std::string> w = imatrix_warnings(im);
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(w[0].find('\x1b'), std::string::npos) << w[0];
    EXPECT_NE(w[0].find("'blk.0\\x1b[2J': all 4 values are zero"), std::string::npos) << w[0];
}

}  // namespace
}  // namespace kquant::test
