// Properties every quantizable type must have, on random rows from several distributions (seeds printed
// on failure): quantization is deterministic, writes exactly row_bytes (guard bytes around the output stay
// untouched), and dequantize(quantize(x)) is close to x, within a per-type bound derived from its bits.
// Plain and imatrix paths both. Generic over quantizable_types(): a new type needs a bound below.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kquant/formats/kquant_scales.h"
#include "kquant/formats/q2_k.h"
#include "kquant/formats/q3_k.h"
#include "kquant/formats/q4_k.h"
#include "kquant/formats/q5_k.h"
#include "kquant/formats/q6_k.h"
#include "kquant/formats/iq4.h"
#include "kquant/quantize.h"
#include "kquant/types.h"

namespace kquant {
namespace {

constexpr int64_t kCols = 1024;  // a multiple of every block size (32, 256)
constexpr int64_t kRows = 4;
constexpr uint32_t kSeeds[] = {1u, 20240601u, 0xC0FFEEu};
constexpr size_t kGuard = 64;
constexpr uint8_t kGuardByte = 0xA5;

enum class Dist { Gaussian, Laplace, Uniform, Sparse, HeavyTail };
constexpr Dist kDists[] = {Dist::Gaussian, Dist::Laplace, Dist::Uniform, Dist::Sparse, Dist::HeavyTail};
const char* dist_name(Dist d) {
    switch (d) {
        case Dist::Gaussian: return "gaussian";
        case Dist::Laplace: return "laplace";
        case Dist::Uniform: return "uniform";
        case Dist::Sparse: return "sparse";
        case Dist::HeavyTail: return "student_t3";
    }
    return "?";
}

std::vector<float> random_rows(Dist d, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::exponential_distribution<float> ex(1.0f);
    std::vector<float> x(static_cast<size_t>(kCols * kRows));
    for (float& v : x) {
        switch (d) {
            case Dist::Gaussian: v = g(rng); break;
            case Dist::Laplace: v = (u(rng) < 0 ? -1.0f : 1.0f) * ex(rng); break;
            case Dist::Uniform: v = u(rng); break;
            case Dist::Sparse: v = u(rng) < -0.8f ? g(rng) : 0.0f; break;  // 90% zeros
            case Dist::HeavyTail: {
                const float z = g(rng), a = g(rng), b = g(rng), c = g(rng);
                v = z / std::sqrt((a * a + b * b + c * c) / 3.0f);
                break;
            }
        }
    }
    return x;
}

std::vector<float> random_imatrix(uint32_t seed) {
    std::mt19937 rng(seed ^ 0x1234567u);
    std::uniform_real_distribution<float> u(0.1f, 2.0f);
    std::vector<float> qw(static_cast<size_t>(kCols));
    for (float& v : qw) v = u(rng);
    return qw;
}

// Upper bounds on the relative RMSE sqrt(Σ(x - x̂)² / Σx²), worst case over the distributions above.
// Anchor: a b-bit uniform quantizer whose step spans the block's range, on uniform data, has relative RMSE
// step/2 ≈ 1/(2^b - 1) (the uniform rows measure 0.0038 for Q8_0's ±127 grid, 0.013 Q6_K, 0.028 Q5_K,
// 0.055 Q4_K, 0.12 Q3_K, 0.23 Q2_K: at or below the law, the searches help). Heavy tails (Student-t3)
// stretch a block's range and double that. Measured worst cases, plain or imatrix, seeds above:
// Q8_0 0.0092, Q6_K 0.027, Q5_K 0.049, Q5_1 0.053, Q5_0 0.070, Q4_K 0.096, IQ4_NL/XS 0.108, Q4_1 0.114,
// Q4_0 0.133, Q3_K 0.188, Q2_K 0.516. Q2_K's worst is the plain path on sparse rows: its weights are |x|,
// so the 90% zeros carry no weight and dequantize to -min (ggml's algorithm, byte-exact). Each bound is
// the worst case times ~1.3, rounded up: room for another standard library's random streams, not for a
// real regression (a wrong level or scale moves these by far more).
const std::map<Type, double> kRmseBound = {
    {Type::Q8_0, 0.012}, {Type::Q6_K, 0.035}, {Type::Q5_K, 0.065},  {Type::Q5_1, 0.07},
    {Type::Q5_0, 0.09},  {Type::Q4_K, 0.125}, {Type::IQ4_NL, 0.14}, {Type::IQ4_XS, 0.14},
    {Type::Q4_1, 0.15},  {Type::Q4_0, 0.17},  {Type::Q3_K, 0.25},   {Type::Q2_K, 0.65},
    // The low-bit types, measured the same way (worst case, plain or imatrix): IQ2_XXS 0.761, IQ2_XS 0.632,
    // IQ2_S 0.697, IQ3_XXS 0.449, IQ3_S 0.733, IQ1_S 0.630, IQ1_M 0.523 (imatrix; plain below), TQ1_0 and
    // TQ2_0 0.861, MXFP4 0.152, NVFP4 0.101, Q1_0 0.967, Q2_0 0.739. The grids of the IQ types have no zero
    // point, so the sparse rows dominate their worst cases.
    {Type::IQ2_XXS, 1.0}, {Type::IQ2_XS, 0.85}, {Type::IQ2_S, 0.9}, {Type::IQ3_XXS, 0.6}, {Type::IQ3_S, 0.95},
    {Type::IQ1_S, 0.85},  {Type::IQ1_M, 0.7},   {Type::TQ1_0, 1.15}, {Type::TQ2_0, 1.15}, {Type::MXFP4, 0.2},
    {Type::NVFP4, 0.135}, {Type::Q1_0, 1.3},    {Type::Q2_0, 0.96},
};

// Plain paths far from their type's imatrix bound. IQ1_M's plain weights are x², so on sparse rows the 90%
// zeros weigh nothing, and IQ1's grid has no zero: they dequantize to ±scale, 14.2 times the signal's RMS
// (ggml's algorithm, byte-exact on the golden cases; llama-quantize requires an imatrix for IQ1_M).
const std::map<Type, double> kPlainRmseBound = {{Type::IQ1_M, 19.0}};

struct Case {
    Type type;
    bool imat;
    std::string label() const { return std::string(type_info(type).name) + (imat ? "_imat" : "_plain"); }
};

std::vector<Case> all_cases() {
    std::vector<Case> v;
    for (Type t : quantizable_types()) {
        if (!type_info(t).requires_imatrix) v.push_back({t, false});  // else refused: GoldenBytes checks it
        v.push_back({t, true});
    }
    return v;
}

class QuantProperty : public ::testing::TestWithParam<Case> {};

TEST_P(QuantProperty, DeterministicExactSizeAndAccurate) {
    const Case c = GetParam();
    const RowCodec* codec = scalar_codec(c.type);
    ASSERT_NE(codec, nullptr);
    const auto plain_bound = kPlainRmseBound.find(c.type);
    const auto bound = !c.imat && plain_bound != kPlainRmseBound.end() ? plain_bound : kRmseBound.find(c.type);
    ASSERT_NE(bound, kRmseBound.end()) << c.label() << ": no RMSE bound for this type: derive and add one";
    const size_t rb = row_bytes(c.type, kCols);
    double worst = 0.0;
    for (Dist d : kDists) {
        for (uint32_t seed : kSeeds) {
            SCOPED_TRACE(c.label() + " " + dist_name(d) + " seed " + std::to_string(seed));
            const std::vector<float> x = random_rows(d, seed);
            const std::vector<float> qw = random_imatrix(seed);
            const float* w = c.imat ? qw.data() : nullptr;
            double err2 = 0.0, sig2 = 0.0;
            for (int64_t r = 0; r < kRows; ++r) {
                const float* xr = x.data() + r * kCols;
                std::vector<uint8_t> a(rb + 2 * kGuard, kGuardByte), b(rb + 2 * kGuard, kGuardByte);
                codec->quantize_row(xr, a.data() + kGuard, kCols, w);
                codec->quantize_row(xr, b.data() + kGuard, kCols, w);
                ASSERT_EQ(a, b) << "row " << r << ": two runs differ";
                for (size_t i = 0; i < kGuard; ++i) {
                    ASSERT_EQ(a[i], kGuardByte) << "row " << r << ": wrote before the row, byte " << i;
                    ASSERT_EQ(a[kGuard + rb + i], kGuardByte)
                        << "row " << r << ": wrote past row_bytes, byte " << i;
                }
                std::vector<float> y(static_cast<size_t>(kCols));
                codec->dequantize_row(a.data() + kGuard, y.data(), kCols);
                for (int64_t i = 0; i < kCols; ++i) {
                    ASSERT_TRUE(std::isfinite(y[i])) << "row " << r << " col " << i;
                    const double e = static_cast<double>(y[i]) - xr[i];
                    err2 += e * e;
                    sig2 += static_cast<double>(xr[i]) * xr[i];
                }
            }
            const double rel = std::sqrt(err2 / sig2);
            EXPECT_LT(rel, bound->second) << "relative RMSE";
            worst = std::max(worst, rel);
        }
    }
    std::cout << "[ rmse     ] " << c.label() << ": worst relative RMSE " << worst << " (bound "
              << bound->second << ")\n";
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantProperty, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.label(); });

// The phases of the phased codecs (formats/kquant_scales.h) are independent units: a kernel may run the sub-blocks and
// columns of a phase in any order on a block that starts as garbage. Reversed orders on a 0xA5-filled
// block must give the bytes of the codec's quantize.
template <class C>
class KQuantPhaseProperty : public ::testing::Test {};
using KQuantCodecs = ::testing::Types<codec::Q2_K, codec::Q3_K, codec::Q4_K, codec::Q5_K, codec::Q6_K, codec::IQ4_XS>;
TYPED_TEST_SUITE(KQuantPhaseProperty, KQuantCodecs);

TYPED_TEST(KQuantPhaseProperty, AnyUnitOrderOnGarbageGivesTheSameBytes) {
    using C = TypeParam;
    constexpr int kSub = C::kSubblocks, kLen = C::kSubblockElems;
    for (Dist d : kDists) {
        for (uint32_t seed : kSeeds) {
            SCOPED_TRACE(std::string(type_info(C::type).name) + " " + dist_name(d) + " seed " +
                         std::to_string(seed));
            const std::vector<float> x = random_rows(d, seed);
            const std::vector<float> qw = random_imatrix(seed);
            for (int64_t b = 0; b < kCols / QK_K; ++b) {
                const float* xb = x.data() + b * QK_K;
                for (const float* wb : {static_cast<const float*>(nullptr), qw.data() + b * QK_K}) {
                    typename C::Block want, got;
                    if (wb != nullptr)
                        C::quantize_weighted(xb, wb, 0.0f, &want);
                    else
                        C::quantize(xb, &want);
                    std::memset(&got, 0xA5, sizeof(got));
                    const float sigma2 = wb != nullptr ? C::block_sigma2(xb) : 0.0f;
                    kq::SubblockFit fits[kSub];
                    uint8_t L[QK_K];
                    for (int j = kSub - 1; j >= 0; --j)
                        fits[j] = C::fit_subblock(xb + j * kLen, wb != nullptr ? wb + j * kLen : nullptr,
                                                  sigma2, L + j * kLen);
                    const kq::BlockScales bs = C::set_block_scales(fits, wb != nullptr, &got);
                    if (bs.ok) {
                        for (int j = kSub - 1; j >= 0; --j)
                            kq::requantize_subblock<C>(xb + j * kLen, j, got, bs, fits[j], L + j * kLen);
                        for (int col = 31; col >= 0; --col) C::pack_column(L, col, &got);
                    }
                    ASSERT_EQ(std::memcmp(&want, &got, sizeof(got)), 0)
                        << "block " << b << (wb != nullptr ? " imat" : " plain");
                }
            }
        }
    }
}

}  // namespace
}  // namespace kquant
