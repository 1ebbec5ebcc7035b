// Q2_K (spec §11.2): sixteen 16-element groups, x ≈ d·sc_j·L - dmin·m_j with 2-bit codes L and 4-bit
// group codes sc_j, m_j (one byte per group: scale low nibble, min high nibble).
//
// Phases: see formats/kquant_scales.h. Phase 1 is the min/scale search (search/qkx.h): plain with
// weights |x| and the absolute error, weighted with qw·sqrt(σ² + x²), σ² = Σx²/256 (no factor 2 here);
// phase 2 makes the 4-bit codes (plain: relative to the largest; weighted: make_qp over the 16 values);
// phase 3 re-fits each group against the stored fp16 d, dmin.
#pragma once
#include <cstdint>

#include "kquant/blocks.h"
#include "kquant/formats/kquant_scales.h"
#include "kquant/hd.h"
#include "kquant/numeric.h"
#include "kquant/search/qkx.h"
#include "kquant/search/qp.h"
#include "kquant/simd/lanes.h"
#include "kquant/types.h"

namespace kquant::codec {

struct Q2_K {
    using Block = block_q2_K;
    static constexpr Type type = Type::Q2_K;
    static constexpr int kBlockElems = QK_K;
    static constexpr bool kRowSigma2 = false;
    static constexpr int kSubblocks = 16;
    static constexpr int kSubblockElems = 16;
    static constexpr int kNmax = 3;

    KQ_HD static constexpr search::QkxParams search_params(bool weighted) {
        return weighted ? search::qkx3_params(kNmax, -0.9f, 0.05f, 36, false)
                        : search::qkx2_params(kNmax, -0.5f, 0.1f, 15, true);
    }

    KQ_HD static float block_sigma2(const float* x) { return kq::superblock_sigma2(x, 1.0f); }

    // Plain: |x|. Weighted: qw·sqrt(σ² + x²).
    template <class V>
    KQ_HD static void subblock_weights(const V* xs, const NoDeduce<V>* qws, NoDeduce<V> sigma2, NoDeduce<V>* w) {
        if (qws != nullptr) {
            search::imatrix_weights(kSubblockElems, xs, qws, sigma2, w);
            return;
        }
        for (int i = 0; i < kSubblockElems; ++i) w[i] = kq_fabs(xs[i]);
    }

    template <class V>
    KQ_HD static kq::SubblockFitT<V> search_subblock(const V* xs, const NoDeduce<V>* w, bool weighted,
                                                     LaneCode<V>* Ls) {
        const search::QkxFitT<V> f = search::make_qkx(search_params(weighted), kSubblockElems, xs, w, Ls);
        return kq::SubblockFitT<V>{f.scale, f.min, weighted ? kq::sum_in_order(kSubblockElems, w) : V(0.0f)};
    }

    // Phase 1. qws: the group's 16 importance weights or null (plain); sigma2: block_sigma2 (weighted).
    template <class V>
    KQ_HD static kq::SubblockFitT<V> fit_subblock(const V* xs, const NoDeduce<V>* qws, NoDeduce<V> sigma2,
                                                  LaneCode<V>* Ls) {
        V w[kSubblockElems];
        subblock_weights(xs, qws, sigma2, w);
        return search_subblock(xs, w, qws != nullptr, Ls);
    }

    // Phase 2: d, dmin and the 16 code bytes. Always returns true (phase 3 follows).
    KQ_HD static kq::BlockScales set_block_scales(const kq::SubblockFit* fits, bool weighted, Block* y) {
        if (weighted) {
            float sc[kSubblocks], mn[kSubblocks], sw[kSubblocks];
            for (int j = 0; j < kSubblocks; ++j) {
                sc[j] = fits[j].scale;
                mn[j] = fits[j].min;
                sw[j] = fits[j].sum_w;
            }
            uint8_t ls[kSubblocks], lm[kSubblocks];
            const float d = search::make_qp(kSubblocks, 15, sc, sw, ls);
            const float m = search::make_qp(kSubblocks, 15, mn, sw, lm);
            y->d = fp32_to_fp16(d);
            y->dmin = fp32_to_fp16(m);
            for (int j = 0; j < kSubblocks; ++j) y->scales[j] = static_cast<uint8_t>(ls[j] | (lm[j] << 4));
            return {true, 0.0f};
        }
        float max_scale = 0.0f, max_min = 0.0f;
        for (int j = 0; j < kSubblocks; ++j) {
            if (fits[j].scale > max_scale) max_scale = fits[j].scale;
            if (fits[j].min > max_min) max_min = fits[j].min;
        }
        // Codes come from the float maxima; phase 3 reads the fp16-rounded d, dmin back. The int → byte
        // conversions wrap exactly as ggml's.
        if (max_scale > 0) {
            const float iscale = 15.0f / max_scale;
            for (int j = 0; j < kSubblocks; ++j)
                y->scales[j] = static_cast<uint8_t>(nint(iscale * fits[j].scale));
            y->d = fp32_to_fp16(max_scale / 15.0f);
        } else {
            for (int j = 0; j < kSubblocks; ++j) y->scales[j] = 0;
            y->d = fp32_to_fp16(0.0f);
        }
        if (max_min > 0) {
            const float iscale = 15.0f / max_min;
            for (int j = 0; j < kSubblocks; ++j) {
                const uint32_t l = static_cast<uint32_t>(nint(iscale * fits[j].min));
                y->scales[j] = static_cast<uint8_t>(y->scales[j] | (l << 4));
            }
            y->dmin = fp32_to_fp16(max_min / 15.0f);
        } else {
            y->dmin = fp32_to_fp16(0.0f);
        }
        return {true, 0.0f};
    }

    // Phase 3a, what group j reads back: d·sc_j and dmin·m_j.
    KQ_HD static kq::StoredScale stored_scale(int j, const Block& y, const kq::BlockScales&, const kq::SubblockFit&) {
        return kq::StoredScale{fp16_to_fp32(y.d) * static_cast<float>(y.scales[j] & 0xF),
                               fp16_to_fp32(y.dmin) * static_cast<float>(y.scales[j] >> 4)};
    }

    // Phase 3a. A group whose stored scale is 0 keeps its first-pass codes.
    template <class V>
    KQ_HD static void requantize(const V* xs, V d, NoDeduce<V> m, LaneCode<V>* Ls) {
        const LaneMask<V> keep = d == V(0.0f);
        if (all(keep)) return;
        for (int i = 0; i < kSubblockElems; ++i)
            Ls[i] = select(keep, Ls[i], to_code(kq_clamp(nint((xs[i] + m) / d), 0, kNmax)));
    }


    // Phase 3b. Column col owns qs[col] (elements col + 32k, k = 0..3, at bits 2k) and qs[32 + col]
    // (elements 128 + col + 32k).
    KQ_HD static void pack_column(const uint8_t* L, int col, Block* y) {
        for (int h = 0; h < 2; ++h) {
            const uint8_t* l = L + 128 * h + col;
            y->qs[32 * h + col] = static_cast<uint8_t>(l[0] | (l[32] << 2) | (l[64] << 4) | (l[96] << 6));
        }
    }

    KQ_HD static void quantize(const float* x, Block* y) { kq::quantize_superblock<Q2_K>(x, nullptr, y); }

    // Per-block σ² (not the row's): row_sigma2 is unused.
    KQ_HD static void quantize_weighted(const float* x, const float* qw, float, Block* y) {
        kq::quantize_superblock<Q2_K>(x, qw, y);
    }

    // Group j's 16 values: (d·sc)·q - dmin·m.
    KQ_HD static void dequantize_subblock(const Block* b, int j, float* ys) {
        const uint8_t sc = b->scales[j];
        const float dl = fp16_to_fp32(b->d) * static_cast<float>(sc & 0xF);
        const float ml = fp16_to_fp32(b->dmin) * static_cast<float>(sc >> 4);
        for (int i = 0; i < kSubblockElems; ++i) {
            const int e = kSubblockElems * j + i, h = e / 128, g = (e % 128) / 32, l = e % 32;
            const int q = (b->qs[32 * h + l] >> (2 * g)) & 3;
            ys[i] = dl * static_cast<float>(q) - ml;
        }
    }

    KQ_HD static void dequantize(const Block* b, float* y) {
        for (int j = 0; j < kSubblocks; ++j) dequantize_subblock(b, j, y + j * kSubblockElems);
    }
};

}  // namespace kquant::codec
