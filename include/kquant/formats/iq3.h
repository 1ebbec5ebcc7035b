// IQ3_XXS and IQ3_S: 256-element super-blocks of eight 32-element sub-blocks; each group of 4 magnitudes
// is one point of a D4-lattice grid (256 points for IQ3_XXS, 512 for IQ3_S; iq3_grid.h), signs are stored
// apart, and each sub-block has a 4-bit scale under one fp16 super-block scale.
//
// Per sub-block (as ggml's quantize_row_iq3_xxs_impl / quantize_row_iq3_s_impl):
//   1. weights: x^2, or qw*sqrt(sigma2 + x^2) with sigma2 = 2*mean(x^2) of the super-block;
//   2. signs split off (IQ3_XXS: an even number of negatives per 8, by flipping the least important one);
//   3. search_subblock: a scan over candidate inverse scales, snapping each group of 4 levels to the grid
//      (nearest neighbour under the weights when off it), then one re-snap at the best scale;
//   4. grid indices and signs packed.
// Then d = max_scale/31 (times a fudge factor) and the 4-bit sub-block scales. Nothing carries from one
// super-block to the next: all scratch lives in the block function.
#pragma once
#include <cstdint>

#include "kquant/blocks.h"
#include "kquant/formats/iq3_grid.h"
#include "kquant/hd.h"
#include "kquant/numeric.h"
#include "kquant/simd/lanes.h"
#include "kquant/types.h"

namespace kquant {

struct block_iq3_xxs {
    uint16_t d;
    uint8_t qs[3 * QK_K / 8];  // 64 grid indices, then 8 uint32: 4 x 7 sign bits | 4-bit scale << 28
};
static_assert(sizeof(block_iq3_xxs) == 98, "block_iq3_xxs layout");

struct block_iq3_s {
    uint16_t d;
    uint8_t qs[QK_K / 4];     // low 8 bits of the 64 grid indices
    uint8_t qh[QK_K / 32];    // bit k of qh[ib]: 9th bit of the index of group k of sub-block ib
    uint8_t signs[QK_K / 8];  // one bit per element
    uint8_t scales[QK_K / 64];  // two 4-bit sub-block scales per byte
};
static_assert(sizeof(block_iq3_s) == 110, "block_iq3_s layout");

}  // namespace kquant

namespace kquant::iq3 {

inline constexpr int kSubBlock = 32;
inline constexpr int kGroups = kSubBlock / 4;  // grid points per sub-block
inline constexpr int kMaxQ = 8;                // levels 0..7, values 2*level+1
inline constexpr float kXxsGroupMaxEps = 1e-8f;  // ggml's GROUP_MAX_EPS_IQ3_XXS

KQ_HD int grid_value(uint32_t point, int i) { return static_cast<int>((point >> (8 * i)) & 0xff); }

// IQ3_XXS dequantizes level l to 4, 12, 20, 28, 36, 44, 52, 62, not to 2l+1: ggml-common.h's iq3xxs_grid
// (llama.cpp format data, commit 0c1e5709) is the 256-point grid with this mapping. The top level is 62,
// not 60; d*(0.5 + code)*0.5 then makes the step (2*code + 1)*d as for the quantizer's odd values.
KQ_HD constexpr int xxs_value(int level) { return level == kMaxQ - 1 ? 62 : 8 * level + 4; }

// The 12-bit level code of 4 levels.
KQ_HD int level_code(const int8_t* L) {
    int u = 0;
    for (int i = 0; i < 4; ++i) u |= L[i] << (3 * i);
    return u;
}

// As ggml's iq3_find_best_neighbour: the listed grid point nearest to xval/scale under the weights w
// (first of equals wins); writes its levels to L and returns its index. The sum is sequential, w*diff*diff.
// Each element's term for each of the eight values is formed once (the same floats the reference forms
// per point, t[i][value], value 2l+1 = 1..15) and a point's distance adds its four terms in order.
KQ_HD int best_neighbour(const iq::Grid4View& g, const uint16_t* nb, const float* xval, const float* w, float scale,
                         int8_t* L) {
    float t[4][16];
    for (int i = 0; i < 4; ++i)
        for (int l = 0; l < kMaxQ; ++l) {
            const float diff = scale * static_cast<float>(2 * l + 1) - xval[i];
            t[i][2 * l + 1] = w[i] * diff * diff;
        }
    const int n = nb[0];
    float best_d2 = 3.40282347e+38f;  // FLT_MAX
    int best = nb[1];  // ggml asserts some distance beats FLT_MAX; all-inf/NaN distances fall back to the first
    for (int j = 1; j <= n; ++j) {
        const uint32_t p = g.grid[nb[j]];
        float d2 = 0.0f;
        for (int i = 0; i < 4; ++i) d2 += t[i][grid_value(p, i) & 15];
        if (d2 < best_d2) {
            best_d2 = d2;
            best = nb[j];
        }
    }
    const uint32_t p = g.grid[best];
    for (int i = 0; i < 4; ++i) L[i] = static_cast<int8_t>((grid_value(p, i) - 1) / 2);
    return best;
}

// Levels of one group of 4 at inverse scale id, clamped to 0..7; returns their code.
KQ_HD int group_levels(const float* xval, float id, int8_t* L) {
    for (int i = 0; i < 4; ++i) {
        const int l = nint(0.5f * (id * xval[i] - 1.0f));
        L[i] = static_cast<int8_t>(kq_clamp(l, 0, kMaxQ - 1));
    }
    return level_code(L);
}

// Snaps a group of 4 to the grid at (id, scale): its levels on the grid, or its best neighbour's.
// Returns whether the rounded levels were on the grid.
KQ_HD bool snap_group(const iq::Grid4View& g, const float* xval, const float* waux, float id, float scale, int8_t* L) {
    const int u = group_levels(xval, id, L);
    if (g.map[u] >= 0) return true;
    best_neighbour(g, g.neighbours - g.map[u] - 1, xval, waux, scale, L);
    return false;
}

// Weighted fit of levels L to xval: sum w*x*q and sum w*q*q, q = 2L+1, in index order.
KQ_HD void fit_sums(const float* xval, const float* w, const int8_t* L, float& sumqx, float& sumq2) {
    sumqx = 0.0f;
    sumq2 = 0.0f;
    for (int i = 0; i < kSubBlock; ++i) {
        const float q = static_cast<float>(2 * L[i] + 1);
        sumqx += w[i] * xval[i] * q;
        sumq2 += w[i] * q * q;
    }
}

// How the two types run the search.
struct SearchParams {
    int steps;            // candidate id = (15 + is*0.2)/max for is in [-steps, steps]
    bool on_grid_init;    // is_on_grid before any candidate is taken (XXS: true, S: false)
    bool resnap_all;      // final re-snap of every group (S) or only of those that were off the grid (XXS)
};
inline constexpr SearchParams kXxsSearch{15, true, false};
inline constexpr SearchParams kSSearch{9, false, true};

// Phase 3 for one sub-block with max > 0: returns the scale (may be negative) and the levels L[32], all on
// the grid. weight: the fit weights; waux: sqrt(weight), the neighbour-search weights.
KQ_HD float search_subblock(const iq::Grid4View& g, const float* xval, const float* weight, const float* waux,
                            float max, SearchParams p, int8_t* L) {
    for (int i = 0; i < kSubBlock; ++i) L[i] = 0;
    float best = 0.0f;
    float scale = max / static_cast<float>(2 * kMaxQ - 1);
    bool on_grid[kGroups];
    for (int k = 0; k < kGroups; ++k) on_grid[k] = p.on_grid_init;
    for (int is = -p.steps; is <= p.steps; ++is) {
        const float id = (static_cast<float>(2 * kMaxQ - 1) + static_cast<float>(is) * 0.2f) / max;
        const float this_scale = 1.0f / id;
        int8_t Laux[kSubBlock];
        bool on_grid_aux[kGroups];
        for (int k = 0; k < kGroups; ++k)
            on_grid_aux[k] = snap_group(g, xval + 4 * k, waux + 4 * k, id, this_scale, Laux + 4 * k);
        float sumqx, sumq2;
        fit_sums(xval, weight, Laux, sumqx, sumq2);
        if (sumq2 > 0.0f && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            for (int i = 0; i < kSubBlock; ++i) L[i] = Laux[i];
            for (int k = 0; k < kGroups; ++k) on_grid[k] = on_grid_aux[k];
        }
    }
    int n_off = 0;
    for (int k = 0; k < kGroups; ++k) n_off += on_grid[k] ? 0 : 1;
    if (n_off > 0 && scale > 0.0f) {
        const float id = 1.0f / scale;
        for (int k = 0; k < kGroups; ++k) {
            if (on_grid[k] && !p.resnap_all) continue;
            snap_group(g, xval + 4 * k, waux + 4 * k, id, scale, L + 4 * k);
        }
        float sumqx, sumq2;
        fit_sums(xval, weight, L, sumqx, sumq2);
        if (sumq2 > 0.0f) scale = sumqx / sumq2;
    }
    return scale;
}

// Phase 1 of a super-block: sigma2 = 2*sum(x^2)/256 (sequential sum), used by the imatrix weights.
KQ_HD float superblock_sigma2(const float* x) {
    float sumx2 = 0.0f;
    for (int i = 0; i < QK_K; ++i) sumx2 += x[i] * x[i];
    return 2.0f * sumx2 / static_cast<float>(QK_K);
}

KQ_HD void subblock_weights(const float* xb, const float* qw, float sigma2, float* weight, float* waux) {
    if (qw != nullptr) {
        for (int i = 0; i < kSubBlock; ++i) weight[i] = qw[i] * kq_sqrt(sigma2 + xb[i] * xb[i]);
    } else {
        for (int i = 0; i < kSubBlock; ++i) weight[i] = xb[i] * xb[i];
    }
    for (int i = 0; i < kSubBlock; ++i) waux[i] = kq_sqrt(weight[i]);
}

// 4-bit code of a sub-block scale for inverse super-block scale id.
KQ_HD int scale_code(float id, float scale) { return kq_clamp(nint(0.5f * (id * scale - 1.0f)), 0, 15); }

// IQ3_XXS super-block. grid: the 256-point grid.
KQ_HD void encode_xxs(const iq::Grid4View& g, const float* x, const float* qw, block_iq3_xxs* y) {
    uint8_t idx[QK_K / 4] = {};
    uint32_t sas[QK_K / kSubBlock] = {};  // scales_and_signs
    float scales[QK_K / kSubBlock];
    float max_scale = 0.0f;
    const float sigma2 = superblock_sigma2(x);
    for (int ib = 0; ib < QK_K / kSubBlock; ++ib) {
        const float* xb = x + kSubBlock * ib;
        float weight[kSubBlock], waux[kSubBlock], xval[kSubBlock];
        subblock_weights(xb, qw != nullptr ? qw + kSubBlock * ib : nullptr, sigma2, weight, waux);
        // Signs of 8 elements in 7 bits: the 8th is implied by even parity, so an odd count of negatives
        // flips the element of least weight*x^2 (first wins), whose magnitude then enters negated.
        uint8_t signs[4];
        for (int k = 0; k < 4; ++k) {
            const float* x8 = xb + 8 * k;
            float* v8 = xval + 8 * k;
            int nflip = 0;
            uint8_t s = 0;
            for (int i = 0; i < 8; ++i) {
                if (x8[i] >= 0.0f) {
                    v8[i] = x8[i];
                } else {
                    v8[i] = -x8[i];
                    ++nflip;
                    s = static_cast<uint8_t>(s | (1 << i));
                }
            }
            if (nflip % 2 != 0) {
                int imin = 0;
                float min = weight[8 * k] * x8[0] * x8[0];
                for (int i = 1; i < 8; ++i) {
                    const float ax = weight[8 * k + i] * x8[i] * x8[i];
                    if (ax < min) {
                        min = ax;
                        imin = i;
                    }
                }
                v8[imin] = -v8[imin];
                s = static_cast<uint8_t>(s ^ (1 << imin));
            }
            signs[k] = static_cast<uint8_t>(s & 127);
        }
        float max = xval[0];
        for (int i = 1; i < kSubBlock; ++i) max = kq_max(max, xval[i]);
        if (max < kXxsGroupMaxEps) {  // indices stay 0, signs and scale code 0
            scales[ib] = 0.0f;
            continue;
        }
        int8_t L[kSubBlock];
        float scale = search_subblock(g, xval, weight, waux, max, kXxsSearch, L);
        if (scale < 0.0f) {  // as ggml: keep the stored scale non-negative by flipping every sign
            scale = -scale;
            for (int k = 0; k < 4; ++k) signs[k] = static_cast<uint8_t>(~signs[k] & 127);
        }
        for (int k = 0; k < kGroups; ++k) idx[kGroups * ib + k] = static_cast<uint8_t>(g.map[level_code(L + 4 * k)]);
        sas[ib] = signs[0] | (signs[1] << 7) | (signs[2] << 14) | (static_cast<uint32_t>(signs[3]) << 21);
        scales[ib] = scale;
        max_scale = kq_max(max_scale, scale);
    }
    y->d = 0;
    if (max_scale == 0.0f) {  // ggml then stores no index or sign at all
        for (int i = 0; i < 3 * QK_K / 8; ++i) y->qs[i] = 0;
        return;
    }
    const float d = max_scale / 31.0f;
    y->d = fp32_to_fp16(d * 1.0125f);  // ggml's fudge factor
    const float id = 1.0f / d;
    for (int ib = 0; ib < QK_K / kSubBlock; ++ib) sas[ib] |= static_cast<uint32_t>(scale_code(id, scales[ib])) << 28;
    for (int i = 0; i < QK_K / 4; ++i) y->qs[i] = idx[i];
    for (int ib = 0; ib < QK_K / kSubBlock; ++ib)
        for (int j = 0; j < 4; ++j) y->qs[QK_K / 4 + 4 * ib + j] = static_cast<uint8_t>(sas[ib] >> (8 * j));
}

// IQ3_S super-block. grid: the 512-point grid.
KQ_HD void encode_s(const iq::Grid4View& g, const float* x, const float* qw, block_iq3_s* y) {
    uint8_t* raw = reinterpret_cast<uint8_t*>(y);
    for (int i = 0; i < static_cast<int>(sizeof(block_iq3_s)); ++i) raw[i] = 0;
    float scales[QK_K / kSubBlock];
    float max_scale = 0.0f;
    const float sigma2 = superblock_sigma2(x);
    // ggml advances its qs/signs write positions only past sub-blocks it encodes: after an all-zero
    // sub-block, the later ones land one slot early (qh and scales stay indexed by sub-block).
    int slot = 0;
    for (int ib = 0; ib < QK_K / kSubBlock; ++ib) {
        const float* xb = x + kSubBlock * ib;
        float weight[kSubBlock], waux[kSubBlock], xval[kSubBlock];
        subblock_weights(xb, qw != nullptr ? qw + kSubBlock * ib : nullptr, sigma2, weight, waux);
        uint8_t signs[4];
        for (int k = 0; k < 4; ++k) {
            uint8_t s = 0;
            for (int i = 0; i < 8; ++i) {
                const float v = xb[8 * k + i];
                if (v >= 0.0f) {
                    xval[8 * k + i] = v;
                } else {
                    xval[8 * k + i] = -v;
                    s = static_cast<uint8_t>(s | (1 << i));
                }
            }
            signs[k] = s;
        }
        float max = xval[0];
        for (int i = 1; i < kSubBlock; ++i) max = kq_max(max, xval[i]);
        if (max == 0.0f) {
            scales[ib] = 0.0f;
            continue;
        }
        int8_t L[kSubBlock];
        float scale = search_subblock(g, xval, weight, waux, max, kSSearch, L);
        if (scale < 0.0f) {
            scale = -scale;
            for (int k = 0; k < 4; ++k) signs[k] = static_cast<uint8_t>(~signs[k]);
        }
        for (int k = 0; k < kGroups; ++k) {
            const int gi = g.map[level_code(L + 4 * k)];
            y->qs[kGroups * slot + k] = static_cast<uint8_t>(gi & 255);
            y->qh[ib] = static_cast<uint8_t>(y->qh[ib] | ((gi >> 8) << k));
        }
        for (int k = 0; k < 4; ++k) y->signs[4 * slot + k] = signs[k];
        ++slot;
        scales[ib] = scale;
        max_scale = kq_max(max_scale, scale);
    }
    if (max_scale == 0.0f) return;  // d = 0; whatever indices were written stay
    const float d = max_scale / 31.0f;
    y->d = fp32_to_fp16(d * 1.033f);  // ggml's fudge factor
    const float id = 1.0f / d;
    for (int ib = 0; ib < QK_K / kSubBlock; ib += 2)
        y->scales[ib / 2] = static_cast<uint8_t>(scale_code(id, scales[ib]) | (scale_code(id, scales[ib + 1]) << 4));
}

// 8 values of one grid-index pair with sign byte s (bit j: element j negative) and scale db: db*value*(+-1).
// xxs: values by xxs_value (IQ3_XXS) rather than 2l+1.
KQ_HD void dequantize_pair(const iq::Grid4View& g, int i0, int i1, uint8_t s, float db, bool xxs, float* y) {
    const uint32_t p[2] = {g.grid[i0], g.grid[i1]};
    for (int j = 0; j < 8; ++j) {
        const int v = grid_value(p[j / 4], j % 4);
        const int value = xxs ? xxs_value((v - 1) / 2) : v;
        y[j] = db * static_cast<float>(value) * ((s >> j) & 1 ? -1.0f : 1.0f);
    }
}

// As ggml's dequantize_row_iq3_xxs, one super-block.
KQ_HD void decode_xxs(const iq::Grid4View& g, const block_iq3_xxs* b, float* y) {
    const float d = fp16_to_fp32(b->d);
    for (int ib = 0; ib < QK_K / kSubBlock; ++ib) {
        const uint8_t* q = b->qs + QK_K / 4 + 4 * ib;
        const uint32_t sas = q[0] | (q[1] << 8) | (q[2] << 16) | (static_cast<uint32_t>(q[3]) << 24);
        const float db = d * (0.5f + static_cast<float>(sas >> 28)) * 0.5f;
        for (int l = 0; l < 4; ++l) {
            uint32_t s = (sas >> (7 * l)) & 127;
            uint32_t parity = s ^ (s >> 4);
            parity ^= parity >> 2;
            parity ^= parity >> 1;
            s |= (parity & 1) << 7;  // the implied 8th sign: even parity over the 8
            dequantize_pair(g, b->qs[8 * ib + 2 * l], b->qs[8 * ib + 2 * l + 1], static_cast<uint8_t>(s), db,
                            true, y + kSubBlock * ib + 8 * l);
        }
    }
}

// As ggml's dequantize_row_iq3_s, one super-block.
KQ_HD void decode_s(const iq::Grid4View& g, const block_iq3_s* b, float* y) {
    const float d = fp16_to_fp32(b->d);
    for (int ib = 0; ib < QK_K / kSubBlock; ++ib) {
        const float db = d * static_cast<float>(1 + 2 * ((b->scales[ib / 2] >> (4 * (ib % 2))) & 15));
        for (int l = 0; l < 4; ++l) {
            const int k = 2 * l;
            const int i0 = b->qs[8 * ib + k] | (((b->qh[ib] >> k) & 1) << 8);
            const int i1 = b->qs[8 * ib + k + 1] | (((b->qh[ib] >> (k + 1)) & 1) << 8);
            dequantize_pair(g, i0, i1, b->signs[4 * ib + l], db, false, y + kSubBlock * ib + 8 * l);
        }
    }
}

}  // namespace kquant::iq3

namespace kquant::codec {

// The process-wide grid is the host's (iq::grid4, built on first use); a kernel passes a device copy.
struct IQ3_XXS {
    using Block = block_iq3_xxs;
    static constexpr Type type = Type::IQ3_XXS;
    static constexpr int kBlockElems = QK_K;
    static constexpr bool kRowSigma2 = false;
    using Grid = iq::Grid4View;
    static const Grid& host_grid() { return iq::grid4(256); }
    KQ_HD static void quantize(const Grid& g, const float* x, Block* y) { iq3::encode_xxs(g, x, nullptr, y); }
    KQ_HD static void quantize_weighted(const Grid& g, const float* x, const float* qw, float, Block* y) {
        iq3::encode_xxs(g, x, qw, y);
    }
    KQ_HD static void dequantize(const Grid& g, const Block* b, float* y) { iq3::decode_xxs(g, b, y); }
};

struct IQ3_S {
    using Block = block_iq3_s;
    static constexpr Type type = Type::IQ3_S;
    static constexpr int kBlockElems = QK_K;
    static constexpr bool kRowSigma2 = false;
    using Grid = iq::Grid4View;
    static const Grid& host_grid() { return iq::grid4(512); }
    KQ_HD static void quantize(const Grid& g, const float* x, Block* y) { iq3::encode_s(g, x, nullptr, y); }
    KQ_HD static void quantize_weighted(const Grid& g, const float* x, const float* qw, float, Block* y) {
        iq3::encode_s(g, x, qw, y);
    }
    KQ_HD static void dequantize(const Grid& g, const Block* b, float* y) { iq3::decode_s(g, b, y); }
};

}  // namespace kquant::codec
