// Q4_K, and the min/scale family it shares with Q5_K (spec §11.2): eight 32-element sub-blocks, each
// x ≈ d·ls·L - dmin·lm with L in [0, 2^bits - 1] and 6-bit codes ls, lm. Q5_K (q5_k.h) is the same
// template with bits = 5: a larger nmax, its own plain search parameters and the fifth bit in qh.
//
// Phases: see formats/kquant_scales.h. Phase 1 runs the min/scale search (search/qkx.h); phase 2 turns
// the eight (scale, min) pairs into d, dmin and 6-bit codes (plain: relative to the largest; weighted:
// make_qp over the eight values); phase 3 re-fits each sub-block's codes against the stored fp16 d, dmin.
#pragma once
#include <cmath>
#include <cstdint>

#include "kquant/blocks.h"
#include "kquant/formats/kquant_scales.h"
#include "kquant/hd.h"
#include "kquant/numeric.h"
#include "kquant/search/qkx.h"
#include "kquant/search/qp.h"
#include "kquant/simd/lanes.h"
#include "kquant/types.h"

namespace kquant::kq {

template <class BlockT, Type kType, int kBits>
struct MinScaleCodec {
    static_assert(kBits == 4 || kBits == 5);
    using Block = BlockT;
    static constexpr Type type = kType;
    static constexpr int kBlockElems = QK_K;
    static constexpr bool kRowSigma2 = false;
    static constexpr int kSubblocks = 8;
    static constexpr int kSubblockElems = 32;
    static constexpr int kNmax = (1 << kBits) - 1;

    // ggml's plain path runs make_qkx2 with per-type steps; the imatrix path runs make_qkx3.
    KQ_HD static constexpr search::QkxParams search_params(bool weighted) {
        if (weighted) return search::qkx3_params(kNmax, -0.9f, 0.05f, 36, false);
        return kBits == 4 ? search::qkx2_params(kNmax, -1.0f, 0.1f, 20, false)
                          : search::qkx2_params(kNmax, -0.5f, 0.1f, 15, false);
    }

    KQ_HD static float block_sigma2(const float* x) { return superblock_sigma2(x, 2.0f); }

    // Plain: av + |x| with av = sqrt(Σx²/32) over this sub-block. Weighted: qw·sqrt(σ² + x²).
    template <class V>
    KQ_HD static void subblock_weights(const V* xs, const NoDeduce<V>* qws, NoDeduce<V> sigma2, NoDeduce<V>* w) {
        if (qws != nullptr) {
            search::imatrix_weights(kSubblockElems, xs, qws, sigma2, w);
            return;
        }
        V sum_x2 = 0.0f;
        for (int i = 0; i < kSubblockElems; ++i) sum_x2 += xs[i] * xs[i];
        const V av = kq_sqrt(sum_x2 / V(static_cast<float>(kSubblockElems)));
        for (int i = 0; i < kSubblockElems; ++i) w[i] = av + kq_fabs(xs[i]);
    }

    // The search given the weights (phase 1 without the weight computation).
    template <class V>
    KQ_HD static SubblockFitT<V> search_subblock(const V* xs, const NoDeduce<V>* w, bool weighted,
                                                 LaneCode<V>* Ls) {
        const search::QkxFitT<V> f = search::make_qkx(search_params(weighted), kSubblockElems, xs, w, Ls);
        return SubblockFitT<V>{f.scale, f.min, weighted ? sum_in_order(kSubblockElems, w) : V(0.0f)};
    }

    // Phase 1. qws: the sub-block's 32 importance weights or null (plain); sigma2: block_sigma2 (weighted).
    template <class V>
    KQ_HD static SubblockFitT<V> fit_subblock(const V* xs, const NoDeduce<V>* qws, NoDeduce<V> sigma2,
                                              LaneCode<V>* Ls) {
        V w[kSubblockElems];
        subblock_weights(xs, qws, sigma2, w);
        return search_subblock(xs, w, qws != nullptr, Ls);
    }

    // Phase 2: d, dmin and the packed 6-bit codes. Always returns true (phase 3 follows).
    KQ_HD static BlockScales set_block_scales(const SubblockFit* fits, bool weighted, Block* y) {
        uint8_t ls[kSubblocks], lm[kSubblocks];
        if (weighted) {
            float sc[kSubblocks], mn[kSubblocks], sw[kSubblocks];
            for (int j = 0; j < kSubblocks; ++j) {
                sc[j] = fits[j].scale;
                mn[j] = fits[j].min;
                sw[j] = fits[j].sum_w;
            }
            const float d = search::make_qp(kSubblocks, 63, sc, sw, ls);
            const float m = search::make_qp(kSubblocks, 63, mn, sw, lm);
            if constexpr (kBits == 5) {  // ggml clamps here for Q5_K only (a no-op unless a code wrapped)
                for (int j = 0; j < kSubblocks; ++j) {
                    ls[j] = ls[j] < 63 ? ls[j] : 63;
                    lm[j] = lm[j] < 63 ? lm[j] : 63;
                }
            }
            pack_scale_min_k4(ls, lm, y->scales);
            y->d = fp32_to_fp16(d);
            y->dmin = fp32_to_fp16(m);
            return {true, 0.0f};
        }
        float max_scale = 0.0f, max_min = 0.0f;
        for (int j = 0; j < kSubblocks; ++j) {
            if (fits[j].scale > max_scale) max_scale = fits[j].scale;
            if (fits[j].min > max_min) max_min = fits[j].min;
        }
        // Codes come from the float maxima; phase 3 reads the fp16-rounded d, dmin back.
        const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
        const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
        for (int j = 0; j < kSubblocks; ++j) {
            const uint8_t s = static_cast<uint8_t>(nint(inv_scale * fits[j].scale));  // wraps as ggml's uint8
            const uint8_t m = static_cast<uint8_t>(nint(inv_min * fits[j].min));
            ls[j] = s < 63 ? s : 63;
            lm[j] = m < 63 ? m : 63;
        }
        pack_scale_min_k4(ls, lm, y->scales);
        y->d = fp32_to_fp16(max_scale / 63.0f);
        y->dmin = fp32_to_fp16(max_min / 63.0f);
        return {true, 0.0f};
    }

    // Phase 3a, what sub-block j reads back: d·ls and dmin·lm.
    KQ_HD static StoredScale stored_scale(int j, const Block& y, const BlockScales&, const SubblockFit&) {
        uint8_t sc, m;
        unpack_scale_min_k4(j, y.scales, sc, m);
        return StoredScale{fp16_to_fp32(y.d) * static_cast<float>(sc), fp16_to_fp32(y.dmin) * static_cast<float>(m)};
    }

    // Phase 3a. A sub-block whose stored scale is 0 keeps its first-pass codes.
    template <class V>
    KQ_HD static void requantize(const V* xs, V d, NoDeduce<V> dm, LaneCode<V>* Ls) {
        const LaneMask<V> keep = d == V(0.0f);
        if (all(keep)) return;
        for (int i = 0; i < kSubblockElems; ++i)
            Ls[i] = select(keep, Ls[i], to_code(kq_clamp(nint((xs[i] + dm) / d), 0, kNmax)));
    }


    // Phase 3b. Column col owns qs[32c + col] (c = 0..3: low nibble sub-block 2c, high nibble 2c+1) and,
    // for Q5_K, qh[col] (bit j = the fifth bit of sub-block j).
    KQ_HD static void pack_column(const uint8_t* L, int col, Block* y) {
        [[maybe_unused]] uint8_t qh = 0;
        for (int c = 0; c < 4; ++c) {
            const uint8_t lo = L[64 * c + col], hi = L[64 * c + 32 + col];
            y->qs[32 * c + col] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
            if constexpr (kBits == 5)
                qh = static_cast<uint8_t>(qh | (((lo >> 4) & 1) << (2 * c)) |
                                          (((hi >> 4) & 1) << (2 * c + 1)));
        }
        if constexpr (kBits == 5) y->qh[col] = qh;
    }

    KQ_HD static void quantize(const float* x, Block* y) {
        quantize_superblock<MinScaleCodec>(x, nullptr, y);
    }

    // Per-block σ² (not the row's): row_sigma2 is unused.
    KQ_HD static void quantize_weighted(const float* x, const float* qw, float, Block* y) {
        quantize_superblock<MinScaleCodec>(x, qw, y);
    }

    // Sub-block j's 32 values: (d·ls)·q - dmin·lm.
    KQ_HD static void dequantize_subblock(const Block* b, int j, float* ys) {
        uint8_t sc, m;
        unpack_scale_min_k4(j, b->scales, sc, m);
        const float dj = fp16_to_fp32(b->d) * static_cast<float>(sc);
        const float mj = fp16_to_fp32(b->dmin) * static_cast<float>(m);
        const uint8_t* q = b->qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        for (int i = 0; i < kSubblockElems; ++i) {
            int v = (q[i] >> shift) & 0xF;
            if constexpr (kBits == 5) v += ((b->qh[i] >> j) & 1) ? 16 : 0;
            ys[i] = dj * static_cast<float>(v) - mj;
        }
    }

    KQ_HD static void dequantize(const Block* b, float* y) {
        for (int j = 0; j < kSubblocks; ++j) dequantize_subblock(b, j, y + j * kSubblockElems);
    }
};

}  // namespace kquant::kq

namespace kquant::codec {

struct Q4_K : kq::MinScaleCodec<block_q4_K, Type::Q4_K, 4> {};

}  // namespace kquant::codec
