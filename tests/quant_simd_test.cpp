// The SIMD CPU codecs (AVX2, AVX-512) give the scalar codec's bytes exactly: every quantizable type,
// plain and imatrix, on random rows from distributions chosen to reach every lane-divergent branch of the
// searches (zeros, constants, subnormal-tiny and fp16-huge values, sparse rows, outliers, exact ties, and
// rows whose sub-blocks mix all of these so that the lanes of one vector take different paths). Row
// lengths are block counts that are not multiples of the lane count, so the partial last batch is
// checked too. An ISA this CPU lacks is skipped with the reason printed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kquant/codecs.h"
#include "kquant/quantize.h"
#include "kquant/types.h"

namespace kquant {
namespace {

constexpr uint32_t kSeeds[] = {7u, 20250101u, 0xBADC0DEu};
constexpr int64_t kBlockCounts[] = {1, 7, 19};  // 19 = 2·8 + 3 = 16 + 3: a partial batch on every ISA
constexpr int64_t kRows = 3;

enum class Dist { Gaussian, Zeros, Constant, Tiny, Huge, Sparse, Outliers, Ties, Mixed };
constexpr Dist kDists[] = {Dist::Gaussian, Dist::Zeros, Dist::Constant, Dist::Tiny, Dist::Huge,
                           Dist::Sparse,   Dist::Outliers, Dist::Ties, Dist::Mixed};

const char* dist_name(Dist d) {
    switch (d) {
        case Dist::Gaussian: return "gaussian";
        case Dist::Zeros: return "zeros";
        case Dist::Constant: return "constant";
        case Dist::Tiny: return "tiny_1e-38";
        case Dist::Huge: return "huge_6e4";
        case Dist::Sparse: return "sparse";
        case Dist::Outliers: return "outliers";
        case Dist::Ties: return "ties";
        case Dist::Mixed: return "mixed_per_16";
    }
    return "?";
}

// One value of a plain distribution.
float draw(Dist d, std::mt19937& rng) {
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    switch (d) {
        case Dist::Gaussian: return g(rng);
        case Dist::Zeros: return 0.0f;
        case Dist::Constant: return -0.3125f;
        case Dist::Tiny: return 1e-38f * g(rng);  // subnormal and near-subnormal: 1/d overflows
        case Dist::Huge: return 6.0e4f * u(rng);  // near the fp16 limit
        case Dist::Sparse: return u(rng) < -0.8f ? g(rng) : 0.0f;
        case Dist::Outliers: return u(rng) < -0.98f ? 1000.0f * g(rng) : 0.02f * g(rng);
        case Dist::Ties: {
            static constexpr float kSet[] = {-1.0f, -0.5f, 0.0f, 0.25f, 0.5f, 1.0f, 2.0f};
            return kSet[std::uniform_int_distribution<int>(0, 6)(rng)];
        }
        case Dist::Mixed: break;
    }
    return 0.0f;
}

std::vector<float> random_rows(Dist d, uint32_t seed, int64_t n, int64_t nrows = kRows) {
    std::mt19937 rng(seed);
    std::vector<float> x(static_cast<size_t>(n * nrows));
    if (d != Dist::Mixed) {
        for (float& v : x) v = draw(d, rng);
        return x;
    }
    // Every 16 elements (a Q2_K/Q3_K/Q6_K group, half a 32-element unit) take another distribution, so
    // neighbouring lanes diverge: degenerate next to regular, tiny next to huge.
    std::uniform_int_distribution<int> pick(0, 7);
    for (size_t i = 0; i < x.size(); i += 16) {
        const Dist di = kDists[pick(rng)];
        for (size_t j = i; j < i + 16; ++j) x[j] = draw(di, rng);
    }
    return x;
}

// Positive importance weights with some exact zeros (whole zero groups included).
std::vector<float> random_imatrix(uint32_t seed, int64_t n) {
    std::mt19937 rng(seed ^ 0x5EEDu);
    std::exponential_distribution<float> e(1.0f);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> qw(static_cast<size_t>(n));
    for (float& v : qw) v = u(rng) < 0.1f ? 0.0f : e(rng);
    for (int64_t i = 32; i + 16 <= n && i < 48; ++i) qw[static_cast<size_t>(i)] = 0.0f;
    return qw;
}

struct Variant {
    CpuIsa isa;
    Type type;
    bool imat;
    std::string label() const {
        return std::string(cpu_isa_name(isa)) + "_" + std::string(type_info(type).name) + (imat ? "_imat" : "_plain");
    }
    friend void PrintTo(const Variant& v, std::ostream* os) { *os << v.label(); }
};

// The types with a lane driver (the others run their scalar codec on every level: TypeTable tests that).
std::vector<Variant> all_variants() {
    std::vector<Variant> v;
    for (CpuIsa isa : {CpuIsa::Avx2, CpuIsa::Avx512})
        for (Type t : quantizable_types()) {
            if (!has_lane_driver(t)) continue;
            v.push_back({isa, t, false});
            v.push_back({isa, t, true});
        }
    return v;
}

class SimdMatchesScalar : public ::testing::TestWithParam<Variant> {};

TEST_P(SimdMatchesScalar, ByteForByte) {
    const Variant v = GetParam();
    if (!cpu_isa_supported(v.isa)) GTEST_SKIP() << "this CPU (or build) has no " << cpu_isa_name(v.isa);
    const RowCodec* scalar = scalar_codec(v.type);
    const RowCodec* simd = cpu_codec(v.type, v.isa);
    ASSERT_NE(scalar, nullptr);
    ASSERT_NE(simd, nullptr);
    EXPECT_NE(simd, scalar) << v.label() << ": not vectorized (the scalar codec is returned)";
    const int64_t be = type_info(v.type).block_elems;
    const size_t bb = type_info(v.type).block_bytes;
    size_t blocks = 0;
    for (int64_t nblocks : kBlockCounts) {
        const int64_t n = nblocks * be;
        const size_t rb = row_bytes(v.type, n);
        for (Dist d : kDists) {
            for (uint32_t seed : kSeeds) {
                const std::string where = v.label() + " " + dist_name(d) + " seed " + std::to_string(seed) +
                                          " n_per_row " + std::to_string(n);
                const std::vector<float> x = random_rows(d, seed, n);
                const std::vector<float> qw = random_imatrix(seed, n);
                const float* w = v.imat ? qw.data() : nullptr;
                for (int64_t r = 0; r < kRows; ++r) {
                    std::vector<uint8_t> want(rb, 0xA5), got(rb, 0x5A);
                    scalar->quantize_row(x.data() + r * n, want.data(), n, w);
                    simd->quantize_row(x.data() + r * n, got.data(), n, w);
                    blocks += rb / bb;
                    if (want == got) continue;
                    size_t k = 0;
                    while (want[k] == got[k]) ++k;
                    std::ostringstream msg;
                    msg << where << ": row " << r << " block " << k / bb << " byte " << k % bb << " (scalar 0x"
                        << std::hex << int(want[k]) << ", " << cpu_isa_name(v.isa) << " 0x" << int(got[k]) << ")";
                    FAIL() << msg.str();
                }
            }
        }
    }
    std::cout << "[ simd     ] " << v.label() << ": " << blocks << " blocks identical\n";
}

INSTANTIATE_TEST_SUITE_P(AllTypes, SimdMatchesScalar, ::testing::ValuesIn(all_variants()),
                         [](const ::testing::TestParamInfo<Variant>& info) { return info.param.label(); });

// The multi-threaded driver with an ISA codec gives the scalar bytes too (threads split rows).
TEST(SimdRows, ThreadedRowsMatchScalar) {
    const CpuIsa isa = best_cpu_isa();
    if (isa == CpuIsa::Scalar) GTEST_SKIP() << "this CPU (or build) has no SIMD level";
    const int64_t n = 3 * 256, nrows = 37;
    const std::vector<float> x = random_rows(Dist::Mixed, 99u, n, nrows);
    const std::vector<float> qw = random_imatrix(99u, n);
    for (Type t : quantizable_types()) {
        const size_t bytes = row_bytes(t, n) * nrows;
        std::vector<uint8_t> want(bytes), got(bytes);
        for (const float* w : {static_cast<const float*>(nullptr), qw.data()}) {
            if (w == nullptr && type_info(t).requires_imatrix) continue;
            quantize_rows(*scalar_codec(t), x.data(), want.data(), nrows, n, w, 1);
            quantize_rows(*cpu_codec(t, isa), x.data(), got.data(), nrows, n, w, 3);
            EXPECT_EQ(want, got) << type_info(t).name << (w ? " imat" : " plain") << " on " << cpu_isa_name(isa);
        }
    }
}

// The level API: names, the scalar level everywhere, and the best level is supported.
TEST(CpuIsa, LevelsAndNames) {
    EXPECT_STREQ(cpu_isa_name(CpuIsa::Scalar), "scalar");
    EXPECT_STREQ(cpu_isa_name(CpuIsa::Avx2), "avx2");
    EXPECT_STREQ(cpu_isa_name(CpuIsa::Avx512), "avx512");
    EXPECT_TRUE(cpu_isa_supported(CpuIsa::Scalar));
    EXPECT_TRUE(cpu_isa_supported(best_cpu_isa()));
    if (cpu_isa_supported(CpuIsa::Avx512)) {
        EXPECT_TRUE(cpu_isa_supported(CpuIsa::Avx2));
    }
    for (Type t : quantizable_types()) EXPECT_EQ(cpu_codec(t, CpuIsa::Scalar), scalar_codec(t));
    EXPECT_EQ(cpu_codec(Type::F32, best_cpu_isa()), nullptr);
    std::cout << "[ cpu isa  ] best level on this machine: " << cpu_isa_name(best_cpu_isa()) << "\n";
}

}  // namespace
}  // namespace kquant
