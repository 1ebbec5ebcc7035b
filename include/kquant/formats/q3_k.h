// Q3_K (spec §11.2): sixteen 16-element groups, x ≈ d·sc_j·(L - 4) with 3-bit codes L (two low bits in
// qs, the high bit in hmask) and 6-bit signed group scales sc_j (stored + 32).
//
// Phases: see formats/kquant_scales.h. Phase 1: plain make_q3 (weights x²), weighted make_qx(16, 4)
// with qw·sqrt(σ² + x²), σ² = 2·Σx²/256; phase 2: plain scales the signed largest-|scale| to -32,
// weighted runs make_qx(16, 32) over the 16 scales; phase 3 re-fits each group against the stored d.
#pragma once
#include <cstdint>

#include "kquant/blocks.h"
#include "kquant/formats/kquant_scales.h"
#include "kquant/hd.h"
#include "kquant/numeric.h"
#include "kquant/search/qx.h"
#include "kquant/simd/lanes.h"
#include "kquant/types.h"

namespace kquant::codec {

struct Q3_K {
    using Block = block_q3_K;
    static constexpr Type type = Type::Q3_K;
    static constexpr int kBlockElems = QK_K;
    static constexpr bool kRowSigma2 = false;
    static constexpr int kSubblocks = 16;
    static constexpr int kSubblockElems = 16;

    KQ_HD static float block_sigma2(const float* x) { return kq::superblock_sigma2(x, 2.0f); }

    // Weighted: qw·sqrt(σ² + x²). Plain: x² (make_q3 weights by x² itself).
    template <class V>
    KQ_HD static void subblock_weights(const V* xs, const NoDeduce<V>* qws, NoDeduce<V> sigma2, NoDeduce<V>* w) {
        if (qws != nullptr) {
            search::imatrix_weights(kSubblockElems, xs, qws, sigma2, w);
            return;
        }
        for (int i = 0; i < kSubblockElems; ++i) w[i] = xs[i] * xs[i];
    }

    template <class V>
    KQ_HD static kq::SubblockFitT<V> search_subblock(const V* xs, const NoDeduce<V>* w, bool weighted,
                                                     LaneCode<V>* Ls) {
        if (!weighted) return kq::SubblockFitT<V>{search::make_q3(kSubblockElems, 4, xs, Ls), V(0.0f), V(0.0f)};
        const V scale = search::make_qx(kSubblockElems, 4, xs, w, Ls);
        return kq::SubblockFitT<V>{scale, V(0.0f), kq::sum_in_order(kSubblockElems, w)};
    }

    // Phase 1 (codes in [0, 7]; an all-zero group gets codes 0, not 4).
    template <class V>
    KQ_HD static kq::SubblockFitT<V> fit_subblock(const V* xs, const NoDeduce<V>* qws, NoDeduce<V> sigma2,
                                                  LaneCode<V>* Ls) {
        V w[kSubblockElems];
        subblock_weights(xs, qws, sigma2, w);
        return search_subblock(xs, w, qws != nullptr, Ls);
    }

    // Phase 2: d and the 16 packed 6-bit scale codes. Always returns true (phase 3 follows).
    KQ_HD static kq::BlockScales set_block_scales(const kq::SubblockFit* fits, bool weighted, Block* y) {
        float sc[kSubblocks];
        for (int j = 0; j < kSubblocks; ++j) sc[j] = fits[j].scale;
        uint8_t codes[kSubblocks];
        if (weighted) {
            float sw[kSubblocks];
            for (int j = 0; j < kSubblocks; ++j) sw[j] = fits[j].sum_w;
            const float d = search::make_qx(kSubblocks, 32, sc, sw, codes);  // codes already carry the +32
            kq::pack_q3_scales(codes, y->scales);
            y->d = fp32_to_fp16(d);
            return {true, 0.0f};
        }
        const search::AbsArgmax a = search::abs_argmax(kSubblocks, sc);
        if (a.max != 0.0f) {
            const float iscale = -32.0f / a.max;
            for (int j = 0; j < kSubblocks; ++j) {
                const int l = static_cast<int8_t>(nint(iscale * sc[j]));  // ggml converts to int8 first
                codes[j] = static_cast<uint8_t>(kq_clamp(l, -32, 31) + 32);
            }
            kq::pack_q3_scales(codes, y->scales);
            y->d = fp32_to_fp16(1.0f / iscale);
        } else {
            for (int b = 0; b < 12; ++b) y->scales[b] = 0;
            y->d = fp32_to_fp16(0.0f);
        }
        return {true, 0.0f};
    }

    // Phase 3a, what group j reads back: d·sc_j.
    KQ_HD static kq::StoredScale stored_scale(int j, const Block& y, const kq::BlockScales&, const kq::SubblockFit&) {
        return kq::StoredScale{fp16_to_fp32(y.d) * static_cast<float>(kq::unpack_q3_scale(j, y.scales)), 0.0f};
    }

    // Phase 3a. A group whose stored scale is 0 keeps its first-pass codes.
    template <class V>
    KQ_HD static void requantize(const V* xs, V d, NoDeduce<V>, LaneCode<V>* Ls) {
        const LaneMask<V> keep = d == V(0.0f);
        if (all(keep)) return;
        for (int i = 0; i < kSubblockElems; ++i)
            Ls[i] = select(keep, Ls[i], to_code(kq_clamp(nint(xs[i] / d), -4, 3) + 4));
    }


    // Phase 3b. Column col owns hmask[col] (bit k: code of element col + 32k is >= 4), qs[col] (low two
    // bits of elements col + 32k, k = 0..3) and qs[32 + col] (k = 4..7).
    KQ_HD static void pack_column(const uint8_t* L, int col, Block* y) {
        uint8_t hm = 0;
        uint8_t low[8];
        for (int k = 0; k < 8; ++k) {
            const uint8_t v = L[32 * k + col];
            if (v > 3) hm = static_cast<uint8_t>(hm | (1u << k));
            low[k] = static_cast<uint8_t>(v > 3 ? v - 4 : v);
        }
        y->hmask[col] = hm;
        y->qs[col] = static_cast<uint8_t>(low[0] | (low[1] << 2) | (low[2] << 4) | (low[3] << 6));
        y->qs[32 + col] = static_cast<uint8_t>(low[4] | (low[5] << 2) | (low[6] << 4) | (low[7] << 6));
    }

    KQ_HD static void quantize(const float* x, Block* y) { kq::quantize_superblock<Q3_K>(x, nullptr, y); }

    // Per-block σ² (not the row's): row_sigma2 is unused.
    KQ_HD static void quantize_weighted(const float* x, const float* qw, float, Block* y) {
        kq::quantize_superblock<Q3_K>(x, qw, y);
    }

    // Group j's 16 values: (d·sc)·(low2 - (high bit ? 0 : 4)).
    KQ_HD static void dequantize_subblock(const Block* b, int j, float* ys) {
        const float dl = fp16_to_fp32(b->d) * static_cast<float>(kq::unpack_q3_scale(j, b->scales));
        for (int i = 0; i < kSubblockElems; ++i) {
            const int e = kSubblockElems * j + i, h = e / 128, g = (e % 128) / 32, l = e % 32;
            const int low = (b->qs[32 * h + l] >> (2 * g)) & 3;
            const int high = (b->hmask[l] >> (e / 32)) & 1;
            ys[i] = dl * static_cast<float>(low - (high ? 0 : 4));
        }
    }

    KQ_HD static void dequantize(const Block* b, float* y) {
        for (int j = 0; j < kSubblocks; ++j) dequantize_subblock(b, j, y + j * kSubblockElems);
    }
};

}  // namespace kquant::codec
