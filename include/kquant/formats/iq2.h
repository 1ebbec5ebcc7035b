// IQ2_XXS, IQ2_XS and IQ2_S: 256-element super-blocks whose 8-element groups are points of a lattice grid
// (256, 512 or 1024 points, formats/iq_grid.h) times a sign pattern, one 4-bit scale per 32 (XXS) or
// 16 (XS, S) elements and a fp16 super-block scale. As ggml's quantize_row_iq2_{xxs,xs,s}_impl.
//
// Per sub-block (32 or 16 elements):
//   1. weights w = qw*sqrt(sigma2 + x^2) (S without an imatrix: sigma2/4 + x^2), sigma2 from the
//      super-block; the fit runs on |x|, the signs kept per group of 8. XXS/XS store 7 sign bits, the
//      8th implied by even parity, so an odd group gives up the sign of its least important element;
//   2. fit_subblock: a scan of 13 (XXS) or 19 (XS, S) inverse scales; each maps the group levels to the
//      grid (off-grid keys to their best listed neighbour) and the weighted least-squares fit keeps the
//      best; then the levels are re-derived at the fitted scale and it is refitted;
//   3. the 4-bit scale codes relative to d = max scale / 31.
// XXS and XS have no plain path: ggml's quantizer requires importance weights.
//
// Numeric contract: float32, sums in element order, C's left-to-right evaluation, no contraction.
#pragma once
#include <cstdint>

#include "kquant/blocks.h"
#include "kquant/formats/iq_grid.h"
#include "kquant/hd.h"
#include "kquant/numeric.h"
#include "kquant/search/qp.h"
#include "kquant/simd/lanes.h"
#include "kquant/types.h"

namespace kquant {

struct block_iq2_xxs {
    uint16_t d;
    uint16_t qs[QK_K / 8];  // per 32 elements two uint32: 4 grid indices (8 bits); 4 x 7 sign bits, 4-bit scale
};
static_assert(sizeof(block_iq2_xxs) == 66, "block_iq2_xxs layout");

struct block_iq2_xs {
    uint16_t d;
    uint16_t qs[QK_K / 8];      // per 8 elements: grid index (9 bits) | 7 sign bits << 9
    uint8_t scales[QK_K / 32];  // two 4-bit scales per 32 elements, low nibble first
};
static_assert(sizeof(block_iq2_xs) == 74, "block_iq2_xs layout");

struct block_iq2_s {
    uint16_t d;
    uint8_t qs[QK_K / 4];       // 32 low bytes of the grid indices, then 32 sign bytes
    uint8_t qh[QK_K / 32];      // the indices' high 2 bits, four per byte
    uint8_t scales[QK_K / 32];  // two 4-bit scales per 32 elements, low nibble first
};
static_assert(sizeof(block_iq2_s) == 82, "block_iq2_s layout");

namespace iq2 {

inline constexpr float kGroupMaxEps = 1e-15f;      // XXS, XS: ggml's GROUP_MAX_EPS
inline constexpr float kGroupMaxEpsS = 1e-8f;      // S: ggml's GROUP_MAX_EPS_IQ2_S
inline constexpr int kGridSizeXxs = 256, kGridSizeXs = 512, kGridSizeS = 1024;

// The dequantized magnitude of levels 0..2: the bytes of ggml-common.h's iq2 grids (llama.cpp format data).
KQ_HD float level_magnitude(int l) { return l == 0 ? 8.0f : (l == 1 ? 25.0f : 43.0f); }

// ggml's ksigns_iq2xs: 7 stored sign bits plus the 8th that makes the count of set bits even.
KQ_HD uint8_t sign_byte(uint32_t s7) {
    uint32_t p = s7 ^ (s7 >> 4);
    p ^= p >> 2;
    p ^= p >> 1;
    return static_cast<uint8_t>(s7 | ((p & 1u) << 7));
}

// |x| of one group of 8 and its sign bits. With even_parity (XXS, XS) an odd number of negatives flips
// back the element of least w*x*x (first wins), which then enters the fit as -|x|.
KQ_HD uint8_t group_signs(const float* x, const float* w, bool even_parity, float* xval) {
    uint32_t s = 0;
    int nflip = 0;
    for (int i = 0; i < 8; ++i) {
        if (x[i] >= 0) {
            xval[i] = x[i];
        } else {
            xval[i] = -x[i];
            ++nflip;
            s |= 1u << i;
        }
    }
    if (even_parity && nflip % 2 != 0) {
        int imin = 0;
        float min = w[0] * x[0] * x[0];
        for (int i = 1; i < 8; ++i) {
            const float ax = w[i] * x[i] * x[i];
            if (ax < min) {
                min = ax;
                imin = i;
            }
        }
        xval[imin] = -xval[imin];
        s ^= 1u << imin;
    }
    return static_cast<uint8_t>(s);
}

// The levels of one group at inverse scale id, moved to the best listed neighbour (under sqrt weights
// waux, at scale) when off the grid. Returns whether the rounded levels were on the grid.
KQ_HD bool group_levels(const iq::Grid8View& g, const float* xval, const float* waux, float id, float scale,
                        int8_t* L) {
    for (int i = 0; i < 8; ++i) L[i] = static_cast<int8_t>(kq_clamp(nint(0.5f * (id * xval[i] - 1)), 0, 2));
    const int key = iq::grid8_key(L);
    if (g.map[key] >= 0) return true;
    iq::grid8_best_neighbour(g, iq::grid8_neighbours(g, key), xval, waux, scale, L);
    return false;
}

// The grid index of a group's final levels. They are always on the grid (ggml aborts otherwise, which
// only a NaN scale can reach); then index 0.
KQ_HD int group_index(const iq::Grid8View& g, const int8_t* L) {
    const int key = iq::grid8_key(L);
    if (key >= g.map_size || g.map[key] < 0) return 0;
    return g.map[key];
}

// Weighted least-squares sums of levels L against xval: q = 2L+1.
template <int N>
KQ_HD void level_sums(const float* weight, const float* xval, const int8_t* L, float& sumqx, float& sumq2) {
    sumqx = 0.0f;
    sumq2 = 0.0f;
    for (int i = 0; i < N; ++i) {
        const float w = weight[i];
        const float q = static_cast<float>(2 * L[i] + 1);
        sumqx += w * xval[i] * q;
        sumq2 += w * q * q;
    }
}

// Phase 2 of one sub-block of N elements: the scan of inverse scales (5 + 0.1*is)/base, is in
// [-nsteps, nsteps], keeping the fit of largest sumqx^2/sumq2; then the levels at the fitted scale and the
// refit. requantize_all (XXS) re-derives every group; otherwise (XS, S) only the groups the kept candidate
// had off the grid, and only if there are any. `scale` enters as the fallback when no candidate fits and
// the result is returned; L holds the final levels (in: the fallback levels).
template <int N>
KQ_HD float fit_subblock(const iq::Grid8View& g, const float* xval, const float* weight, const float* waux,
                         float base, float scale, int nsteps, bool requantize_all, int8_t* L) {
    constexpr int kGroups = N / 8;
    int8_t Laux[N];
    bool on_grid[kGroups], on_grid_aux[kGroups];
    for (int k = 0; k < kGroups; ++k) on_grid[k] = true;
    float best = 0.0f;
    for (int is = -nsteps; is <= nsteps; ++is) {
        const float id = (5 + static_cast<float>(is) * 0.1f) / base;
        const float this_scale = 1 / id;
        for (int k = 0; k < kGroups; ++k)
            on_grid_aux[k] = group_levels(g, xval + 8 * k, waux + 8 * k, id, this_scale, Laux + 8 * k);
        float sumqx, sumq2;
        level_sums<N>(weight, xval, Laux, sumqx, sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            for (int i = 0; i < N; ++i) L[i] = Laux[i];
            for (int k = 0; k < kGroups; ++k) on_grid[k] = on_grid_aux[k];
        }
    }
    bool redo = scale > 0;
    if (!requantize_all) {
        int n_off = 0;
        for (int k = 0; k < kGroups; ++k) n_off += on_grid[k] ? 0 : 1;
        redo = redo && n_off > 0;
    }
    if (redo) {
        const float id = 1 / scale;
        for (int k = 0; k < kGroups; ++k)
            if (requantize_all || !on_grid[k]) group_levels(g, xval + 8 * k, waux + 8 * k, id, scale, L + 8 * k);
        float sumqx, sumq2;
        level_sums<N>(weight, xval, L, sumqx, sumq2);
        if (sumq2 > 0) scale = sumqx / sumq2;
    }
    return scale;
}

// Sum of x^2 over the super-block, in element order.
KQ_HD float superblock_sumx2(const float* x) {
    float sumx2 = 0.0f;
    for (int i = 0; i < QK_K; ++i) sumx2 += x[i] * x[i];
    return sumx2;
}

KQ_HD float group_max(const float* xval, int n) {
    float max = xval[0];
    for (int i = 1; i < n; ++i) max = kq_max(max, xval[i]);
    return max;
}

// Phase 3: the 4-bit code of a sub-block scale relative to id = 1/d.
KQ_HD int scale_code(float id, float scale) { return kq_clamp(nint(0.5f * (id * scale - 1)), 0, 15); }

// ---- IQ2_XXS: eight sub-blocks of 32 --------------------------------------------------------------

// As ggml's quantize_row_iq2_xxs_impl for one super-block; qw: its 256 importance weights (required).
KQ_HD void quantize_xxs(const iq::Grid8View& g, const float* x, const float* qw, block_iq2_xxs* y) {
    constexpr int kMaxQ = 3;
    uint32_t q2[2 * (QK_K / 32)] = {};
    float scales[QK_K / 32];
    float max_scale = 0.0f;
    const float sigma2 = superblock_sumx2(x) / QK_K;
    for (int ib = 0; ib < QK_K / 32; ++ib) {
        const float* xb = x + 32 * ib;
        const float* qwb = qw + 32 * ib;
        float weight[32], waux[32], xval[32];
        uint8_t signs[4];
        for (int i = 0; i < 32; ++i) weight[i] = qwb[i] * kq_sqrt(sigma2 + xb[i] * xb[i]);
        for (int i = 0; i < 32; ++i) waux[i] = kq_sqrt(weight[i]);
        for (int k = 0; k < 4; ++k) signs[k] = group_signs(xb + 8 * k, weight + 8 * k, true, xval + 8 * k) & 127;
        if (group_max(xval, 32) < kGroupMaxEps) {
            scales[ib] = 0.0f;
            continue;
        }
        // The start: the positive-level search with levels 0..4 (ggml's make_qp_quants); its levels
        // survive only where no later step replaces them.
        uint8_t lq[32];
        float scale = search::make_qp<float>(32, kMaxQ + 1, xval, weight, lq);
        const float eff_max = scale * kMaxQ;
        if (eff_max <= 0) {
            scales[ib] = 0.0f;
            continue;
        }
        int8_t L[32];
        for (int i = 0; i < 32; ++i) L[i] = static_cast<int8_t>(lq[i]);
        scale = fit_subblock<32>(g, xval, weight, waux, eff_max, scale, 6, true, L);
        if (scale < 0) {  // never expected; ggml flips the scale and the signs
            scale = -scale;
            for (int k = 0; k < 4; ++k) signs[k] = static_cast<uint8_t>(~signs[k] & 127);
        }
        for (int k = 0; k < 4; ++k) {
            q2[2 * ib + 0] |= static_cast<uint32_t>(group_index(g, L + 8 * k)) << (8 * k);
            q2[2 * ib + 1] |= static_cast<uint32_t>(signs[k]) << (7 * k);
        }
        scales[ib] = scale;
        max_scale = kq_max(max_scale, scale);
    }
    y->d = fp32_to_fp16(0.0f);
    for (int i = 0; i < QK_K / 8; ++i) y->qs[i] = 0;
    if (max_scale == 0.0f) return;
    const float d = max_scale / 31;
    y->d = fp32_to_fp16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 32; ++ib) q2[2 * ib + 1] |= static_cast<uint32_t>(scale_code(id, scales[ib])) << 28;
    for (int i = 0; i < 2 * (QK_K / 32); ++i) {
        y->qs[2 * i + 0] = static_cast<uint16_t>(q2[i] & 0xffffu);
        y->qs[2 * i + 1] = static_cast<uint16_t>(q2[i] >> 16);
    }
}

// The 8 values of one group: db * magnitude * sign.
KQ_HD void dequantize_group(uint64_t point, uint8_t signs, float db, float* y) {
    for (int j = 0; j < 8; ++j)
        y[j] = db * level_magnitude(iq::grid8_level(point, j)) * ((signs & (1u << j)) != 0 ? -1.f : 1.f);
}

KQ_HD void dequantize_xxs(const iq::Grid8View& g, const block_iq2_xxs* b, float* y) {
    const float d = fp16_to_fp32(b->d);
    for (int ib = 0; ib < QK_K / 32; ++ib) {
        const uint32_t idx = b->qs[4 * ib + 0] | (static_cast<uint32_t>(b->qs[4 * ib + 1]) << 16);
        const uint32_t aux = b->qs[4 * ib + 2] | (static_cast<uint32_t>(b->qs[4 * ib + 3]) << 16);
        const float db = d * (0.5f + static_cast<float>(aux >> 28)) * 0.25f;
        for (int l = 0; l < 4; ++l) {
            const uint8_t signs = sign_byte((aux >> (7 * l)) & 127);
            dequantize_group(g.grid[(idx >> (8 * l)) & 255], signs, db, y + 32 * ib + 8 * l);
        }
    }
}

// ---- IQ2_XS and IQ2_S: sixteen sub-blocks of 16 ---------------------------------------------------

// One sub-block of 16 for XS and S: signs, fit and levels. fitted is false for a negligible sub-block
// (max |x| < eps), which ggml leaves unwritten; signs gets the two groups' sign bytes (7 bits for XS, 8 for S).
struct Fit16 {
    float scale;
    bool fitted;
};
KQ_HD Fit16 fit16(const iq::Grid8View& g, const float* xb, const float* weight, bool even_parity, float eps,
                  uint8_t* signs, int8_t* L) {
    float waux[16], xval[16];
    for (int i = 0; i < 16; ++i) waux[i] = kq_sqrt(weight[i]);
    for (int k = 0; k < 2; ++k) {
        const uint8_t s = group_signs(xb + 8 * k, weight + 8 * k, even_parity, xval + 8 * k);
        signs[k] = even_parity ? static_cast<uint8_t>(s & 127) : s;
    }
    const float max = group_max(xval, 16);
    for (int i = 0; i < 16; ++i) L[i] = 0;
    if (max < eps) return Fit16{0.0f, false};
    float scale = fit_subblock<16>(g, xval, weight, waux, max, max / 5, 9, false, L);
    if (scale < 0) {  // never expected; ggml flips the scale and the signs
        scale = -scale;
        for (int k = 0; k < 2; ++k) signs[k] = static_cast<uint8_t>(even_parity ? ~signs[k] & 127 : ~signs[k]);
    }
    return Fit16{scale, true};
}

// Phase 3 of XS and S: d = max scale / 31 and the sixteen 4-bit codes, two per byte, low nibble first.
KQ_HD float pack_scales16(const float* scales, float max_scale, uint8_t* codes) {
    const float d = max_scale / 31;
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const int l = scale_code(id, scales[ib]);
        codes[ib / 2] = static_cast<uint8_t>(ib % 2 == 0 ? l : (codes[ib / 2] | (l << 4)));
    }
    return d;
}

// As ggml's quantize_row_iq2_xs_impl for one super-block; qw: its 256 importance weights (required).
KQ_HD void quantize_xs(const iq::Grid8View& g, const float* x, const float* qw, block_iq2_xs* y) {
    uint16_t q2[QK_K / 8] = {};
    float scales[QK_K / 16];
    float max_scale = 0.0f;
    const float sigma2 = superblock_sumx2(x) / QK_K;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const float* xb = x + 16 * ib;
        float weight[16];
        for (int i = 0; i < 16; ++i) weight[i] = qw[16 * ib + i] * kq_sqrt(sigma2 + xb[i] * xb[i]);
        uint8_t signs[2];
        int8_t L[16];
        const Fit16 f = fit16(g, xb, weight, true, kGroupMaxEps, signs, L);
        scales[ib] = f.scale;
        if (!f.fitted) continue;
        for (int k = 0; k < 2; ++k)
            q2[2 * ib + k] = static_cast<uint16_t>(group_index(g, L + 8 * k) | (signs[k] << 9));
        max_scale = kq_max(max_scale, f.scale);
    }
    y->d = fp32_to_fp16(0.0f);
    for (int i = 0; i < QK_K / 32; ++i) y->scales[i] = 0;
    for (int i = 0; i < QK_K / 8; ++i) y->qs[i] = 0;
    if (max_scale == 0.0f) return;
    y->d = fp32_to_fp16(pack_scales16(scales, max_scale, y->scales));
    for (int i = 0; i < QK_K / 8; ++i) y->qs[i] = q2[i];
}

// As ggml's quantize_row_iq2_s_impl for one super-block; qw: its 256 importance weights, or null for the
// plain path (weights sigma2/4 + x^2). Here sigma2 = 2*mean(x^2), and the stored d is 0.9875 * d.
KQ_HD void quantize_s(const iq::Grid8View& g, const float* x, const float* qw, block_iq2_s* y) {
    uint8_t* raw = reinterpret_cast<uint8_t*>(y);
    for (int i = 0; i < static_cast<int>(sizeof(block_iq2_s)); ++i) raw[i] = 0;
    float scales[QK_K / 16];
    float max_scale = 0.0f;
    const float sigma2 = 2 * superblock_sumx2(x) / QK_K;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
        const float* xb = x + 16 * ib;
        float weight[16];
        if (qw != nullptr) {
            for (int i = 0; i < 16; ++i) weight[i] = qw[16 * ib + i] * kq_sqrt(sigma2 + xb[i] * xb[i]);
        } else {
            for (int i = 0; i < 16; ++i) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
        }
        uint8_t signs[2];
        int8_t L[16];
        const Fit16 f = fit16(g, xb, weight, false, kGroupMaxEpsS, signs, L);
        scales[ib] = f.scale;
        if (!f.fitted) continue;
        for (int k = 0; k < 2; ++k) {
            const int i8 = 2 * ib + k;
            const int index = group_index(g, L + 8 * k);
            y->qs[i8] = static_cast<uint8_t>(index & 255);
            y->qh[i8 / 4] = static_cast<uint8_t>(y->qh[i8 / 4] | ((index >> 8) << (2 * (i8 % 4))));
            y->qs[QK_K / 8 + i8] = signs[k];
        }
        max_scale = kq_max(max_scale, f.scale);
    }
    if (max_scale == 0.0f) return;
    const float d = pack_scales16(scales, max_scale, y->scales);
    y->d = fp32_to_fp16(d * 0.9875f);
}

KQ_HD void dequantize_xs(const iq::Grid8View& g, const block_iq2_xs* b, float* y) {
    const float d = fp16_to_fp32(b->d);
    for (int ib = 0; ib < QK_K / 32; ++ib) {
        const float db[2] = {d * (0.5f + static_cast<float>(b->scales[ib] & 0xf)) * 0.25f,
                             d * (0.5f + static_cast<float>(b->scales[ib] >> 4)) * 0.25f};
        for (int l = 0; l < 4; ++l) {
            const uint16_t q = b->qs[4 * ib + l];
            dequantize_group(g.grid[q & 511], sign_byte(q >> 9), db[l / 2], y + 32 * ib + 8 * l);
        }
    }
}

KQ_HD void dequantize_s(const iq::Grid8View& g, const block_iq2_s* b, float* y) {
    const float d = fp16_to_fp32(b->d);
    for (int ib = 0; ib < QK_K / 32; ++ib) {
        const float db[2] = {d * (0.5f + static_cast<float>(b->scales[ib] & 0xf)) * 0.25f,
                             d * (0.5f + static_cast<float>(b->scales[ib] >> 4)) * 0.25f};
        for (int l = 0; l < 4; ++l) {
            const int i8 = 4 * ib + l;
            const int index = b->qs[i8] | ((b->qh[ib] << (8 - 2 * l)) & 0x300);
            dequantize_group(g.grid[index], b->qs[QK_K / 8 + i8], db[l / 2], y + 32 * ib + 8 * l);
        }
    }
}

}  // namespace iq2
}  // namespace kquant

namespace kquant::codec {

// The process-wide grid is the host's (iq::grid8, built on first use); a kernel passes a device copy of
// the same view. XXS and XS have no plain path: ggml's quantizer asserts that importance weights are given.
struct IQ2_XXS {
    using Block = block_iq2_xxs;
    static constexpr Type type = Type::IQ2_XXS;
    static constexpr int kBlockElems = QK_K;
    static constexpr bool kRowSigma2 = false;
    using Grid = iq::Grid8View;
    static const Grid& host_grid() { return iq::grid8(iq2::kGridSizeXxs); }
    KQ_HD static void quantize_weighted(const Grid& g, const float* x, const float* qw, float, Block* y) {
        iq2::quantize_xxs(g, x, qw, y);
    }
    KQ_HD static void dequantize(const Grid& g, const Block* b, float* y) { iq2::dequantize_xxs(g, b, y); }
};

struct IQ2_XS {
    using Block = block_iq2_xs;
    static constexpr Type type = Type::IQ2_XS;
    static constexpr int kBlockElems = QK_K;
    static constexpr bool kRowSigma2 = false;
    using Grid = iq::Grid8View;
    static const Grid& host_grid() { return iq::grid8(iq2::kGridSizeXs); }
    KQ_HD static void quantize_weighted(const Grid& g, const float* x, const float* qw, float, Block* y) {
        iq2::quantize_xs(g, x, qw, y);
    }
    KQ_HD static void dequantize(const Grid& g, const Block* b, float* y) { iq2::dequantize_xs(g, b, y); }
};

struct IQ2_S {
    using Block = block_iq2_s;
    static constexpr Type type = Type::IQ2_S;
    static constexpr int kBlockElems = QK_K;
    static constexpr bool kRowSigma2 = false;
    using Grid = iq::Grid8View;
    static const Grid& host_grid() { return iq::grid8(iq2::kGridSizeS); }
    KQ_HD static void quantize(const Grid& g, const float* x, Block* y) { iq2::quantize_s(g, x, nullptr, y); }
    KQ_HD static void quantize_weighted(const Grid& g, const float* x, const float* qw, float, Block* y) {
        iq2::quantize_s(g, x, qw, y);
    }
    KQ_HD static void dequantize(const Grid& g, const Block* b, float* y) { iq2::dequantize_s(g, b, y); }
};

}  // namespace kquant::codec
