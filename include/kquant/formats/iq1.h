// IQ1_S and IQ1_M (256-element super-blocks): every 8 elements are one point of the 2048-point ternary
// grid (iq_grid.h, grid8(2048); point bytes 1/3/5 = levels 0/1/2), shifted by +-delta and scaled.
//   IQ1_S: 8 sub-blocks of 32; per sub-block a 3-bit scale and one shift sign; fp16 super-block scale.
//   IQ1_M: 16 sub-blocks of 16; per sub-block a 3-bit scale, per 8-group a shift sign; the fp16
//          super-block scale is spread over the top nibbles of the four scale words.
// Search (ggml's quantize_row_iq1_s_impl / quantize_row_iq1_m_impl): per sub-block, sort the values,
// then try every split of the sorted order into levels {0, 1, 2} with both shift signs, by prefix sums;
// groups whose level pattern is not a grid point go to their nearest listed neighbour.
// Weights: qw*sqrt(sigma2 + x^2), sigma2 = 2*mean(x^2) of the super-block; IQ1_M without an imatrix
// uses x^2. IQ1_S has no plain path in ggml (it asserts quant_weights != NULL).
#pragma once
#include <cfloat>
#include <cstdint>

#include "kquant/blocks.h"
#include "kquant/formats/iq_grid.h"
#include "kquant/hd.h"
#include "kquant/numeric.h"
#include "kquant/simd/lanes.h"
#include "kquant/types.h"

namespace kquant {

struct block_iq1_s {
    uint16_t d;                // fp16 super-block scale
    uint8_t qs[QK_K / 8];      // grid index, low 8 bits, one per 8-group
    uint16_t qh[QK_K / 32];    // per sub-block: 4 x 3 high index bits, 3-bit scale << 12, shift sign 0x8000
};
static_assert(sizeof(block_iq1_s) == 50, "block_iq1_s layout");

struct block_iq1_m {
    uint8_t qs[QK_K / 8];      // grid index, low 8 bits
    uint8_t qh[QK_K / 16];     // per sub-block: 3 high index bits + shift sign (0x08) per 8-group, x2
    uint8_t scales[QK_K / 32]; // four LE uint16: 4 x 3-bit sub-block scales, top nibble = a nibble of the fp16 scale
};
static_assert(sizeof(block_iq1_m) == 56, "block_iq1_m layout");

}  // namespace kquant

namespace kquant::iq1 {

inline constexpr float IQ1S_DELTA = 0.125f;
inline constexpr float IQ1M_DELTA = 0.125f;
inline constexpr float kGroupMaxEpsS = 1e-12f;  // ggml's GROUP_MAX_EPS_IQ1_S
inline constexpr float kGroupMaxEpsM = 1e-7f;   // ggml's GROUP_MAX_EPS_IQ1_M
inline constexpr int kGridSize = 2048;          // NGRID_IQ1S
inline constexpr int kSubS = 32;                // IQ1S_BLOCK_SIZE
inline constexpr int kSubM = 16;                // IQ1M_BLOCK_SIZE

// The dequantized value of element i of a grid point: -1, 0 or 1 (ggml's iq1s_grid holds these).
KQ_HD int point_value(uint64_t point, int i) { return (iq::grid8_value(point, i) - 3) / 2; }

// The three level values of a shift sign: {-1+delta, delta, 1+delta} or {-1-delta, -delta, 1-delta}.
struct Levels {
    float v[3];
};
KQ_HD Levels levels(float delta, bool minus) {
    return minus ? Levels{{-1 - delta, -delta, 1 - delta}} : Levels{{-1 + delta, delta, 1 + delta}};
}

// Super-block sigma2 = 2*sum(x^2)/256, summed in index order.
KQ_HD float superblock_sigma2(const float* x) {
    float sumx2 = 0.0f;
    for (int i = 0; i < QK_K; ++i) sumx2 += x[i] * x[i];
    return 2.0f * sumx2 / static_cast<float>(QK_K);
}

// Sub-block weights: qw*sqrt(sigma2 + x^2), or x^2 without an imatrix.
KQ_HD void subblock_weights(int n, const float* x, const float* qw, float sigma2, float* w) {
    if (qw != nullptr) {
        for (int i = 0; i < n; ++i) w[i] = qw[i] * kq_sqrt(sigma2 + x[i] * x[i]);
    } else {
        for (int i = 0; i < n; ++i) w[i] = x[i] * x[i];
    }
}

KQ_HD float subblock_absmax(int n, const float* x) {
    float m = kq_fabs(x[0]);
    for (int i = 1; i < n; ++i) m = kq_max(m, kq_fabs(x[i]));
    return m;
}

// Indices of x in ascending value order. ggml qsorts (value, index) pairs comparing values only; glibc's
// qsort is a stable merge sort at these sizes, so equal values (+0/-0 included) keep index order. A
// stable insertion sort gives that order.
KQ_HD void sort_by_value(int n, const float* x, int* order) {
    for (int j = 0; j < n; ++j) {
        int k = j;
        while (k > 0 && x[order[k - 1]] > x[j]) {
            order[k] = order[k - 1];
            --k;
        }
        order[k] = j;
    }
}

// Levels of a split of the sorted order: the first i1 elements get 0, the next up to i2 get 1, the rest 2.
KQ_HD void split_levels(int n, const int* order, int i1, int i2, int8_t* L) {
    for (int j = 0; j < i1; ++j) L[order[j]] = 0;
    for (int j = i1; j < i2; ++j) L[order[j]] = 1;
    for (int j = i2; j < n; ++j) L[order[j]] = 2;
}

// ggml's iq1_find_best_neighbour2: the listed neighbour (nb[0] = count, then indices) of least distance
// (iq::grid8_d2 over the level values xg), first wins; L gets its levels. If none beats FLT_MAX (only with
// inf/NaN sums) ggml scans the whole grid, but reads xval[grid index] there (past the group: not
// reproducible); we scan with xval[j]. If that fails too ggml asserts; we take point 0.
KQ_HD int best_neighbour(const iq::Grid8View& g, const uint16_t* nb, const float* xval, const float* w,
                         float scale, const float* xg, int8_t* L) {
    const iq::Grid8Terms T = iq::grid8_terms(xval, w, scale, xg);
    float best = FLT_MAX;
    int index = -1;
    for (int j = 1; j <= nb[0]; ++j) {
        const float d2 = iq::grid8_d2(T, g.grid[nb[j]]);
        if (d2 < best) {
            best = d2;
            index = nb[j];
        }
    }
    if (index < 0) {
        for (int i = 0; i < g.grid_size; ++i) {
            const float d2 = iq::grid8_d2(T, g.grid[i]);
            if (d2 < best) {
                best = d2;
                index = i;
            }
        }
    }
    if (index < 0) index = 0;
    for (int i = 0; i < 8; ++i) L[i] = static_cast<int8_t>(iq::grid8_level(g.grid[index], i));
    return index;
}

// Grid indices of the N/8 groups of a sub-block from their levels L (a pattern off the grid takes its best
// neighbour, rewriting L). xx[k]: the level values of group k. If any group moved, the scale is refitted to
// the chosen points (sums over the whole sub-block, element order) and kept only if that fit is positive.
template <int N>
KQ_HD float snap_to_grid(const iq::Grid8View& g, const float* xb, const float* w, float scale,
                         const float* const* xx, int8_t* L, uint16_t* index) {
    bool all_on_grid = true;
    for (int k = 0; k < N / 8; ++k) {
        const int key = iq::grid8_key(L + 8 * k);
        int gi = g.map[key];
        if (gi < 0) {
            all_on_grid = false;
            gi = best_neighbour(g, iq::grid8_neighbours(g, key), xb + 8 * k, w + 8 * k, scale, xx[k], L + 8 * k);
        }
        index[k] = static_cast<uint16_t>(gi);
    }
    if (!all_on_grid) {
        float sumqx = 0.0f, sumq2 = 0.0f;
        for (int k = 0; k < N / 8; ++k) {
            const uint64_t p = g.grid[index[k]];
            for (int j = 0; j < 8; ++j) {
                const float wj = w[8 * k + j];
                const float q = xx[k][iq::grid8_level(p, j)];
                sumqx += wj * q * xb[8 * k + j];
                sumq2 += wj * q * q;
            }
        }
        if (sumqx > 0.0f && sumq2 > 0.0f) scale = sumqx / sumq2;
    }
    return scale;
}

// One fitted sub-block: scale (0 if skipped), the shift code (IQ1_S: +1/-1; IQ1_M: 0..3, bit 1 = first
// group minus, bit 0 = second group minus) and the grid index of each 8-group.
struct SubblockFit {
    float scale;
    int shift;
    uint16_t index[kSubS / 8];
};

// IQ1_S sub-block (32 elements): exhaustive split search over prefix sums of the sorted order, shift + then
// - for each split (i1 <= i2), strictly better score wins.
KQ_HD SubblockFit fit_subblock_s(const iq::Grid8View& g, const float* xb, const float* w) {
    SubblockFit fit{0.0f, 1, {0, 0, 0, 0}};
    constexpr int n = kSubS;
    const float max = subblock_absmax(n, xb);
    if (max < kGroupMaxEpsS) return fit;
    const Levels lp = levels(IQ1S_DELTA, false), lm = levels(IQ1S_DELTA, true);
    const float* x_p = lp.v;
    const float* x_m = lm.v;

    int order[n];
    sort_by_value(n, xb, order);
    float sumx[n + 1], sumw[n + 1];
    sumx[0] = sumw[0] = 0.0f;
    for (int j = 0; j < n; ++j) {
        const int i = order[j];
        sumx[j + 1] = sumx[j] + w[i] * xb[i];
        sumw[j + 1] = sumw[j] + w[i];
    }
    float best_score = -FLT_MAX, scale = max;
    int besti1 = -1, besti2 = -1, best_shift = 0;
    for (int i1 = 0; i1 <= n; ++i1) {
        for (int i2 = i1; i2 <= n; ++i2) {
            const float s0 = sumx[i1] - sumx[0], s1 = sumx[i2] - sumx[i1], s2 = sumx[n] - sumx[i2];
            const float w0 = sumw[i1] - sumw[0], w1 = sumw[i2] - sumw[i1], w2 = sumw[n] - sumw[i2];
            float sumqx = s0 * x_p[0] + s1 * x_p[1] + s2 * x_p[2];
            float sumq2 = w0 * x_p[0] * x_p[0] + w1 * x_p[1] * x_p[1] + w2 * x_p[2] * x_p[2];
            if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
                scale = sumqx / sumq2;
                best_score = scale * sumqx;
                besti1 = i1, besti2 = i2, best_shift = 1;
            }
            sumqx = s0 * x_m[0] + s1 * x_m[1] + s2 * x_m[2];
            sumq2 = w0 * x_m[0] * x_m[0] + w1 * x_m[1] * x_m[1] + w2 * x_m[2] * x_m[2];
            if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
                scale = sumqx / sumq2;
                best_score = scale * sumqx;
                besti1 = i1, besti2 = i2, best_shift = -1;
            }
        }
    }
    if (besti1 < 0 || besti2 < 0 || best_shift == 0) return fit;

    int8_t L[n];
    split_levels(n, order, besti1, besti2, L);
    if (scale < 0) {  // mirror the levels; the mirrored shift sign keeps the same values up to sign
        for (int j = 0; j < n; ++j) L[j] = static_cast<int8_t>(2 - L[j]);
        scale = -scale;
        best_shift = -best_shift;
    }
    const float* xx = best_shift == 1 ? x_p : x_m;
    const float* xxs[n / 8] = {xx, xx, xx, xx};
    fit.scale = snap_to_grid<n>(g, xb, w, scale, xxs, L, fit.index);
    fit.shift = best_shift;
    return fit;
}

// IQ1_M sub-block (16 elements): the same split search, but each 8-element half takes its own shift sign
// (4 combinations). As ggml 0c1e5709: prefix sums per half, each half's sums for a split are
// T*v[2] - P[i1] - P[i2] (x) and Tw*v[2]^2 + Pw[i1]*c1 + Pw[i2]*c2 (weights), then the halves are added.
KQ_HD SubblockFit fit_subblock_m(const iq::Grid8View& g, const float* xb, const float* w) {
    SubblockFit fit{0.0f, 0, {0, 0, 0, 0}};
    constexpr int n = kSubM;
    const float max = subblock_absmax(n, xb);
    if (max < kGroupMaxEpsM) return fit;
    const Levels lp = levels(IQ1M_DELTA, false), lm = levels(IQ1M_DELTA, true);
    const float* x_p = lp.v;
    const float* x_m = lm.v;

    int order[n];
    sort_by_value(n, xb, order);
    float px[2][n + 1], pw[2][n + 1];
    px[0][0] = px[1][0] = 0.0f;
    pw[0][0] = pw[1][0] = 0.0f;
    for (int j = 0; j < n; ++j) {
        const int i = order[j];
        const int h = i < n / 2 ? 0 : 1;
        px[h][j + 1] = px[h][j] + w[i] * xb[i];
        px[1 - h][j + 1] = px[1 - h][j];
        pw[h][j + 1] = pw[h][j] + w[i];
        pw[1 - h][j + 1] = pw[1 - h][j];
    }
    const float txs[2] = {px[0][n], px[1][n]};
    const float tws[2] = {pw[0][n], pw[1][n]};
    const float p2 = x_p[2], m2 = x_m[2];
    const float cp1 = x_p[0] * x_p[0] - x_p[1] * x_p[1];
    const float cp2 = x_p[1] * x_p[1] - x_p[2] * x_p[2];
    const float cm1 = x_m[0] * x_m[0] - x_m[1] * x_m[1];
    const float cm2 = x_m[1] * x_m[1] - x_m[2] * x_m[2];

    float best_score = -FLT_MAX, scale = max;
    int besti1 = -1, besti2 = -1, best_k = -1;
    for (int i1 = 0; i1 <= n; ++i1) {
        for (int i2 = i1; i2 <= n; ++i2) {
            float qx_p[2], qx_m[2], q2_p[2], q2_m[2];
            for (int h = 0; h < 2; ++h) {
                const float sx = px[h][i1] + px[h][i2];
                qx_p[h] = txs[h] * p2 - sx;
                qx_m[h] = txs[h] * m2 - sx;
                q2_p[h] = tws[h] * p2 * p2 + pw[h][i1] * cp1 + pw[h][i2] * cp2;
                q2_m[h] = tws[h] * m2 * m2 + pw[h][i1] * cm1 + pw[h][i2] * cm2;
            }
            // k: bit 1 = first half minus, bit 0 = second half minus
            const float sumqx[4] = {qx_p[0] + qx_p[1], qx_p[0] + qx_m[1], qx_m[0] + qx_p[1], qx_m[0] + qx_m[1]};
            const float sumq2[4] = {q2_p[0] + q2_p[1], q2_p[0] + q2_m[1], q2_m[0] + q2_p[1], q2_m[0] + q2_m[1]};
            for (int k = 0; k < 4; ++k) {
                if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best_score * sumq2[k]) {
                    scale = sumqx[k] / sumq2[k];
                    best_score = scale * sumqx[k];
                    besti1 = i1, besti2 = i2, best_k = k;
                }
            }
        }
    }
    if (besti1 < 0 || besti2 < 0 || best_k < 0) return fit;

    int8_t L[n];
    split_levels(n, order, besti1, besti2, L);
    if (scale < 0) {
        for (int j = 0; j < n; ++j) L[j] = static_cast<int8_t>(2 - L[j]);
        scale = -scale;
        best_k = 3 - best_k;  // both signs flip
    }
    const float* xxs[n / 8] = {best_k < 2 ? x_p : x_m, best_k % 2 == 0 ? x_p : x_m};
    fit.scale = snap_to_grid<n>(g, xb, w, scale, xxs, L, fit.index);
    fit.shift = best_k;
    return fit;
}

// The 3-bit sub-block scale code: nint((scale/d - 1)/2) clamped to [0, 7], with id = 1/d as in ggml.
KQ_HD int scale_code(float id, float scale) { return kq_clamp(nint(0.5f * (id * scale - 1)), 0, 7); }

// IQ1_S super-block. qw: the block's 256 importance weights (required, as in ggml).
KQ_HD void quantize_block_s(const iq::Grid8View& g, const float* x, const float* qw, block_iq1_s* y) {
    constexpr int nsub = QK_K / kSubS;
    y->d = fp32_to_fp16(0.0f);
    for (int i = 0; i < QK_K / 8; ++i) y->qs[i] = 0;
    for (int i = 0; i < nsub; ++i) y->qh[i] = 0;

    const float sigma2 = superblock_sigma2(x);
    float scales[nsub];
    int shifts[nsub];
    float max_scale = 0.0f;
    for (int ib = 0; ib < nsub; ++ib) {
        const float* xb = x + kSubS * ib;
        float w[kSubS];
        subblock_weights(kSubS, xb, qw + kSubS * ib, sigma2, w);
        const SubblockFit f = fit_subblock_s(g, xb, w);
        scales[ib] = f.scale;
        shifts[ib] = f.shift;
        uint16_t h = 0;  // a skipped sub-block has index 0 everywhere: qs/qh stay 0, as in ggml
        for (int k = 0; k < kSubS / 8; ++k) {
            y->qs[(kSubS / 8) * ib + k] = static_cast<uint8_t>(f.index[k] & 255);
            h = static_cast<uint16_t>(h | ((f.index[k] >> 8) << (3 * k)));
        }
        y->qh[ib] = h;
        max_scale = kq_max(max_scale, f.scale);
    }
    if (max_scale == 0.0f) return;

    const float d = max_scale / 15;
    y->d = fp32_to_fp16(d * 1.125f);  // ggml's extra factor on the stored scale
    const float id = 1 / d;
    for (int ib = 0; ib < nsub; ++ib) {
        int l = scale_code(id, scales[ib]);
        if (shifts[ib] == -1) l |= 8;
        y->qh[ib] = static_cast<uint16_t>(y->qh[ib] | (l << 12));
    }
}

// IQ1_M super-block. qw: the block's 256 importance weights, or null (weights x^2).
KQ_HD void quantize_block_m(const iq::Grid8View& g, const float* x, const float* qw, block_iq1_m* y) {
    constexpr int nsub = QK_K / kSubM;
    constexpr uint8_t kShiftMasks[4] = {0x00, 0x80, 0x08, 0x88};
    for (int i = 0; i < QK_K / 8; ++i) y->qs[i] = 0;
    for (int i = 0; i < QK_K / 16; ++i) y->qh[i] = 0;
    for (int i = 0; i < QK_K / 32; ++i) y->scales[i] = 0;

    const float sigma2 = superblock_sigma2(x);
    float scales[nsub];
    int shifts[nsub];
    float max_scale = 0.0f;
    for (int ib = 0; ib < nsub; ++ib) {
        const float* xb = x + kSubM * ib;
        float w[kSubM];
        subblock_weights(kSubM, xb, qw != nullptr ? qw + kSubM * ib : nullptr, sigma2, w);
        const SubblockFit f = fit_subblock_m(g, xb, w);
        scales[ib] = f.scale;
        shifts[ib] = f.shift;
        y->qs[2 * ib + 0] = static_cast<uint8_t>(f.index[0] & 255);
        y->qs[2 * ib + 1] = static_cast<uint8_t>(f.index[1] & 255);
        y->qh[ib] = static_cast<uint8_t>((f.index[0] >> 8) | ((f.index[1] >> 8) << 4));
        max_scale = kq_max(max_scale, f.scale);
    }
    if (max_scale == 0.0f) return;

    // Sub-block codes, then the super-block scale refitted by weighted least squares over all 256 elements
    // with the coded scales (2l+1) and the chosen points (skipped sub-blocks included, at grid point 0).
    uint16_t sc[4] = {0, 0, 0, 0};
    float d = max_scale / 15;
    const float id = 1 / d;
    const Levels lp = levels(IQ1M_DELTA, false), lm = levels(IQ1M_DELTA, true);
    float sumqx = 0.0f, sumq2 = 0.0f;
    for (int ib = 0; ib < nsub; ++ib) {
        const int l = scale_code(id, scales[ib]);
        sc[ib / 4] = static_cast<uint16_t>(sc[ib / 4] | (l << (3 * (ib % 4))));
        y->qh[ib] = static_cast<uint8_t>(y->qh[ib] | kShiftMasks[shifts[ib]]);
        const float* xb = x + kSubM * ib;
        float w[kSubM];
        subblock_weights(kSubM, xb, qw != nullptr ? qw + kSubM * ib : nullptr, sigma2, w);
        for (int k = 0; k < kSubM / 8; ++k) {
            const bool minus = k == 0 ? shifts[ib] >= 2 : shifts[ib] % 2 != 0;
            const float* xx = minus ? lm.v : lp.v;
            const int gi = y->qs[2 * ib + k] | ((y->qh[ib] << (8 - 4 * k)) & 0x700);
            const uint64_t p = g.grid[gi];
            for (int j = 0; j < 8; ++j) {
                const float wj = w[8 * k + j];
                const float q = xx[iq::grid8_level(p, j)] * static_cast<float>(2 * l + 1);
                sumqx += wj * q * xb[8 * k + j];
                sumq2 += wj * q * q;
            }
        }
    }
    if (sumq2 > 0) d = sumqx / sumq2;
    const uint16_t s = fp32_to_fp16(d * 1.1125f);  // ggml's extra factor on the stored scale
    sc[0] = static_cast<uint16_t>(sc[0] | ((s & 0x000f) << 12));
    sc[1] = static_cast<uint16_t>(sc[1] | ((s & 0x00f0) << 8));
    sc[2] = static_cast<uint16_t>(sc[2] | ((s & 0x0f00) << 4));
    sc[3] = static_cast<uint16_t>(sc[3] | (s & 0xf000));
    for (int i = 0; i < 4; ++i) {
        y->scales[2 * i] = static_cast<uint8_t>(sc[i] & 0xff);
        y->scales[2 * i + 1] = static_cast<uint8_t>(sc[i] >> 8);
    }
}

KQ_HD void dequantize_block_s(const iq::Grid8View& g, const block_iq1_s* b, float* y) {
    const float d = fp16_to_fp32(b->d);
    for (int ib = 0; ib < QK_K / kSubS; ++ib) {
        const uint16_t qh = b->qh[ib];
        const float dl = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1);
        const float delta = (qh & 0x8000) != 0 ? -IQ1S_DELTA : IQ1S_DELTA;
        for (int k = 0; k < 4; ++k) {
            const uint64_t p = g.grid[b->qs[4 * ib + k] | (((qh >> (3 * k)) & 7) << 8)];
            for (int j = 0; j < 8; ++j) y[32 * ib + 8 * k + j] = dl * (static_cast<float>(point_value(p, j)) + delta);
        }
    }
}

// The fp16 super-block scale of an IQ1_M block, gathered from the top nibbles of its four scale words.
KQ_HD uint16_t m_scale_bits(const block_iq1_m* b, uint16_t* sc) {
    for (int i = 0; i < 4; ++i) sc[i] = static_cast<uint16_t>(b->scales[2 * i] | (b->scales[2 * i + 1] << 8));
    return static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
}

KQ_HD void dequantize_block_m(const iq::Grid8View& g, const block_iq1_m* b, float* y) {
    uint16_t sc[4];
    const float d = fp16_to_fp32(m_scale_bits(b, sc));
    for (int ib = 0; ib < QK_K / kSubM; ++ib) {
        const float dl = d * static_cast<float>(2 * ((sc[ib / 4] >> (3 * (ib % 4))) & 7) + 1);
        const uint8_t qh = b->qh[ib];
        for (int k = 0; k < 2; ++k) {
            const int gi = b->qs[2 * ib + k] | ((qh << (8 - 4 * k)) & 0x700);
            const float delta = (qh & (0x08 << (4 * k))) != 0 ? -IQ1M_DELTA : IQ1M_DELTA;
            const uint64_t p = g.grid[gi];
            for (int j = 0; j < 8; ++j) y[16 * ib + 8 * k + j] = dl * (static_cast<float>(point_value(p, j)) + delta);
        }
    }
}

}  // namespace kquant::iq1

namespace kquant::codec {

// The process-wide 2048-point grid is the host's (iq::grid8); a kernel passes a device copy. IQ1_S has
// no plain path: ggml requires an imatrix for it (its quantizer asserts).
struct IQ1_S {
    using Block = block_iq1_s;
    static constexpr Type type = Type::IQ1_S;
    static constexpr int kBlockElems = QK_K;
    static constexpr bool kRowSigma2 = false;
    using Grid = iq::Grid8View;
    static const Grid& host_grid() { return iq::grid8(iq1::kGridSize); }
    KQ_HD static void quantize_weighted(const Grid& g, const float* x, const float* qw, float, Block* y) {
        iq1::quantize_block_s(g, x, qw, y);
    }
    KQ_HD static void dequantize(const Grid& g, const Block* b, float* y) { iq1::dequantize_block_s(g, b, y); }
};

struct IQ1_M {
    using Block = block_iq1_m;
    static constexpr Type type = Type::IQ1_M;
    static constexpr int kBlockElems = QK_K;
    static constexpr bool kRowSigma2 = false;
    using Grid = iq::Grid8View;
    static const Grid& host_grid() { return iq::grid8(iq1::kGridSize); }
    KQ_HD static void quantize(const Grid& g, const float* x, Block* y) { iq1::quantize_block_m(g, x, nullptr, y); }
    KQ_HD static void quantize_weighted(const Grid& g, const float* x, const float* qw, float, Block* y) {
        iq1::quantize_block_m(g, x, qw, y);
    }
    KQ_HD static void dequantize(const Grid& g, const Block* b, float* y) { iq1::dequantize_block_m(g, b, y); }
};

}  // namespace kquant::codec
