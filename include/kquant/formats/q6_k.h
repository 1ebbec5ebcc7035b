// Q6_K (spec §11.2): sixteen 16-element groups, x ≈ d·scale_j·(L - 32) with 6-bit codes L and signed
// 8-bit group scales (the largest group gets -128).
//
// Phases: see formats/kquant_scales.h. Phase 1 is the symmetric search make_qx(16, 32) weighted by x²
// (plain) or by the raw importance weights (imatrix path: no σ² factor); phase 2 scales the signed
// largest-|scale| to -128; phase 3 re-fits each group against the stored fp16 d.
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

struct Q6_K {
    using Block = block_q6_K;
    static constexpr Type type = Type::Q6_K;
    static constexpr int kBlockElems = QK_K;
    static constexpr bool kRowSigma2 = false;
    static constexpr int kSubblocks = 16;
    static constexpr int kSubblockElems = 16;

    // The weighted path uses the importance weights as they are: no σ².
    KQ_HD static float block_sigma2(const float*) { return 0.0f; }

    template <class V>
    KQ_HD static void subblock_weights(const V* xs, const NoDeduce<V>* qws, NoDeduce<V>, NoDeduce<V>* w) {
        for (int i = 0; i < kSubblockElems; ++i) w[i] = search::qx_weight(xs, qws, i);
    }

    // Phase 1 (codes in [0, 63]; an all-zero group gets codes 0, not 32).
    template <class V>
    KQ_HD static kq::SubblockFitT<V> fit_subblock(const V* xs, const NoDeduce<V>* qws, NoDeduce<V>, LaneCode<V>* Ls) {
        return kq::SubblockFitT<V>{search::make_qx(kSubblockElems, 32, xs, qws, Ls), V(0.0f), V(0.0f)};
    }

    // Phase 2. Returns false when every group scale is below 1e-15: the block is then all zero bytes and
    // phase 3 must not run.
    KQ_HD static kq::BlockScales set_block_scales(const kq::SubblockFit* fits, bool, Block* y) {
        float scales[kSubblocks];
        for (int j = 0; j < kSubblocks; ++j) scales[j] = fits[j].scale;
        const search::AbsArgmax a = search::abs_argmax(kSubblocks, scales);
        const float max_scale = a.max;
        if (a.amax < search::kGroupMaxEps) {
            for (int i = 0; i < QK_K / 2; ++i) y->ql[i] = 0;
            for (int i = 0; i < QK_K / 4; ++i) y->qh[i] = 0;
            for (int j = 0; j < kSubblocks; ++j) y->scales[j] = 0;
            y->d = 0;
            return {false, 0.0f};
        }
        const float iscale = -128.0f / max_scale;
        y->d = fp32_to_fp16(1.0f / iscale);
        for (int j = 0; j < kSubblocks; ++j) {
            const int l = nint(iscale * fits[j].scale);
            y->scales[j] = static_cast<int8_t>(l < 127 ? l : 127);  // no lower clamp: the largest gets -128
        }
        return {true, 0.0f};
    }

    // Phase 3a, what group j reads back: d·scale_j.
    KQ_HD static kq::StoredScale stored_scale(int j, const Block& y, const kq::BlockScales&, const kq::SubblockFit&) {
        return kq::StoredScale{fp16_to_fp32(y.d) * static_cast<float>(y.scales[j]), 0.0f};
    }

    // Phase 3a. A group whose stored scale is 0 keeps its first-pass codes.
    template <class V>
    KQ_HD static void requantize(const V* xs, V d, NoDeduce<V>, LaneCode<V>* Ls) {
        const LaneMask<V> keep = d == V(0.0f);
        if (all(keep)) return;
        for (int i = 0; i < kSubblockElems; ++i)
            Ls[i] = select(keep, Ls[i], to_code(kq_clamp(nint(xs[i] / d), -32, 31) + 32));
    }


    // Phase 3b. Column col owns, for each half h: ql[64h + col] (low nibbles of elements 128h+col and
    // +64), ql[64h + 32 + col] (+32 and +96), and qh[32h + col] (the top two bits of all four).
    KQ_HD static void pack_column(const uint8_t* L, int col, Block* y) {
        for (int h = 0; h < 2; ++h) {
            const uint8_t* l = L + 128 * h + col;
            y->ql[64 * h + col] = static_cast<uint8_t>((l[0] & 0xF) | ((l[64] & 0xF) << 4));
            y->ql[64 * h + 32 + col] = static_cast<uint8_t>((l[32] & 0xF) | ((l[96] & 0xF) << 4));
            y->qh[32 * h + col] = static_cast<uint8_t>((l[0] >> 4) | ((l[32] >> 4) << 2) |
                                                       ((l[64] >> 4) << 4) | ((l[96] >> 4) << 6));
        }
    }

    KQ_HD static void quantize(const float* x, Block* y) { kq::quantize_superblock<Q6_K>(x, nullptr, y); }

    KQ_HD static void quantize_weighted(const float* x, const float* qw, float, Block* y) {
        kq::quantize_superblock<Q6_K>(x, qw, y);
    }

    // Group j's 16 values: (d·scale_j)·(code - 32).
    KQ_HD static void dequantize_subblock(const Block* b, int j, float* ys) {
        const float dj = fp16_to_fp32(b->d) * static_cast<float>(b->scales[j]);
        for (int i = 0; i < kSubblockElems; ++i) {
            const int e = kSubblockElems * j + i, h = e / 128, g = (e % 128) / 32, l = e % 32;
            const uint8_t lo = b->ql[64 * h + 32 * (g & 1) + l];
            const int low = (g < 2 ? lo : lo >> 4) & 0xF;
            const int high = (b->qh[32 * h + l] >> (2 * g)) & 3;
            ys[i] = dj * static_cast<float>((low | (high << 4)) - 32);
        }
    }

    KQ_HD static void dequantize(const Block* b, float* y) {
        for (int j = 0; j < kSubblocks; ++j) dequantize_subblock(b, j, y + j * kSubblockElems);
    }
};

}  // namespace kquant::codec
