// Targeted checks of the 32-element legacy types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) and IQ4_NL / IQ4_XS.
// Every expected value is derived by hand from the behaviour spec (§8, §9, §10.5, §11.1, §11.3, §12) or
// from ggml's golden bytes, never from running this code. The full byte-exactness check over all golden
// cases is the generic golden test.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kquant/codec.h"
#include "kquant/formats/iq4.h"
#include "kquant/formats/legacy.h"
#include "kquant/numeric.h"
#include "kquant/quantize.h"
#include "kquant/search/iq4.h"

namespace kquant {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

template <class Block>
std::vector<uint8_t> bytes_of(const Block& b) {
    std::vector<uint8_t> v(sizeof(Block));
    std::memcpy(v.data(), &b, sizeof(Block));
    return v;
}

// Quantizes one block-sized row through the registered scalar codec (qw: null = plain path).
std::vector<uint8_t> quantize_one(Type t, const std::vector<float>& x, const float* qw = nullptr) {
    const RowCodec* c = scalar_codec(t);
    EXPECT_NE(c, nullptr) << type_info(t).name;
    std::vector<uint8_t> out(row_bytes(t, static_cast<int64_t>(x.size())));
    if (c != nullptr) c->quantize_row(x.data(), out.data(), static_cast<int64_t>(x.size()), qw);
    return out;
}

std::vector<float> dequantize_one(Type t, const std::vector<uint8_t>& b, int64_t n) {
    std::vector<float> y(static_cast<size_t>(n));
    scalar_codec(t)->dequantize_row(b.data(), y.data(), n);
    return y;
}

uint16_t u16_at(const std::vector<uint8_t>& b, size_t off) {
    return static_cast<uint16_t>(b[off] | (b[off + 1] << 8));
}

TEST(LegacyRegistry, AllLegacyAndIq4TypesHaveScalarCodecs) {
    for (Type t : {Type::Q4_0, Type::Q4_1, Type::Q5_0, Type::Q5_1, Type::Q8_0, Type::IQ4_NL, Type::IQ4_XS}) {
        const RowCodec* c = scalar_codec(t);
        ASSERT_NE(c, nullptr) << type_info(t).name;
        EXPECT_EQ(c->type, t);
    }
}

// ---- spec §12: zero blocks --------------------------------------------------------------------

TEST(LegacyZeroBlock, Q4_0StoresNegativeZeroScaleAndMidpointCodes) {
    const auto b = quantize_one(Type::Q4_0, std::vector<float>(32, 0.0f));
    ASSERT_EQ(b.size(), 18u);
    EXPECT_EQ(u16_at(b, 0), 0x8000);  // 0 / -8 = -0.0
    for (size_t i = 2; i < 18; ++i) EXPECT_EQ(b[i], 0x88) << i;
}

TEST(LegacyZeroBlock, Q5_0StoresNegativeZeroScaleAndAllHighBits) {
    const auto b = quantize_one(Type::Q5_0, std::vector<float>(32, 0.0f));
    ASSERT_EQ(b.size(), 22u);
    EXPECT_EQ(u16_at(b, 0), 0x8000);
    for (size_t i = 2; i < 6; ++i) EXPECT_EQ(b[i], 0xFF) << i;  // code 16: bit 4 set for every element
    for (size_t i = 6; i < 22; ++i) EXPECT_EQ(b[i], 0x00) << i;
}

TEST(LegacyZeroBlock, Q8_0Q4_1Q5_1AreAllZeroBytes) {
    for (Type t : {Type::Q8_0, Type::Q4_1, Type::Q5_1}) {
        const auto b = quantize_one(t, std::vector<float>(32, 0.0f));
        EXPECT_EQ(b, std::vector<uint8_t>(type_info(t).block_bytes, 0)) << type_info(t).name;
    }
}

TEST(LegacyZeroBlock, Iq4NlStoresZeroScaleAndIndex8) {
    const auto b = quantize_one(Type::IQ4_NL, std::vector<float>(32, 0.0f));
    ASSERT_EQ(b.size(), 18u);
    EXPECT_EQ(u16_at(b, 0), 0x0000);
    for (size_t i = 2; i < 18; ++i) EXPECT_EQ(b[i], 0x88) << i;
}

TEST(LegacyZeroBlock, Iq4XsStoresNegativeZeroScaleAndCode32) {
    const auto b = quantize_one(Type::IQ4_XS, std::vector<float>(256, 0.0f));
    ASSERT_EQ(b.size(), 136u);
    EXPECT_EQ(u16_at(b, 0), 0x8000);  // -max_scale/32 with max_scale = 0
    EXPECT_EQ(u16_at(b, 2), 0xAAAA);  // code 32 = high bits 2 for all eight sub-blocks
    for (size_t i = 4; i < 8; ++i) EXPECT_EQ(b[i], 0x00) << i;
    for (size_t i = 8; i < 136; ++i) EXPECT_EQ(b[i], 0x88) << i;
}

TEST(LegacyZeroBlock, ImatrixPathsOfZeroBlockAreAllZeroBytes) {
    // Unlike the reference paths: make_qx gives scale +0 and codes 0 for an all-zero group (§10.1), and
    // make_qkx3 gives scale 0, the_min = -0 and codes 0 (§10.3), stored as m = fp16(-the_min) = +0.
    const std::vector<float> w(32, 1.0f);
    for (Type t : {Type::Q4_0, Type::Q5_0, Type::Q4_1, Type::Q5_1}) {
        const auto b = quantize_one(t, std::vector<float>(32, 0.0f), w.data());
        EXPECT_EQ(b, std::vector<uint8_t>(type_info(t).block_bytes, 0)) << type_info(t).name;
    }
}

TEST(LegacyZeroBlock, Iq4ImatrixPathOfZeroBlockEqualsPlainPath) {
    // A sub-block with amax < 1e-15 skips the search whatever its weights are (§11.3).
    const std::vector<float> w(256, 3.0f);
    EXPECT_EQ(quantize_one(Type::IQ4_XS, std::vector<float>(256, 0.0f), w.data()),
              quantize_one(Type::IQ4_XS, std::vector<float>(256, 0.0f)));
    EXPECT_EQ(quantize_one(Type::IQ4_NL, std::vector<float>(32, 0.0f), w.data()),
              quantize_one(Type::IQ4_NL, std::vector<float>(32, 0.0f)));
}

// ---- spec §8.2: rounding of the reference paths --------------------------------------------------

TEST(LegacyRounding, Q4_0TruncatingCastRoundsHalfUp) {
    // max = -8 (largest |x|, negative) gives d = 1 and id = 1, so code = min(15, trunc(x + 8.5)).
    std::vector<float> x(32, 0.0f);
    x[0] = -8.0f;
    x[1] = 0.5f;    // 9.0 -> 9   (nearest-even of 0.5 would give 8)
    x[2] = -0.5f;   // 8.0 -> 8
    x[3] = 1.5f;    // 10
    x[4] = -1.5f;   // 7.0 -> 7
    x[5] = 2.5f;    // 11         (nearest-even would give 10)
    x[6] = 7.75f;   // 16.25 -> 16 -> capped at 15
    x[16] = 3.49f;  // 11.99 -> 11
    x[17] = -7.5f;  // 1.0 -> 1
    const auto b = quantize_one(Type::Q4_0, x);
    EXPECT_EQ(u16_at(b, 0), 0x3C00);  // fp16(1.0)
    const uint8_t* qs = b.data() + 2;
    EXPECT_EQ(qs[0] & 15, 0);
    EXPECT_EQ(qs[1] & 15, 9);
    EXPECT_EQ(qs[2] & 15, 8);
    EXPECT_EQ(qs[3] & 15, 10);
    EXPECT_EQ(qs[4] & 15, 7);
    EXPECT_EQ(qs[5] & 15, 11);
    EXPECT_EQ(qs[6] & 15, 15);
    EXPECT_EQ(qs[0] >> 4, 11);
    EXPECT_EQ(qs[1] >> 4, 1);
    EXPECT_EQ(qs[7], 0x88);
}

TEST(LegacyRounding, Q5_0TruncatingCastRoundsHalfUp) {
    // max = -16 gives d = 1: code = min(31, trunc(x + 16.5)); bit 4 of element j goes to qh bit j.
    std::vector<float> x(32, 0.0f);
    x[0] = -16.0f;  // 0.5 -> 0
    x[1] = 0.5f;    // 17
    x[2] = -0.5f;   // 16
    x[3] = 15.5f;   // 32 -> capped at 31
    x[17] = -2.5f;  // 14.0 -> 14
    const auto b = quantize_one(Type::Q5_0, x);
    EXPECT_EQ(u16_at(b, 0), 0x3C00);
    const uint32_t qh = b[2] | (b[3] << 8) | (b[4] << 16) | (static_cast<uint32_t>(b[5]) << 24);
    const uint8_t* qs = b.data() + 6;
    auto code = [&](int j) { return ((j < 16 ? qs[j] & 15 : qs[j - 16] >> 4) | (((qh >> j) & 1) << 4)); };
    EXPECT_EQ(code(0), 0);
    EXPECT_EQ(code(1), 17);
    EXPECT_EQ(code(2), 16);
    EXPECT_EQ(code(3), 31);
    EXPECT_EQ(code(17), 14);
    EXPECT_EQ(code(4), 16);
}

TEST(LegacyRounding, Q4_1AndQ5_1RoundHalfUpFromTheMinimum) {
    // min = 0 and max = 15 (Q4_1) / 31 (Q5_1) give d = 1: code = trunc(x + 0.5).
    std::vector<float> x(32, 1.0f);
    x[0] = 0.0f;
    x[1] = 15.0f;
    x[2] = 2.5f;   // 3 (nearest-even: 2)
    x[3] = 4.5f;   // 5 (nearest-even: 4)
    x[4] = 6.49f;  // 6
    auto b = quantize_one(Type::Q4_1, x);
    EXPECT_EQ(u16_at(b, 0), 0x3C00);  // d = 1
    EXPECT_EQ(u16_at(b, 2), 0x0000);  // m = 0
    const uint8_t* qs = b.data() + 4;
    EXPECT_EQ(qs[0] & 15, 0);
    EXPECT_EQ(qs[1] & 15, 15);
    EXPECT_EQ(qs[2] & 15, 3);
    EXPECT_EQ(qs[3] & 15, 5);
    EXPECT_EQ(qs[4] & 15, 6);
    EXPECT_EQ(qs[0] >> 4, 1);

    x[1] = 31.0f;
    x[5] = 30.5f;  // 31
    x[6] = 16.5f;  // 17: low nibble 1, high bit set
    b = quantize_one(Type::Q5_1, x);
    EXPECT_EQ(u16_at(b, 0), 0x3C00);
    EXPECT_EQ(u16_at(b, 2), 0x0000);
    const uint32_t qh = b[4] | (b[5] << 8) | (b[6] << 16) | (static_cast<uint32_t>(b[7]) << 24);
    EXPECT_EQ(qh, (1u << 1) | (1u << 5) | (1u << 6));
    EXPECT_EQ(b[8 + 2] & 15, 3);
    EXPECT_EQ(b[8 + 5] & 15, 15);
    EXPECT_EQ(b[8 + 6] & 15, 1);
}

TEST(LegacyRounding, Q8_0RoundsTiesAwayFromZero) {
    // amax = 127 gives d = 1: roundf(x).
    std::vector<float> x(32, 0.0f);
    x[0] = 127.0f;
    x[1] = 2.5f;    // 3
    x[2] = -2.5f;   // -3
    x[3] = 0.5f;    // 1
    x[4] = -0.5f;   // -1
    x[5] = 1.49f;   // 1
    const auto b = quantize_one(Type::Q8_0, x);
    EXPECT_EQ(u16_at(b, 0), 0x3C00);
    const auto* qs = reinterpret_cast<const int8_t*>(b.data() + 2);
    EXPECT_EQ(qs[0], 127);
    EXPECT_EQ(qs[1], 3);
    EXPECT_EQ(qs[2], -3);
    EXPECT_EQ(qs[3], 1);
    EXPECT_EQ(qs[4], -1);
    EXPECT_EQ(qs[5], 1);
}

TEST(LegacyRounding, TruncationFollowsX86ForNanAndOutOfRange) {
    EXPECT_EQ(legacy::trunc_to_int32_x86(2.9f), 2);
    EXPECT_EQ(legacy::trunc_to_int32_x86(-2.9f), -2);
    EXPECT_EQ(legacy::trunc_to_int32_x86(-2147483648.0f), INT32_MIN);
    EXPECT_EQ(legacy::trunc_to_int32_x86(2147483648.0f), INT32_MIN);
    EXPECT_EQ(legacy::trunc_to_int32_x86(kInf), INT32_MIN);
    EXPECT_EQ(legacy::trunc_to_int32_x86(-kInf), INT32_MIN);
    EXPECT_EQ(legacy::trunc_to_int32_x86(std::nanf("")), INT32_MIN);
    EXPECT_EQ(legacy::trunc_to_i8(200.0f), static_cast<int8_t>(-56));  // low byte 0xC8
    EXPECT_EQ(legacy::trunc_to_u8(kInf), 0);
}

TEST(LegacyRounding, Q4_0BlockWhoseInverseScaleOverflowsStoresCodeZero) {
    // As in golden tiny_1e-38: max = -2e-38 gives d = 2.5e-39, 1/d overflows to inf, x*id is +-inf
    // (or NaN for x = 0) and ggml's x86 cast yields 0 for every element. d rounds to fp16 +0.
    std::vector<float> x(32, 0.0f);
    x[0] = -2e-38f;
    x[1] = 1e-38f;
    x[20] = -5e-39f;
    const auto b = quantize_one(Type::Q4_0, x);
    EXPECT_EQ(u16_at(b, 0), 0x0000);
    for (size_t i = 2; i < 18; ++i) EXPECT_EQ(b[i], 0x00) << i;
}

TEST(LegacyRounding, Q8_0BlockWhoseInverseScaleOverflowsStoresCodeZero) {
    // Golden tiny_1e-38.q8_0 is all zero bytes: d = amax/127 is subnormal, 1/d = inf, roundf(+-inf)
    // converts to 0 on x86 (a saturating conversion would give +-127/-128).
    std::vector<float> x(32, 0.0f);
    x[0] = 2e-38f;
    x[1] = -1.5e-38f;
    x[2] = 3e-39f;
    const auto b = quantize_one(Type::Q8_0, x);
    EXPECT_EQ(b, std::vector<uint8_t>(34, 0));
}

TEST(LegacyRounding, Q8_0IgnoresTheImatrix) {
    std::vector<float> x(32), w(32);
    for (int j = 0; j < 32; ++j) {
        x[j] = 0.37f * static_cast<float>(j) - 5.0f;
        w[j] = static_cast<float>(j % 3);
    }
    EXPECT_EQ(quantize_one(Type::Q8_0, x, w.data()), quantize_one(Type::Q8_0, x));
}

// ---- spec §9: dequantizers --------------------------------------------------------------------

TEST(LegacyDequant, Q4_0AndQ4_1DecodeNibbles) {
    block_q4_0 a{};
    a.d = 0x3800;  // 0.5
    for (int j = 0; j < 16; ++j) a.qs[j] = 0x88;
    a.qs[0] = 0x1F;  // element 0 code 15, element 16 code 1
    auto y = dequantize_one(Type::Q4_0, bytes_of(a), 32);
    EXPECT_EQ(y[0], 3.5f);
    EXPECT_EQ(y[16], -3.5f);
    EXPECT_EQ(y[1], 0.0f);

    block_q4_1 b{};
    b.d = 0x4000;  // 2
    b.m = 0xBC00;  // -1
    b.qs[3] = 0x50;
    y = dequantize_one(Type::Q4_1, bytes_of(b), 32);
    EXPECT_EQ(y[3], -1.0f);
    EXPECT_EQ(y[19], 9.0f);
}

TEST(LegacyDequant, Q5_0AndQ5_1TakeBit4FromQh) {
    block_q5_0 a{};
    a.d = 0x3C00;
    a.qh[0] = 0x01;  // element 0
    a.qh[2] = 0x02;  // element 17
    a.qs[0] = 0x0F;
    a.qs[1] = 0x30;
    auto y = dequantize_one(Type::Q5_0, bytes_of(a), 32);
    EXPECT_EQ(y[0], 15.0f);    // 31 - 16
    EXPECT_EQ(y[16], -16.0f);  // 0 - 16
    EXPECT_EQ(y[17], 3.0f);    // 19 - 16
    EXPECT_EQ(y[1], -16.0f);

    block_q5_1 b{};
    b.d = 0x3800;  // 0.5
    b.m = 0x3C00;  // 1
    b.qh[3] = 0x80;  // element 31
    b.qs[15] = 0x20;
    y = dequantize_one(Type::Q5_1, bytes_of(b), 32);
    EXPECT_EQ(y[31], 10.0f);  // 18*0.5 + 1
    EXPECT_EQ(y[15], 1.0f);
}

TEST(LegacyDequant, Iq4NlAndIq4XsDecodeTableAndScaleCodes) {
    block_iq4_nl a{};
    a.d = 0x4000;  // 2
    a.qs[0] = 0xF0;
    const auto ya = dequantize_one(Type::IQ4_NL, bytes_of(a), 32);
    EXPECT_EQ(ya[0], -254.0f);  // 2 * -127
    EXPECT_EQ(ya[16], 226.0f);  // 2 * 113
    EXPECT_EQ(ya[1], -254.0f);
    block_iq4_xs b{};
    b.d = 0x3C00;
    b.scales_l[0] = 0x21;    // sub-block 0 low 1, sub-block 1 low 2
    b.scales_h = 0x0003;     // sub-block 0 high 3 -> code 49; sub-block 1 code 2; others code 0
    for (auto& q : b.qs) q = 0x88;
    b.qs[0] = 0x0F;
    const auto y = dequantize_one(Type::IQ4_XS, bytes_of(b), 256);
    EXPECT_EQ(y[0], 17.0f * 113.0f);
    EXPECT_EQ(y[16], 17.0f * -127.0f);
    EXPECT_EQ(y[32], -30.0f * 1.0f);
    EXPECT_EQ(y[64], -32.0f * 1.0f);
}

TEST(LegacyDequant, Q4_0GridValuesRoundTripExactly) {
    // Values on the code grid of d = 1 (max = -8) survive quantize + dequantize exactly.
    std::vector<float> x(32);
    for (int j = 0; j < 32; ++j) x[j] = static_cast<float>((j % 16) - 8);
    const auto y = dequantize_one(Type::Q4_0, quantize_one(Type::Q4_0, x), 32);
    EXPECT_EQ(y, x);
}

// ---- spec §10.5 and §11.3: the IQ4 search -------------------------------------------------------

TEST(LegacyIq4Search, BestIndexTiesGoUpAndEndsClamp) {
    constexpr iq4::Table T = iq4::table();
    EXPECT_EQ(iq4::best_index_int8(16, T.v, -4.5f), 8);     // midpoint of -10 and 1
    EXPECT_EQ(iq4::best_index_int8(16, T.v, -4.51f), 7);
    EXPECT_EQ(iq4::best_index_int8(16, T.v, 7.0f), 9);      // midpoint of 1 and 13
    EXPECT_EQ(iq4::best_index_int8(16, T.v, 101.0f), 15);   // midpoint of 89 and 113
    EXPECT_EQ(iq4::best_index_int8(16, T.v, -115.5f), 1);   // midpoint of -127 and -104
    EXPECT_EQ(iq4::best_index_int8(16, T.v, -1000.0f), 0);
    EXPECT_EQ(iq4::best_index_int8(16, T.v, -127.0f), 0);
    EXPECT_EQ(iq4::best_index_int8(16, T.v, 113.0f), 15);
    EXPECT_EQ(iq4::best_index_int8(16, T.v, 1e9f), 15);
    EXPECT_EQ(iq4::best_index_int8(16, T.v, 0.0f), 8);
    EXPECT_EQ(iq4::best_index_int8(16, T.v, 25.0f), 10);
}

TEST(LegacyIq4Search, ZeroImportanceWeightsGiveZeroScale) {
    // With all weights 0, sumq2 is 0 for every candidate: the scale stays 0 (§11.3), so IQ4_NL stores
    // d = 0 and, with id = 0, every index is best_index(0) = 8.
    std::vector<float> x(32);
    for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j) - 15.5f;
    const std::vector<float> w(32, 0.0f);
    const auto b = quantize_one(Type::IQ4_NL, x, w.data());
    EXPECT_EQ(u16_at(b, 0), 0x0000);
    for (size_t i = 2; i < 18; ++i) EXPECT_EQ(b[i], 0x88) << i;
}

TEST(LegacyIq4Search, Iq4XsOneNonZeroSubBlockGetsCodeZeroOthers32) {
    // Only sub-block 3 is non-zero: it holds max_scale, so d = -s/32 and its code is
    // nint((1/d)*s) + 32 = -32 + 32 = 0; the zero sub-blocks get l = 0 (code 32) and index 8.
    std::vector<float> x(256, 0.0f);
    for (int j = 0; j < 32; ++j) x[96 + j] = 0.25f * static_cast<float>(j % 7) - 0.6f;
    const auto b = quantize_one(Type::IQ4_XS, x);
    EXPECT_EQ(u16_at(b, 2), 0xAA2A);  // high bits 2 everywhere except sub-block 3
    for (size_t i = 4; i < 8; ++i) EXPECT_EQ(b[i], 0x00) << i;
    for (size_t i = 8; i < 8 + 48; ++i) EXPECT_EQ(b[i], 0x88) << i;
    for (size_t i = 8 + 64; i < 136; ++i) EXPECT_EQ(b[i], 0x88) << i;
    EXPECT_NE(u16_at(b, 0) & 0x7FFF, 0);
}

TEST(LegacyIq4Search, CandidateFoldEqualsSubBlockLoop) {
    // The kernel contract: sums of every candidate computed independently, then folded in ggml's order
    // with accept(), give the CPU loop's scale bit for bit.
    constexpr iq4::Table T = iq4::table();
    std::vector<float> x(32), w(32);
    for (int j = 0; j < 32; ++j) {
        x[j] = std::sin(0.7f * static_cast<float>(j)) * (1.0f + 0.1f * static_cast<float>(j));
        w[j] = x[j] * x[j];
    }
    const search::AbsArgmax m = search::abs_argmax(iq4::kSubBlock, x.data());
    iq4::Sums sums[2 * iq4::kNTry + 1];
    for (int k = 2 * iq4::kNTry; k >= 0; --k)  // any order
        sums[k] = iq4::candidate_sums(x.data(), w.data(), iq4::candidate_id(k - iq4::kNTry, m.max, T.v), T.v);
    iq4::ScaleState st = iq4::initial_state(x.data(), w.data(), m.max, T.v);
    for (const iq4::Sums& s : sums) st = iq4::accept(s, st);
    const float loop = iq4::subblock_scale(x.data(), w.data(), T.v);
    EXPECT_EQ(f32_bits(st.d), f32_bits(loop));
    EXPECT_NE(loop, 0.0f);
}

}  // namespace
}  // namespace kquant
