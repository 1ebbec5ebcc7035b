// Byte-exactness of the single-pass types TQ1_0, TQ2_0, MXFP4, NVFP4, Q1_0 and Q2_0 against ggml's golden
// bytes (extra-types-golden.gguf, every case, plain and imatrix: ggml ignores the weights, so both must
// equal the plain tensor), their dequantizers against an independent reading of each format, and the
// libm-free helpers (floor of log2f, the E8M0/UE4M3 conversions) against glibc and the formats' definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "kquant/codec.h"
#include "kquant/formats/fp4.h"
#include "kquant/formats/legacy.h"
#include "kquant/formats/q1_q2.h"
#include "kquant/formats/ternary.h"
#include "kquant/gguf.h"
#include "support/golden.h"
#include "kquant/numeric.h"
#include "kquant/types.h"

namespace kquant {
namespace {

const gguf::Reader& golden() { return test::extra_golden(); }
std::vector<std::string> golden_cases() { return test::golden_cases(golden()); }

constexpr size_t kGoldenCases = 18;

std::vector<float> f32_tensor(const std::string& name) {
    const gguf::TensorInfo* t = golden().find_tensor(name);
    if (t == nullptr || t->type != Type::F32) return {};
    std::vector<float> v(static_cast<size_t>(t->nelements()));
    std::memcpy(v.data(), golden().tensor_data(*t), v.size() * sizeof(float));
    return v;
}

using SmallCodecs = ::testing::Types<codec::TQ1_0, codec::TQ2_0, codec::MXFP4, codec::NVFP4, codec::Q1_0, codec::Q2_0>;

// ---- dequantizers against an independent reading of each format --------------------------------

// The value of element j of a block, read straight from the format description (ggml-common.h): the
// element's code located by its own arithmetic, the scale decoded with ldexp.
float e2m1_doubled(unsigned code) {
    const double mag[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    return static_cast<float>((code & 8 ? -2.0 : 2.0) * mag[code & 7] + 0.0);  // ggml's table is int8: no -0
}

float ref_value(const block_mxfp4& b, int j) {
    const int byte = j % 16;
    const unsigned code = j < 16 ? (b.qs[byte] & 15u) : (b.qs[byte] >> 4);
    const float d = static_cast<float>(std::ldexp(1.0, static_cast<int>(b.e) - 128));
    return e2m1_doubled(code) * d;
}

float ref_value(const block_nvfp4& b, int j) {
    const int s = j / 16, k = j % 16;
    const uint8_t byte = b.qs[8 * s + k % 8];
    const unsigned code = k < 8 ? (byte & 15u) : (byte >> 4);
    const uint8_t u = b.d[s];
    double scale;  // the UE4M3 value
    const int e = (u >> 3) & 15, m = u & 7;
    if (u == 0 || u == 0x7F) scale = 0;
    else if (e == 0) scale = std::ldexp(m, -9);
    else scale = std::ldexp(8 + m, e - 10);
    return e2m1_doubled(code) * static_cast<float>(scale / 2);
}

// Trit n (0 = most significant of five) of a TQ1_0 byte, minus 1. The byte holds ceil(q*256/243) for a
// base-3 number q of five trits, so q = floor(byte*243/256); then the plain base-3 digits.
int trit_of(uint8_t byte, int n) {
    int q = byte * 243 / 256;
    for (int k = 4; k > n; --k) q /= 3;
    return q % 3 - 1;
}

float ref_value(const block_tq1_0& b, int j) {
    const float d = fp16_to_fp32(b.d);
    if (j < 160) return static_cast<float>(trit_of(b.qs[j % 32], j / 32)) * d;
    if (j < 240) return static_cast<float>(trit_of(b.qs[32 + (j - 160) % 16], (j - 160) / 16)) * d;
    return static_cast<float>(trit_of(b.qh[(j - 240) % 4], (j - 240) / 4)) * d;
}

float ref_value(const block_tq2_0& b, int j) {
    const int g = j / 128, n = (j % 128) / 32, m = j % 32;
    return static_cast<float>(((b.qs[32 * g + m] >> (2 * n)) & 3) - 1) * fp16_to_fp32(b.d);
}

float ref_value(const block_q1_0& b, int j) {
    const float d = fp16_to_fp32(b.d);
    return (b.qs[j / 8] & (1 << (j % 8))) ? d : -d;
}

float ref_value(const block_q2_0& b, int j) {
    return static_cast<float>(((b.qs[j / 4] >> (2 * (j % 4))) & 3) - 1) * fp16_to_fp32(b.d);
}

bool same_float(float a, float b) { return f32_bits(a) == f32_bits(b); }

template <class C>
class SmallTypesDequant : public ::testing::Test {};
TYPED_TEST_SUITE(SmallTypesDequant, SmallCodecs);

TYPED_TEST(SmallTypesDequant, EveryGoldenBlockDecodesAsTheFormatSays) {
    using Block = typename TypeParam::Block;
    size_t blocks = 0;
    const std::string tname(type_info(TypeParam::type).name);
    for (const std::string& cs : golden_cases()) {
        const gguf::TensorInfo* t = golden().find_tensor(cs + "." + tname);
        ASSERT_NE(t, nullptr) << cs;
        const size_t nb = t->nbytes / sizeof(Block);
        const Block* b = reinterpret_cast<const Block*>(golden().tensor_data(*t));
        std::vector<float> y(TypeParam::kBlockElems);
        for (size_t i = 0; i < nb; ++i, ++blocks) {
            TypeParam::dequantize(b + i, y.data());
            for (int j = 0; j < TypeParam::kBlockElems; ++j)
                ASSERT_TRUE(same_float(y[j], ref_value(b[i], j)))
                    << cs << " block " << i << " element " << j << ": " << y[j] << " vs " << ref_value(b[i], j);
        }
    }
    EXPECT_GT(blocks, 0u);
}

// Every code of one block through the row driver: the whole code space, not only what the golden holds.
TEST(SmallTypesDequant, AllCodesThroughTheRowDriver) {
    block_mxfp4 mx{};
    mx.e = 130;  // half scale 2^2
    for (int j = 0; j < 16; ++j) mx.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    std::vector<float> y(32);
    dequantize_row<codec::MXFP4>(&mx, y.data(), 32);
    const float expect_lo[16] = {0, 4, 8, 12, 16, 24, 32, 48, 0, -4, -8, -12, -16, -24, -32, -48};
    for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(y[j], expect_lo[j]) << j;
        EXPECT_EQ(y[16 + j], expect_lo[15 - j]) << j;
    }
    EXPECT_FALSE(std::signbit(y[8]));  // code 8 is the int8 table's 0, not -0

    block_tq1_0 tq{};
    tq.d = fp32_to_fp16(2.0f);
    // 5 trits (2, 0, 1, 2, 1) -> 2*81 + 0*27 + 1*9 + 2*3 + 1 = 178, stored as ceil(178*256/243) = 188.
    tq.qs[0] = 188;
    std::vector<float> t(256);
    dequantize_row<codec::TQ1_0>(&tq, t.data(), 256);
    const float expect_t[5] = {2, -2, 0, 2, 0};
    for (int n = 0; n < 5; ++n) EXPECT_EQ(t[32 * n], expect_t[n]) << n;
}

// Hand-made inputs with known codes.
TEST(SmallTypesQuantize, KnownBlocks) {
    {  // Q2_0: d = 4, x/d = 1, -1, 0.5 (roundf away: 1), -0.49 (0)
        std::vector<float> x(64, 0.0f);
        x[0] = 4.0f, x[1] = -4.0f, x[2] = 2.0f, x[3] = -1.96f;
        block_q2_0 b{};
        codec::Q2_0::quantize(x.data(), &b);
        EXPECT_EQ(b.d, fp32_to_fp16(4.0f));
        EXPECT_EQ(b.qs[0], 2 | (0 << 2) | (2 << 4) | (1 << 6));
        for (int i = 1; i < 16; ++i) EXPECT_EQ(b.qs[i], 0x55) << i;
    }
    {  // Q1_0: mean |x| and signs, -0.0 counts as non-negative
        std::vector<float> x(128, 1.0f);
        x[1] = -3.0f, x[2] = -0.0f;
        block_q1_0 b{};
        codec::Q1_0::quantize(x.data(), &b);
        EXPECT_EQ(b.d, fp32_to_fp16(129.0f / 128.0f));
        EXPECT_EQ(b.qs[0], 0xFD);
    }
    {  // MXFP4: amax 6 -> floor(log2 6) = 2 -> e = 127, half scale 0.5: 6 -> 12 (code 7), 1 -> 2 (code 2)
        std::vector<float> x(32, 0.0f);
        x[0] = 6.0f, x[16] = -1.0f;
        block_mxfp4 b{};
        codec::MXFP4::quantize(x.data(), &b);
        EXPECT_EQ(b.e, 127);
        EXPECT_EQ(b.qs[0], 7 | (10 << 4));
    }
    {  // NVFP4: sub-block 0 max 6 -> scale 1 (code 0x38), half 0.5; sub-block 1 all zero -> code 0
        std::vector<float> x(64, 0.0f);
        x[0] = 6.0f, x[8] = -3.0f;
        block_nvfp4 b{};
        codec::NVFP4::quantize(x.data(), &b);
        EXPECT_EQ(b.d[0], 0x38);
        EXPECT_EQ(b.d[1], 0);
        EXPECT_EQ(b.qs[0], 7 | (13 << 4));
    }
    {  // TQ2_0: amax 2, trits of 2, -2, 1 (0.5 rounds away to 1), -0.9 (-0.45 -> 0)
        std::vector<float> x(256, 0.0f);
        x[0] = 2.0f, x[32] = -2.0f, x[64] = 1.0f, x[96] = -0.9f;
        block_tq2_0 b{};
        codec::TQ2_0::quantize(x.data(), &b);
        EXPECT_EQ(b.d, fp32_to_fp16(2.0f));
        EXPECT_EQ(b.qs[0], 2 | (0 << 2) | (2 << 4) | (1 << 6));
    }
}

// ggml ignores the weights: any imatrix, even zeros, leaves the bytes of the plain path.
TEST(SmallTypesQuantize, WeightsAreIgnored) {
    const std::vector<float> x = f32_tensor("realistic.input");
    ASSERT_GE(x.size(), 256u);
    std::vector<float> zeros(256, 0.0f), big(256, 1e30f);
    auto check = [&](auto codec_tag) {
        using C = decltype(codec_tag);
        std::vector<uint8_t> a(row_bytes(C::type, 256)), b(a.size()), c(a.size());
        quantize_row<C>(x.data(), a.data(), 256, nullptr);
        quantize_row<C>(x.data(), b.data(), 256, zeros.data());
        quantize_row<C>(x.data(), c.data(), 256, big.data());
        EXPECT_EQ(a, b) << type_info(C::type).name;
        EXPECT_EQ(a, c) << type_info(C::type).name;
    };
    check(codec::TQ1_0{});
    check(codec::TQ2_0{});
    check(codec::MXFP4{});
    check(codec::NVFP4{});
    check(codec::Q1_0{});
    check(codec::Q2_0{});
}

// ---- the libm-free helpers ------------------------------------------------------------------------

int glibc_floor_log2f(float a) { return static_cast<int>(std::floor(std::log2(a))); }

// floor(log2f(a)) near every power of two (where rounding can lift it), over all subnormals, and on a
// stride through every binade. KQ_EXHAUSTIVE_LOG2=1 checks every positive finite float (a few minutes;
// it passes with glibc 2.36, the golden's build environment).
TEST(SmallTypesHelpers, FloorLog2fMatchesGlibc) {
    auto check = [](uint32_t u) {
        const float a = f32_from_bits(u);
        ASSERT_EQ(fp4::floor_log2f(a), glibc_floor_log2f(a)) << std::hex << "bits 0x" << u;
    };
    if (const char* e = std::getenv("KQ_EXHAUSTIVE_LOG2"); e != nullptr && e[0] == '1') {
        for (uint32_t u = 1; u < 0x7F800000u; ++u) check(u);
        return;
    }
    for (uint32_t u = 1; u < 0x00800000u; ++u) check(u);
    for (uint32_t ex = 1; ex <= 0xFF; ++ex) {
        const uint32_t p = ex << 23;  // 2^(ex-127); ex = 255: the bits of inf, above the largest float
        for (uint32_t j = 1; j <= 4096; ++j) check(p - j);
        if (ex < 0xFF)
            for (uint32_t j = 0; j < 64; ++j) check(p + j);
        for (uint32_t s = 0; s < (1u << 23) && ex < 0xFF; s += 9973) check(p + s);
    }
}

TEST(SmallTypesHelpers, E8m0ExponentMatchesTheCastOfGlibc) {
    // (uint8_t)(floorf(log2f(amax)) - 2 + 127) through int32 (x86): negative values wrap.
    for (float a : {1e-45f, 1e-40f, 1.1754942e-38f, 1.17549435e-38f, 2.3e-38f, 1.0f, 6.0f, 7.9999995f, 8.0f,
                    65504.0f, 3.4028235e38f}) {
        const int expect = (glibc_floor_log2f(a) + 125) & 0xFF;
        EXPECT_EQ(fp4::e8m0_exponent(a), expect) << a;
    }
    EXPECT_EQ(fp4::e8m0_exponent(0.0f), 0);
    EXPECT_EQ(fp4::e8m0_exponent(1.2e-38f), 255);  // the golden's tiny_1e-38 quirk: floor = -126
}

TEST(SmallTypesHelpers, ScaleDecodersMatchTheirDefinitions) {
    for (int e = 0; e < 256; ++e)
        EXPECT_EQ(fp4::e8m0_to_fp32_half(static_cast<uint8_t>(e)), static_cast<float>(std::ldexp(1.0, e - 128))) << e;
    for (int u = 0; u < 256; ++u) {
        const int ex = (u >> 3) & 15, m = u & 7;
        const float raw = (u == 0 || u == 0x7F) ? 0.0f
                          : ex == 0             ? std::ldexp(static_cast<float>(m), -9)
                                                : std::ldexp(1.0f + static_cast<float>(m) / 8.0f, ex - 7);
        EXPECT_TRUE(same_float(fp4::ue4m3_to_fp32_half(static_cast<uint8_t>(u)), raw * 0.5f)) << u;
    }
}

TEST(SmallTypesHelpers, Ue4m3EncoderRoundTripsAndRounds) {
    // Every finite non-zero code below 2^8 comes back from its own value. From 2^8 up (exponent field 15)
    // ggml's encoder returns 0x7E (448) for everything: codes 0x78..0x7D are never written.
    for (int u = 1; u < 0x7F; ++u) {
        const float v = 2.0f * fp4::ue4m3_to_fp32_half(static_cast<uint8_t>(u));
        EXPECT_EQ(fp4::fp32_to_ue4m3(v), u < 0x78 ? u : 0x7E) << u;
    }
    EXPECT_EQ(fp4::fp32_to_ue4m3(0.0f), 0);
    EXPECT_EQ(fp4::fp32_to_ue4m3(-1.0f), 0);
    EXPECT_EQ(fp4::fp32_to_ue4m3(std::nanf("")), 0);
    EXPECT_EQ(fp4::fp32_to_ue4m3(1e9f), 0x7E);
    EXPECT_EQ(fp4::fp32_to_ue4m3(1.0625f), 0x39);          // 1 + 1/16: half up -> 1.125
    EXPECT_EQ(fp4::fp32_to_ue4m3(1.9375f), 0x40);          // mantissa carry -> 2.0
    EXPECT_EQ(fp4::fp32_to_ue4m3(0.5f / 512.0f), 1);       // subnormal: trunc(0.5 + 0.5)
    EXPECT_EQ(fp4::fp32_to_ue4m3(0.49f / 512.0f), 0);
    EXPECT_EQ(fp4::fp32_to_ue4m3(0.0155f), 7);             // 7.94 -> 8, clamped to 7
}

TEST(SmallTypesHelpers, TritByteFollowsLroundfOnX86) {
    auto byte = [](float v) { return ternary::trit_byte(v) & 0xff; };
    EXPECT_EQ(byte(0.5f), 2);
    EXPECT_EQ(byte(-0.5f), 0);
    EXPECT_EQ(byte(0.49999997f), 1);
    EXPECT_EQ(byte(2.5f), 4);
    EXPECT_EQ(byte(-300.0f), (-300 + 1) & 0xff);
    EXPECT_EQ(byte(4294967296.0f), 1);  // lround: 2^32, low byte 0
    EXPECT_EQ(byte(std::numeric_limits<float>::infinity()), 1);
    EXPECT_EQ(byte(-std::numeric_limits<float>::infinity()), 1);
    EXPECT_EQ(byte(std::nanf("")), 1);
}

// Floats to check a rounding helper on: every 65537th bit pattern (all binades, both signs, NaNs and
// infinities), and the 4096 floats each side of the rounding boundaries and of the integer limits.
std::vector<float> rounding_sweep() {
    std::vector<float> v;
    for (uint64_t u = 0; u <= 0xFFFFFFFFull; u += 65537) v.push_back(f32_from_bits(static_cast<uint32_t>(u)));
    for (float b : {0.0f, 0.5f, 1.0f, 1.5f, 2.5f, 2147483648.0f, 9.2233720368547758e18f}) {
        for (float s : {1.0f, -1.0f}) {
            const uint32_t u = f32_bits(s * b);
            for (uint32_t j = 0; j < 4096; ++j) {
                v.push_back(f32_from_bits(u + j));
                if (u >= j) v.push_back(f32_from_bits(u - j));
            }
        }
    }
    return v;
}

// The comparisons of q2_0::code and ternary::trit_byte against the reference's arithmetic, as x86-64 runs
// it: (int)roundf(v) (cvttss2si: INT32_MIN out of range) and the low byte of lroundf(v) + 1 (LONG_MIN out
// of range; the packing keeps that byte only).
#if defined(__x86_64__)
TEST(SmallTypesHelpers, RoundingByComparisonsEqualsLibm) {
    for (float v : rounding_sweep()) {
        const int q2 = kq_clamp(static_cast<int>(legacy::trunc_to_int32_x86(std::roundf(v))) + 1, 0, 3);
        ASSERT_EQ(q2_0::code(v), q2) << std::hexfloat << v;
        const int trit = static_cast<int>((std::lroundf(v) + 1) & 0xff);
        ASSERT_EQ(ternary::trit_byte(v) & 0xff, trit) << std::hexfloat << v;
    }
}
#endif

// fp4::best_index (the eight codes of x's sign, scalar form) against the reference's scan of all sixteen
// v[i]*d, for every MXFP4 and NVFP4 half-scale and values around every table point, their midpoints, 0,
// NaN and infinities.
TEST(SmallTypesHelpers, Fp4BestIndexEqualsTheSixteenCodeScan) {
    constexpr fp4::Table T = fp4::table();
    std::vector<float> scales;
    for (int e = 0; e < 256; ++e) scales.push_back(fp4::e8m0_to_fp32_half(static_cast<uint8_t>(e)));
    for (int u = 0; u < 256; ++u) scales.push_back(fp4::ue4m3_to_fp32_half(static_cast<uint8_t>(u)));
    for (float d : scales) {
        const fp4::ScaledT<float> s = fp4::scaled(T.v, d);
        std::vector<float> xs = {0.0f, -0.0f, std::nanf(""), -std::nanf(""), std::numeric_limits<float>::infinity(),
                                 -std::numeric_limits<float>::infinity(), 3.4028235e38f, 1e-45f};
        for (int i = 0; i < 16; ++i)
            for (int h = 0; h < 2; ++h) {
                const float a = static_cast<float>(T.v[i]) * d;
                const float b = static_cast<float>(T.v[(i + 1) % 16]) * d;
                const float c = h == 0 ? a : 0.5f * (a + b);
                for (int j = -3; j <= 3; ++j) xs.push_back(f32_from_bits(f32_bits(c) + static_cast<uint32_t>(j)));
            }
        for (float x : xs) {
            int expect = 0;
            float best = std::fabs(static_cast<float>(T.v[0]) * d - x);
            for (int i = 1; i < 16; ++i) {
                const float err = std::fabs(static_cast<float>(T.v[i]) * d - x);
                if (err < best) {
                    best = err;
                    expect = i;
                }
            }
            ASSERT_EQ(fp4::best_index(s, x), expect) << std::hexfloat << "d " << d << " x " << x;
        }
    }
}

}  // namespace
}  // namespace kquant
