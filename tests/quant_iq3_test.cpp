// IQ3_XXS and IQ3_S against ggml's bytes: the grid tables (iq3_grid.h) against ggml-common.h's
// iq3xxs_grid / iq3s_grid and the rules of iq3xs_init_impl; every golden case of
// extra-types-golden.gguf, plain and imatrix, block by block; the dequantizers against an independent
// reading of the block layout.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kquant/codec.h"
#include "kquant/error.h"
#include "kquant/formats/iq3.h"
#include "kquant/formats/iq3_grid.h"
#include "kquant/gguf.h"
#include "support/golden.h"

namespace kquant {
namespace {

const gguf::Reader& golden() { return test::extra_golden(); }
std::vector<std::string> golden_cases() { return test::golden_cases(golden()); }

// ---- grids -------------------------------------------------------------------------------------

// FNV-1a over the grid's bytes (little-endian uint32 per point).
uint64_t fnv1a(const uint32_t* v, int n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < n; ++i)
        for (int b = 0; b < 4; ++b) {
            h ^= (v[i] >> (8 * b)) & 0xff;
            h *= 0x100000001b3ull;
        }
    return h;
}

// IQ3_XXS's dequantization values of levels 0..7 (ggml-common.h iq3xxs_grid); IQ3_S's are 2l+1.
constexpr uint8_t kXxsLevelValue[8] = {4, 12, 20, 28, 36, 44, 52, 62};

uint32_t xxs_point(uint32_t p) {
    uint32_t q = 0;
    for (int k = 0; k < 4; ++k) q |= static_cast<uint32_t>(kXxsLevelValue[(((p >> (8 * k)) & 0xff) - 1) / 2]) << (8 * k);
    return q;
}

TEST(Iq3Grid, Grid256EqualsGgmlIq3xxsGrid) {
    const iq::Grid4View& g = iq::grid4(256);
    ASSERT_EQ(g.grid_size, 256);
    // ggml-common.h's iq3xxs_grid (commit 0c1e5709) is this grid with values 2l+1 -> kXxsLevelValue[l]:
    // its checksum and samples.
    std::vector<uint32_t> mapped(256);
    for (int i = 0; i < 256; ++i) mapped[i] = xxs_point(g.grid[i]);
    EXPECT_EQ(fnv1a(mapped.data(), 256), 0xdfa5dc83d6a155d5ull);
    EXPECT_EQ(mapped[0], 0x04040404u);
    EXPECT_EQ(mapped[1], 0x04040414u);
    EXPECT_EQ(mapped[37], 0x041c0c04u);
    EXPECT_EQ(mapped[128], 0x141c3e04u);
    EXPECT_EQ(mapped[255], 0x3e341c04u);
    EXPECT_EQ(g.grid[1], 0x01010105u);  // the quantizer's own values
}

TEST(Iq3Grid, Grid512EqualsGgmlIq3sGrid) {
    const iq::Grid4View& g = iq::grid4(512);
    ASSERT_EQ(g.grid_size, 512);
    EXPECT_EQ(fnv1a(g.grid, 512), 0xfa37020c25b44829ull);
    EXPECT_EQ(g.grid[0], 0x01010101u);
    EXPECT_EQ(g.grid[1], 0x01010103u);
    EXPECT_EQ(g.grid[37], 0x01030909u);
    EXPECT_EQ(g.grid[256], 0x05090507u);
    EXPECT_EQ(g.grid[511], 0x0f0f0101u);
}

int level_code_of_point(uint32_t p) {
    int u = 0;
    for (int k = 0; k < 4; ++k) u |= ((static_cast<int>((p >> (8 * k)) & 0xff) - 1) / 2) << (3 * k);
    return u;
}

int dist2(uint32_t p, int code) {
    int d2 = 0;
    for (int k = 0; k < 4; ++k) {
        const int d = static_cast<int>((p >> (8 * k)) & 0xff) - (2 * ((code >> (3 * k)) & 7) + 1);
        d2 += d * d;
    }
    return d2;
}

// The map and neighbour lists follow iq3xs_init_impl's rules: on-grid codes map to their point; each
// off-grid code has, at -map-1, a list of every point at its nwant smallest distances, ordered by
// (distance, index), the lists laid out in code order with no gaps.
void check_tables(int grid_size, int nwant) {
    const iq::Grid4View& g = iq::grid4(grid_size);
    ASSERT_EQ(g.map_size, 4096);
    for (int i = 0; i < grid_size; ++i) {
        const uint32_t p = g.grid[i];
        for (int k = 0; k < 4; ++k) EXPECT_EQ(((p >> (8 * k)) & 0xff) % 2, 1u) << i;
        EXPECT_EQ(g.map[level_code_of_point(p)], i);
    }
    int32_t expected_offset = 0;
    for (int u = 0; u < 4096; ++u) {
        if (g.map[u] >= 0) continue;
        const int32_t off = -g.map[u] - 1;
        ASSERT_EQ(off, expected_offset) << u;
        const uint16_t* nb = g.neighbours + off;
        const int n = nb[0];
        ASSERT_GT(n, 0);
        ASSERT_LE(off + 1 + n, g.neighbours_size);
        // The distinct distances, smallest first.
        std::vector<int> distinct;
        for (int j = 0; j < grid_size; ++j) {
            const int d = dist2(g.grid[j], u);
            bool seen = false;
            for (int v : distinct) seen = seen || v == d;
            if (!seen) distinct.push_back(d);
        }
        std::sort(distinct.begin(), distinct.end());
        const int cutoff = distinct[std::min<size_t>(nwant, distinct.size()) - 1];
        int want_n = 0;
        for (int j = 0; j < grid_size; ++j) want_n += dist2(g.grid[j], u) <= cutoff ? 1 : 0;
        EXPECT_EQ(n, want_n) << u;
        for (int j = 1; j <= n; ++j) {
            EXPECT_LE(dist2(g.grid[nb[j]], u), cutoff);
            if (j > 1) {
                const int a = dist2(g.grid[nb[j - 1]], u), b = dist2(g.grid[nb[j]], u);
                EXPECT_TRUE(a < b || (a == b && nb[j - 1] < nb[j])) << u << " " << j;
            }
        }
        expected_offset = off + 1 + n;
    }
    EXPECT_EQ(expected_offset, g.neighbours_size);
}

TEST(Iq3Grid, Grid256TablesFollowGgmlRules) { check_tables(256, 2); }
TEST(Iq3Grid, Grid512TablesFollowGgmlRules) { check_tables(512, 3); }

TEST(Iq3Grid, SameViewEveryCallOtherSizesRejected) {
    EXPECT_EQ(&iq::grid4(256), &iq::grid4(256));
    EXPECT_EQ(iq::grid4(512).grid, iq::grid4(512).grid);
    EXPECT_THROW(iq::grid4(1024), Error);
}

// ---- golden bytes ------------------------------------------------------------------------------

const float* f32_data(const gguf::TensorInfo& t) { return reinterpret_cast<const float*>(golden().tensor_data(t)); }

// ---- dequantize --------------------------------------------------------------------------------

float grid_byte(const iq::Grid4View& g, int index, int j) { return static_cast<float>((g.grid[index] >> (8 * j)) & 0xff); }

// An independent reading of ggml's block layouts, element by element.
float read_xxs(const iq::Grid4View& g, const uint8_t* blk, int e) {
    float d;
    {
        uint16_t h;
        std::memcpy(&h, blk, 2);
        d = fp16_to_fp32(h);
    }
    const uint8_t* qs = blk + 2;
    const int ib = e / 32, group = e / 4, j = e % 4, within8 = e % 8, l = (e % 32) / 8;
    uint32_t aux;
    std::memcpy(&aux, qs + 64 + 4 * ib, 4);
    const uint32_t s7 = (aux >> (7 * l)) & 127;
    int ones = 0;
    for (int b = 0; b < 7; ++b) ones += (s7 >> b) & 1;
    const uint32_t s8 = s7 | (static_cast<uint32_t>(ones % 2) << 7);
    const float db = d * (0.5f + static_cast<float>(aux >> 28)) * 0.5f;
    return db * static_cast<float>(kXxsLevelValue[(static_cast<int>(grid_byte(g, qs[group], j)) - 1) / 2]) * (((s8 >> within8) & 1) ? -1.0f : 1.0f);
}

float read_s(const iq::Grid4View& g, const uint8_t* blk, int e) {
    uint16_t h;
    std::memcpy(&h, blk, 2);
    const float d = fp16_to_fp32(h);
    const uint8_t* qs = blk + 2;
    const uint8_t* qh = qs + 64;
    const uint8_t* signs = qh + 8;
    const uint8_t* scales = signs + 32;
    const int ib = e / 32, group = e / 4, j = e % 4;
    const int index = qs[group] | (((qh[ib] >> (group % 8)) & 1) << 8);
    const int code = ib % 2 == 0 ? scales[ib / 2] & 15 : scales[ib / 2] >> 4;
    const float db = d * static_cast<float>(1 + 2 * code);
    return db * grid_byte(g, index, j) * (((signs[e / 8] >> (e % 8)) & 1) ? -1.0f : 1.0f);
}

template <class C>
void check_dequantize(const char* name, int grid_size, float (*read)(const iq::Grid4View&, const uint8_t*, int)) {
    const iq::Grid4View& g = iq::grid4(grid_size);
    size_t blocks = 0;
    for (const std::string& c : golden_cases()) {
        for (const char* suffix : {"", ".imat"}) {
            const gguf::TensorInfo* t = golden().find_tensor(c + "." + name + suffix);
            ASSERT_NE(t, nullptr);
            const int64_t nblocks = t->nelements() / QK_K;
            const uint8_t* data = golden().tensor_data(*t);
            std::vector<float> y(QK_K);
            for (int64_t b = 0; b < nblocks; ++b) {
                const uint8_t* blk = data + b * sizeof(typename C::Block);
                dequantize_row<C>(blk, y.data(), QK_K);
                for (int e = 0; e < QK_K; ++e) {
                    const float want = read(g, blk, e);
                    ASSERT_EQ(f32_bits(y[e]), f32_bits(want)) << c << suffix << " block " << b << " element " << e;
                }
                ++blocks;
            }
        }
    }
    EXPECT_GT(blocks, 0u);
}

TEST(Iq3Dequantize, Iq3XxsMatchesIndependentReading) { check_dequantize<codec::IQ3_XXS>("iq3_xxs", 256, read_xxs); }
TEST(Iq3Dequantize, Iq3SMatchesIndependentReading) { check_dequantize<codec::IQ3_S>("iq3_s", 512, read_s); }

// Round trip on the realistic case: relative RMS error below 0.3 (ggml gives 0.20 to 0.28 here).
template <class C>
double round_trip_rel_rms(bool imat) {
    const gguf::TensorInfo* in = golden().find_tensor("realistic.input");
    const gguf::TensorInfo* im = golden().find_tensor("realistic.imatrix");
    const int64_t ncols = in->ne_at(0), nrows = in->nrows();
    std::vector<uint8_t> q(static_cast<size_t>(ncols / QK_K) * sizeof(typename C::Block));
    std::vector<float> y(static_cast<size_t>(ncols));
    double err = 0, ref = 0;
    for (int64_t r = 0; r < nrows; ++r) {
        const float* x = f32_data(*in) + r * ncols;
        quantize_row<C>(x, q.data(), ncols, imat ? f32_data(*im) : nullptr);
        dequantize_row<C>(q.data(), y.data(), ncols);
        for (int64_t i = 0; i < ncols; ++i) {
            err += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
            ref += double(x[i]) * x[i];
        }
    }
    return std::sqrt(err / ref);
}

TEST(Iq3Dequantize, RoundTripIsClose) {
    EXPECT_LT(round_trip_rel_rms<codec::IQ3_XXS>(false), 0.3);
    EXPECT_LT(round_trip_rel_rms<codec::IQ3_XXS>(true), 0.3);
    EXPECT_LT(round_trip_rel_rms<codec::IQ3_S>(false), 0.3);
    EXPECT_LT(round_trip_rel_rms<codec::IQ3_S>(true), 0.3);
}

TEST(Iq3Zero, ZeroBlockIsAllZeroBytes) {
    const std::vector<float> x(QK_K, 0.0f), w(QK_K, 1.0f);
    block_iq3_xxs a;
    block_iq3_s b;
    std::memset(&a, 0xff, sizeof(a));
    std::memset(&b, 0xff, sizeof(b));
    quantize_row<codec::IQ3_XXS>(x.data(), &a, QK_K, w.data());
    quantize_row<codec::IQ3_S>(x.data(), &b, QK_K, nullptr);
    const std::vector<uint8_t> za(sizeof(a), 0), zb(sizeof(b), 0);
    EXPECT_EQ(std::memcmp(&a, za.data(), sizeof(a)), 0);
    EXPECT_EQ(std::memcmp(&b, zb.data(), sizeof(b)), 0);
}

// ggml's quantize_row_iq3_s_impl advances its qs/signs write position only past sub-blocks with max != 0:
// after an all-zero sub-block, the next one's indices and signs land in the zero one's slot (qh is indexed
// by sub-block). The golden's sparse and mixed_blocks cases hold such blocks too.
TEST(Iq3Quirk, Iq3SZeroSubBlockShiftsLaterIndicesAndSigns) {
    std::vector<float> x(QK_K, 0.0f);
    for (int i = 32; i < QK_K; ++i) x[i] = static_cast<float>((i * 37) % 23 - 11) * 0.125f + 0.01f;
    block_iq3_s b;
    quantize_row<codec::IQ3_S>(x.data(), &b, QK_K, nullptr);
    for (int k = 0; k < 4; ++k) {
        uint8_t want = 0;
        for (int i = 0; i < 8; ++i) want = static_cast<uint8_t>(want | ((x[32 + 8 * k + i] < 0.0f ? 1 : 0) << i));
        EXPECT_EQ(b.signs[k], want) << k;  // sub-block 1's signs, in slot 0
    }
    for (int i = 56; i < 64; ++i) EXPECT_EQ(b.qs[i], 0) << i;     // the last slot is never written
    for (int i = 28; i < 32; ++i) EXPECT_EQ(b.signs[i], 0) << i;
    EXPECT_EQ(b.qh[0], 0);
    EXPECT_EQ(b.scales[0] & 15, 0);
}

}  // namespace
}  // namespace kquant
