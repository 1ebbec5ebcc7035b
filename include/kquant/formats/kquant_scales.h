// What the five k-quant formats share: the super-block statistics of the weighted paths (σ², importance
// weights), the packed sub-block scale codes (Q4_K/Q5_K 6-bit scale+min pairs, Q3_K 6-bit scales), and
// the phase driver every k-quant codec's quantize runs.
//
// Every super-block codec with sub-blocks (codec::Q2_K ... codec::Q6_K, codec::IQ4_XS) exposes its block
// math as phases; a kernel may give each phase's units to different threads, with a barrier between
// phases (all KQ_HD):
//   C::kSubblocks, C::kSubblockElems           16 x 16 (Q2_K, Q3_K, Q6_K) or 8 x 32 (Q4_K, Q5_K)
//   C::block_sigma2(x256)                      weighted path: the super-block's σ² (Q6_K: unused, 0)
//   1. C::fit_subblock(xs, qws, sigma2, Ls)    per sub-block: weights + search → SubblockFit, first-pass
//                                              codes; qws = null selects ggml's plain path. Split further
//                                              as C::subblock_weights + C::search_subblock; the min/scale
//                                              formats also expose C::search_params(weighted) for
//                                              search/qkx.h's per-candidate functions.
//   2. C::set_block_scales(fits, weighted, y)  per block: d, dmin and the packed sub-block codes, and the
//                                              BlockScales phase 3 needs beyond the stored block (.ok false:
//                                              the block is final (Q6_K all-zero) and 3 must not run; .d: the
//                                              float super-block scale, which IQ4_XS re-reads)
//   3a. C::stored_scale(j, *y, bs, fit)        per sub-block: the scale its codes are re-made against (bs:
//       C::requantize(xs, d, m, Ls)            phase 2's result, fit: this sub-block's phase 1), then the
//                                              codes; kq::requantize_subblock<C> runs both
//   3b. C::pack_column(L, col, y)              per column col = 0..31: every byte built from L[col + 32k]
//   C::dequantize_subblock(b, j, ys)           per sub-block dequantization
// Packing is by column, not by sub-block, because sub-blocks share bytes (nibbles, 2-bit fields, the
// high-bit masks); a column owns its bytes outright. Phases 1-3a write L only in their own sub-block.
// The per-sub-block functions of phases 1 and 3a are templates over the lane value type (simd/lanes.h):
// the CPU's SIMD drivers run one sub-block per lane; V = float is the scalar path.
//
// Numeric contract: float32, sums in element order, C's left-to-right evaluation, no contraction; the
// integer-to-byte conversions wrap exactly where ggml's do.
#pragma once
#include <cmath>
#include <cstdint>

#include "kquant/blocks.h"
#include "kquant/hd.h"
#include "kquant/numeric.h"
#include "kquant/search/qx.h"
#include "kquant/simd/lanes.h"

namespace kquant::kq {

// Phase 1's result for one sub-block (one per lane for a vector V).
template <class V>
struct SubblockFitT {
    V scale;  // float scale of the sub-block (symmetric formats: signed)
    V min;    // asymmetric formats: the offset subtracted on dequantization (x ≈ scale·L - min)
    V sum_w;  // weighted paths: Σ of the sub-block's weights in element order (weights the block search)
};
using SubblockFit = SubblockFitT<float>;

// Phase 2's result beyond the bytes it wrote: one value per block, which a kernel broadcasts to the
// block's sub-block threads.
struct BlockScales {
    bool ok;  // false: the block is final and phase 3 must not run
    float d;  // the float super-block scale before its fp16 rounding (read by IQ4_XS's phase 3)
};

// Phase 3a's input for one sub-block, what C::requantize takes: for the k-quants its scale and offset as
// stored (fp16 super-block scales times the sub-block codes), read back from the block that phase 2
// wrote; for IQ4_XS the inverse scale its indices are made with.
struct StoredScale {
    float d;
    float m;  // offset added before dividing (min/scale formats; 0 for the symmetric ones)
};

// Σ x² over the 256-element super-block in index order, times `factor`, / 256: the σ² of the weighted
// paths (factor 1 for Q2_K, 2 for Q3_K/Q4_K/Q5_K).
KQ_HD float superblock_sigma2(const float* x, float factor) {
    float sum_x2 = 0.0f;
    for (int i = 0; i < QK_K; ++i) sum_x2 += x[i] * x[i];
    return factor * sum_x2 / static_cast<float>(QK_K);
}

template <class V>
KQ_HD V sum_in_order(int n, const V* v) {
    V s = 0.0f;
    for (int i = 0; i < n; ++i) s += v[i];
    return s;
}

// ---- Q4_K / Q5_K: eight (6-bit scale, 6-bit min) pairs in 12 bytes --------------------------------
// j < 4: bytes j and j+4 hold scale and min whole; j >= 4: byte j+4 holds both low nibbles, and the top
// two bits go to bits 6-7 of bytes j-4 (scale) and j (min). Written in ggml's order with its uint8
// arithmetic, so out-of-range codes (> 63) produce the same bytes as ggml.
KQ_HD void pack_scale_min_k4(const uint8_t* ls, const uint8_t* lm, uint8_t* q) {
    for (int j = 0; j < 8; ++j) {
        if (j < 4) {
            q[j] = ls[j];
            q[j + 4] = lm[j];
        } else {
            q[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            q[j - 4] = static_cast<uint8_t>(q[j - 4] | ((ls[j] >> 4) << 6));
            q[j] = static_cast<uint8_t>(q[j] | ((lm[j] >> 4) << 6));
        }
    }
}

KQ_HD void unpack_scale_min_k4(int j, const uint8_t* q, uint8_t& ls, uint8_t& lm) {
    if (j < 4) {
        ls = q[j] & 63;
        lm = q[j + 4] & 63;
    } else {
        ls = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        lm = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

// ---- Q3_K: sixteen 6-bit scale codes (stored value = scale + 32) in 12 bytes ------------------------
// Low nibble of code j: byte j (j < 8) or the high nibble of byte j-8; top two bits: bits 2·(j/4)..+1 of
// byte 8 + j%4.
KQ_HD void pack_q3_scales(const uint8_t* codes, uint8_t* q) {
    for (int b = 0; b < 12; ++b) q[b] = 0;
    for (int j = 0; j < 16; ++j) {
        const int c = codes[j];
        if (j < 8)
            q[j] = static_cast<uint8_t>(c & 0xF);
        else
            q[j - 8] = static_cast<uint8_t>(q[j - 8] | ((c & 0xF) << 4));
        q[8 + j % 4] = static_cast<uint8_t>(q[8 + j % 4] | ((c >> 4) << (2 * (j / 4))));
    }
}

// The signed scale of group j (code - 32).
KQ_HD int unpack_q3_scale(int j, const uint8_t* q) {
    const int low = j < 8 ? (q[j] & 0xF) : (q[j - 8] >> 4);
    return (low | (((q[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

// ---- the phase driver -------------------------------------------------------------------------------
// Phase 3a of sub-block j: the codec's stored scale, then its requantization.
template <class C>
KQ_HD void requantize_subblock(const float* xs, int j, const typename C::Block& y, const BlockScales& bs,
                               const SubblockFit& fit, uint8_t* Ls) {
    const StoredScale s = C::stored_scale(j, y, bs, fit);
    C::requantize(xs, s.d, s.m, Ls);
}

// Quantizes one 256-element super-block with codec C's phases in order. qw: this block's 256 importance
// weights, or null for ggml's plain path.
template <class C>
KQ_HD void quantize_superblock(const float* x, const float* qw, typename C::Block* y) {
    constexpr int kSub = C::kSubblocks, kLen = C::kSubblockElems;
    const bool weighted = qw != nullptr;
    const float sigma2 = weighted ? C::block_sigma2(x) : 0.0f;
    SubblockFit fits[kSub];
    uint8_t L[QK_K];
    for (int j = 0; j < kSub; ++j)
        fits[j] = C::fit_subblock(x + j * kLen, weighted ? qw + j * kLen : nullptr, sigma2, L + j * kLen);
    const BlockScales bs = C::set_block_scales(fits, weighted, y);
    if (!bs.ok) return;  // the block is final (Q6_K all-zero block)
    for (int j = 0; j < kSub; ++j) requantize_subblock<C>(x + j * kLen, j, *y, bs, fits[j], L + j * kLen);
    for (int col = 0; col < 32; ++col) C::pack_column(L, col, y);
}

}  // namespace kquant::kq
