// validate_row against ggml_validate_row_data: which fields each type checks (offsets read from
// ggml-common.h independently of the codec headers), which it leaves alone, the first failing block, the
// float types element by element, and the golden files: exactly the tensors ggml's validator rejects
// (the reference quirks listed in tests/data/README.md) fail, every other tensor passes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "kquant/gguf.h"
#include "kquant/types.h"
#include "kquant/validate.h"

namespace kquant {
namespace {

// The fp16 fields ggml checks, per block type, in its order: byte offset in the block.
struct Checked {
    Type type;
    std::vector<size_t> halves;
};
const std::vector<Checked>& fp16_checked() {
    static const std::vector<Checked> v = {
        {Type::Q4_0, {0}},     {Type::Q4_1, {0, 2}},  {Type::Q5_0, {0}},     {Type::Q5_1, {0, 2}},
        {Type::Q8_0, {0}},     {Type::Q2_K, {80, 82}}, {Type::Q3_K, {108}},  {Type::Q4_K, {0, 2}},
        {Type::Q5_K, {0, 2}},  {Type::Q6_K, {208}},   {Type::IQ4_NL, {0}},   {Type::IQ4_XS, {0}},
        {Type::IQ2_XXS, {0}},  {Type::IQ2_XS, {0}},   {Type::IQ2_S, {0}},    {Type::IQ3_XXS, {0}},
        {Type::IQ3_S, {0}},    {Type::IQ1_S, {0}},    {Type::TQ1_0, {52}},   {Type::TQ2_0, {64}},
        {Type::Q1_0, {0}},     {Type::Q2_0, {0}},
    };
    return v;
}

void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v);
    p[1] = static_cast<uint8_t>(v >> 8);
}

// IQ1_M: the fp16 scale is split over the top nibbles of the four u16 words at scales[] (offset 48).
void put_iq1m_scale(uint8_t* block, uint16_t h) {
    for (int w = 0; w < 4; ++w) {
        uint8_t* hi = block + 48 + 2 * w + 1;
        *hi = static_cast<uint8_t>((*hi & 0x0F) | (((h >> (4 * w)) & 0xF) << 4));
    }
}

constexpr uint16_t kBadHalves[] = {0x7C00, 0xFC00, 0x7C01, 0x7E00, 0xFFFF};

std::vector<uint8_t> blocks(Type t, size_t n, uint8_t fill) {
    return std::vector<uint8_t>(type_info(t).block_bytes * n, fill);
}

// Every byte 0xFF except the checked fields, which hold 1.0: only the checked fields may matter.
std::vector<uint8_t> valid_noisy(const Checked& c, size_t n) {
    std::vector<uint8_t> b = blocks(c.type, n, 0xFF);
    for (size_t i = 0; i < n; ++i)
        for (size_t off : c.halves) put16(b.data() + i * type_info(c.type).block_bytes + off, 0x3C00);
    return b;
}

TEST(ValidateRow, ZeroBlocksPassForEveryType) {
    for (const TypeInfo& ti : kTypes) {
        if (ti.id == Type::Q8_1) continue;  // ggml's validator rejects the type itself
        const std::vector<uint8_t> b = blocks(ti.id, 3, 0);
        const RowProblem r = validate_row(ti.id, b.data(), b.size());
        EXPECT_TRUE(r.ok) << ti.name << ": " << (r.what ? r.what : "");
        EXPECT_EQ(r.what, nullptr);
    }
}

TEST(ValidateRow, OnlyTheCheckedFp16FieldsMatter) {
    for (const Checked& c : fp16_checked()) {
        const std::vector<uint8_t> b = valid_noisy(c, 4);
        EXPECT_TRUE(validate_row(c.type, b.data(), b.size()).ok) << type_info(c.type).name;
    }
}

TEST(ValidateRow, EachCheckedFp16FieldFailsAtItsBlock) {
    for (const Checked& c : fp16_checked()) {
        const size_t bs = type_info(c.type).block_bytes;
        for (size_t k = 0; k < c.halves.size(); ++k)
            for (uint16_t bad : kBadHalves) {
                std::vector<uint8_t> b = valid_noisy(c, 5);
                put16(b.data() + 3 * bs + c.halves[k], bad);
                put16(b.data() + 4 * bs + c.halves[0], 0x7C00);  // a later bad block is not the one reported
                const RowProblem r = validate_row(c.type, b.data(), b.size());
                const std::string label = std::string(type_info(c.type).name) + " field " + std::to_string(k);
                EXPECT_FALSE(r.ok) << label;
                EXPECT_EQ(r.block, 3) << label;
                ASSERT_NE(r.what, nullptr) << label;
                const bool nan = (bad & 0x03FF) != 0;
                EXPECT_NE(std::string(r.what).find(nan ? "nan" : "inf"), std::string::npos) << label << ": " << r.what;
            }
    }
}

TEST(ValidateRow, FieldNamesSayWhichScale) {
    std::vector<uint8_t> b = blocks(Type::Q4_1, 2, 0);
    put16(b.data() + 20 + 2, 0x7C00);
    EXPECT_STREQ(validate_row(Type::Q4_1, b.data(), b.size()).what, "inf min m");
    put16(b.data() + 20, 0x7E00);  // d is checked before m
    EXPECT_STREQ(validate_row(Type::Q4_1, b.data(), b.size()).what, "nan scale d");
    std::vector<uint8_t> k = blocks(Type::Q2_K, 1, 0);
    put16(k.data() + 82, 0xFC00);
    EXPECT_STREQ(validate_row(Type::Q2_K, k.data(), k.size()).what, "inf min dmin");
}

TEST(ValidateRow, Iq1mChecksItsPackedScale) {
    std::vector<uint8_t> b = blocks(Type::IQ1_M, 3, 0xFF);
    for (int i = 0; i < 3; ++i) put_iq1m_scale(b.data() + 56 * i, 0x3C00);
    EXPECT_TRUE(validate_row(Type::IQ1_M, b.data(), b.size()).ok);
    for (uint16_t bad : kBadHalves) {
        std::vector<uint8_t> c = b;
        put_iq1m_scale(c.data() + 56 * 1, bad);
        const RowProblem r = validate_row(Type::IQ1_M, c.data(), c.size());
        EXPECT_FALSE(r.ok);
        EXPECT_EQ(r.block, 1);
    }
    // Low bits of the scale words are codes: never checked.
    std::vector<uint8_t> z = blocks(Type::IQ1_M, 1, 0);
    for (int w = 0; w < 4; ++w) z[48 + 2 * w] = 0xFF, z[48 + 2 * w + 1] = 0x0F;
    EXPECT_TRUE(validate_row(Type::IQ1_M, z.data(), z.size()).ok);
}

TEST(ValidateRow, Mxfp4RejectsExponent255Only) {
    std::vector<uint8_t> b = blocks(Type::MXFP4, 4, 0xFF);
    for (int i = 0; i < 4; ++i) b[17 * i] = 0xFE;
    EXPECT_TRUE(validate_row(Type::MXFP4, b.data(), b.size()).ok);
    b[17 * 2] = 0xFF;
    const RowProblem r = validate_row(Type::MXFP4, b.data(), b.size());
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.block, 2);
    EXPECT_STREQ(r.what, "invalid E8M0 exponent 255");
}

TEST(ValidateRow, Nvfp4AndIntegerTypesCheckNothing) {
    for (Type t : {Type::NVFP4, Type::I8, Type::I16, Type::I32, Type::I64}) {
        const std::vector<uint8_t> b = blocks(t, 7, 0xFF);
        EXPECT_TRUE(validate_row(t, b.data(), b.size()).ok) << type_info(t).name;
    }
}

TEST(ValidateRow, Q8KChecksItsFloatScale) {
    std::vector<uint8_t> b = blocks(Type::Q8_K, 3, 0xFF);
    const float one = 1.0f, inf = std::numeric_limits<float>::infinity();
    for (int i = 0; i < 3; ++i) std::memcpy(b.data() + 292 * i, &one, 4);
    EXPECT_TRUE(validate_row(Type::Q8_K, b.data(), b.size()).ok);
    std::memcpy(b.data() + 292 * 2, &inf, 4);
    const RowProblem r = validate_row(Type::Q8_K, b.data(), b.size());
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.block, 2);
}

template <class F>
std::vector<uint8_t> raw(const std::vector<F>& v) {
    std::vector<uint8_t> b(v.size() * sizeof(F));
    std::memcpy(b.data(), v.data(), b.size());
    return b;
}

TEST(ValidateRow, FloatTypesNameTheFirstBadElement) {
    const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
    std::vector<float> f(37, 1.5f);
    f[20] = -inf;
    f[30] = nan;
    RowProblem r = validate_row(Type::F32, raw(f).data(), f.size() * 4);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.block, 20);
    EXPECT_STREQ(r.what, "inf value");
    f[20] = 3.4028235e38f;  // finite
    r = validate_row(Type::F32, raw(f).data(), f.size() * 4);
    EXPECT_EQ(r.block, 30);
    EXPECT_STREQ(r.what, "nan value");

    std::vector<double> d(9, 0.0);
    d[8] = std::numeric_limits<double>::quiet_NaN();
    r = validate_row(Type::F64, raw(d).data(), d.size() * 8);
    EXPECT_EQ(r.block, 8);

    std::vector<uint16_t> h(19, 0x7BFF);  // 65504: finite
    EXPECT_TRUE(validate_row(Type::F16, raw(h).data(), h.size() * 2).ok);
    h[17] = 0xFC00;
    r = validate_row(Type::F16, raw(h).data(), h.size() * 2);
    EXPECT_EQ(r.block, 17);
    EXPECT_STREQ(r.what, "inf value");

    // BF16: ggml reports NaNs before infinities, wherever they are in the row.
    std::vector<uint16_t> bf(10, 0x7F7F);  // finite
    EXPECT_TRUE(validate_row(Type::BF16, raw(bf).data(), bf.size() * 2).ok);
    bf[2] = 0xFF80;  // -inf
    bf[6] = 0x7FC0;  // nan
    r = validate_row(Type::BF16, raw(bf).data(), bf.size() * 2);
    EXPECT_EQ(r.block, 6);
    EXPECT_STREQ(r.what, "nan value");
    bf[6] = 0;
    r = validate_row(Type::BF16, raw(bf).data(), bf.size() * 2);
    EXPECT_EQ(r.block, 2);
    EXPECT_STREQ(r.what, "inf value");
}

TEST(ValidateRow, RejectsPartialBlocksAndTypesGgmlDoesNotValidate) {
    const std::vector<uint8_t> b(100, 0);
    RowProblem r = validate_row(Type::Q4_0, b.data(), 19);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.block, -1);
    r = validate_row(Type::F32, b.data(), 6);
    EXPECT_FALSE(r.ok);
    r = validate_row(Type::Q8_1, b.data(), 36);
    EXPECT_FALSE(r.ok);
    EXPECT_STREQ(r.what, "invalid type");
    r = validate_row(static_cast<Type>(4), b.data(), 18);  // a removed ggml id
    EXPECT_FALSE(r.ok);
    EXPECT_TRUE(validate_row(Type::Q4_0, b.data(), 0).ok);  // an empty row has nothing to reject
}

// ---- golden files ----------------------------------------------------------------------------------

// Names of the tensors of a golden file that fail validation (the whole tensor in one call; the first
// failure is the same as row by row, its block index counted from the tensor's start).
std::set<std::string> failing_tensors(const char* path, size_t* checked) {
    const std::unique_ptr<gguf::Reader> g = gguf::Reader::open(path);
    std::set<std::string> bad;
    for (const gguf::TensorInfo& t : g->tensors()) {
        ++*checked;
        const RowProblem r = validate_row(t.type, g->tensor_data(t), t.nbytes);
        if (!r.ok) {
            bad.insert(t.name);
            std::printf("  %s: block %lld: %s\n", t.name.c_str(), static_cast<long long>(r.block), r.what);
        }
    }
    return bad;
}

TEST(ValidateRowGolden, KquantsGoldenFailsExactlyOnTheInfScales) {
    size_t checked = 0;
    const std::set<std::string> bad = failing_tensors(KQ_GOLDEN_PATH, &checked);
    EXPECT_GT(checked, 200u);
    EXPECT_EQ(bad, (std::set<std::string>{"huge_6e4.q4_1.imat", "huge_6e4.q5_1.imat"}));
}

TEST(ValidateRowGolden, ExtraTypesGoldenFailsExactlyOnTheE8m0Exponent255) {
    size_t checked = 0;
    const std::set<std::string> bad = failing_tensors(KQ_EXTRA_GOLDEN_PATH, &checked);
    EXPECT_GT(checked, 200u);
    EXPECT_EQ(bad, (std::set<std::string>{"tiny_1e-38.mxfp4", "tiny_1e-38.mxfp4.imat"}));
}

}  // namespace
}  // namespace kquant
