// The SIMD row drivers: which lane of a vector runs which unit of a row. The arithmetic is the block math
// of include/kquant/ instantiated with a vector lane type V (simd/lanes.h); these drivers only move data
// between the row and lanes (vector i holds element i of every lane), call the phases in the
// scalar path's order, and pack the bytes with the codecs' own scalar functions.
//
// Lane mapping (W = lanes per vector):
//   phased super-blocks     one sub-block per lane, the row's sub-blocks in order: a batch is
//   (Q2_K..Q6_K, IQ4_XS)    max(1, W / sub-blocks per block) blocks (Q4_K AVX2: 1 block = 1 vector;
//                           Q6_K AVX2: 1 block = 2 vectors; Q4_K AVX-512: 2 blocks = 1 vector)
//   Q4_0..Q8_0, IQ4_NL      one block per lane, W consecutive blocks
//   single-pass units       one unit (formats/units.h) per lane, W consecutive units: the unit's scale
//   (TQ1_0, TQ2_0, MXFP4,   (a per-unit step) stays scalar, the codes run in lanes
//    NVFP4, Q2_0)
//   grid codecs (IQ1-IQ3),  none: the scalar codec serves them
//   Q1_0
// A row whose block count is not a multiple of the batch ends with a partial batch: the missing lanes
// run on zeros and their results are dropped. Per-block steps the scalar path runs on a whole block
// (σ², phase 2's block scales, packing) stay scalar here, on the same functions.
//
// Host only: included by the ISA translation units (host/cpu/avx2/, host/cpu/avx512/) after their lane
// types; no std:: templates, so that nothing shared with the scalar path is emitted there.
#pragma once
#include <cstdint>
#include <cstring>

#include "kquant/blocks.h"
#include "kquant/codecs.h"
#include "kquant/simd/lanes.h"
#include "kquant/types.h"

namespace kquant::lanes {

using RawQuantizeRowFn = void (*)(const float* x, void* y, int64_t n_per_row, const float* qw);

inline int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }

// The lanes of `units` units of `len` consecutive floats: out[i] lane k = src[k·len + i], zeros in the
// lanes k >= units.
template <class V>
inline void load_units(const float* src, int units, int len, V* out) {
    for (int i = 0; i < len; ++i) out[i] = units > 0 ? LaneTraits<V>::gather(src + i, len, units) : V(0.0f);
}

// The codes of lane vectors L[0..len) back to unit-major bytes, dst[k·len + i] = lane k of L[i], four
// elements at a time as one little-endian int32 per lane (len is a multiple of 4; codes are bytes).
template <class V>
inline void store_codes(const LaneCode<V>* L, int units, int len, uint8_t* dst) {
    constexpr int W = LaneTraits<V>::kWidth;
    alignas(64) int32_t tmp[W];
    for (int i = 0; i < len; i += 4) {
        store_lanes(tmp, L[i] | (L[i + 1] << 8) | (L[i + 2] << 16) | (L[i + 3] << 24));
        for (int k = 0; k < units; ++k) std::memcpy(dst + k * len + i, tmp + k, 4);
    }
}

// ---- phased super-blocks (formats/kquant_scales.h): one sub-block per lane --------------------------------------------------------------
template <class C, class V>
void quantize_row_phased(const float* x, void* out, int64_t n_per_row, const float* qw) {
    using Block = typename C::Block;
    constexpr int W = LaneTraits<V>::kWidth, kSub = C::kSubblocks, kLen = C::kSubblockElems;
    constexpr int kBatch = W >= kSub ? W / kSub : 1;  // blocks per batch
    constexpr int kVecs = kBatch * kSub / W;          // vectors per batch
    static_assert(kBatch * kSub == kVecs * W, "a batch fills its vectors");
    auto* y = static_cast<Block*>(out);
    const int64_t nb = n_per_row / QK_K;
    const bool weighted = qw != nullptr;

    V xs[kVecs][kLen], qs[kLen];
    LaneCode<V> L[kVecs][kLen];
    alignas(64) float lane_sigma2[W], lane_d[W], lane_m[W];
    alignas(64) float fit_scale[kVecs][W], fit_min[kVecs][W], fit_sum_w[kVecs][W];
    uint8_t Lb[kBatch * QK_K];
    float sigma2[kBatch];
    kq::BlockScales bs[kBatch];
    kq::SubblockFit fits[kBatch][kSub];

    for (int64_t b0 = 0; b0 < nb; b0 += kBatch) {
        const int nblk = static_cast<int>(min_i64(kBatch, nb - b0));
        const int nunits = nblk * kSub;  // real lanes in this batch
        const float* xb = x + b0 * QK_K;
        for (int b = 0; b < nblk; ++b) sigma2[b] = weighted ? C::block_sigma2(xb + b * QK_K) : 0.0f;

        // Phase 1 per lane: weights and search.
        for (int v = 0; v < kVecs; ++v) {
            const int u0 = v * W, units = nunits - u0 < W ? (nunits - u0 > 0 ? nunits - u0 : 0) : W;
            load_units(xb + u0 * kLen, units, kLen, xs[v]);
            if (weighted) load_units(qw + b0 * QK_K + u0 * kLen, units, kLen, qs);
            for (int k = 0; k < W; ++k) lane_sigma2[k] = k < units ? sigma2[(u0 + k) / kSub] : 0.0f;
            const kq::SubblockFitT<V> f =
                C::fit_subblock(xs[v], weighted ? qs : nullptr, LaneTraits<V>::load(lane_sigma2), L[v]);
            store_lanes(fit_scale[v], f.scale);
            store_lanes(fit_min[v], f.min);
            store_lanes(fit_sum_w[v], f.sum_w);
        }
        for (int u = 0; u < nunits; ++u) {
            const int v = u / W, k = u % W;
            fits[u / kSub][u % kSub] = kq::SubblockFit{fit_scale[v][k], fit_min[v][k], fit_sum_w[v][k]};
        }

        // Phase 2 per block.
        for (int b = 0; b < nblk; ++b) bs[b] = C::set_block_scales(fits[b], weighted, y + b0 + b);

        // Phase 3a per lane; a lane whose block is final (or missing) gets d = 0: it keeps its codes.
        for (int v = 0; v < kVecs; ++v) {
            const int u0 = v * W;
            if (u0 >= nunits) break;
            for (int k = 0; k < W; ++k) {
                const int u = u0 + k, b = u / kSub;
                lane_d[k] = lane_m[k] = 0.0f;
                if (u < nunits && bs[b].ok) {
                    const kq::StoredScale s = C::stored_scale(u % kSub, y[b0 + b], bs[b], fits[b][u % kSub]);
                    lane_d[k] = s.d;
                    lane_m[k] = s.m;
                }
            }
            C::requantize(xs[v], LaneTraits<V>::load(lane_d), LaneTraits<V>::load(lane_m), L[v]);
            store_codes<V>(L[v], nunits - u0 < W ? nunits - u0 : W, kLen, Lb + u0 * kLen);
        }

        // Phase 3b per block.
        for (int b = 0; b < nblk; ++b)
            if (bs[b].ok)
                for (int col = 0; col < 32; ++col) C::pack_column(Lb + b * QK_K, col, y + b0 + b);
    }
}

// ---- 32-element blocks: one block per lane ----------------------------------------------------------
template <class C, class V>
void quantize_row_blocks(const float* x, void* out, int64_t n_per_row, const float* qw) {
    constexpr int W = LaneTraits<V>::kWidth, kLen = 32;
    static_assert(C::kBlockElems == kLen);
    auto* y = static_cast<typename C::Block*>(out);
    const int64_t nb = n_per_row / kLen;
    const bool weighted = qw != nullptr;
    const float s2 = weighted && C::kRowSigma2 ? row_sigma2(x, n_per_row) : 0.0f;

    V xs[kLen], qs[kLen];
    LaneCode<V> L[kLen];
    alignas(64) float lane_d[W], lane_m[W];
    uint8_t Lb[W * kLen];

    for (int64_t b0 = 0; b0 < nb; b0 += W) {
        const int units = static_cast<int>(min_i64(W, nb - b0));
        load_units(x + b0 * kLen, units, kLen, xs);
        if (weighted) load_units(qw + b0 * kLen, units, kLen, qs);
        const legacy::BlockFitT<V> f = C::fit(xs, weighted ? qs : nullptr, V(s2), L);
        store_lanes(lane_d, f.d);
        store_lanes(lane_m, f.m);
        store_codes<V>(L, units, kLen, Lb);
        for (int k = 0; k < units; ++k) C::store(lane_d[k], lane_m[k], Lb + k * kLen, y + b0 + k);
    }
}

// ---- single-pass units: one unit per lane --------------------------------------------------------
// The importance weights are not read (these formats ignore them, as ggml does).
template <class C, class V>
void quantize_row_units(const float* x, void* out, int64_t n_per_row, const float*) {
    constexpr int W = LaneTraits<V>::kWidth, kLen = C::kUnitElems, kPerBlock = C::kBlockElems / kLen;
    auto* y = static_cast<typename C::Block*>(out);
    const int64_t nu = n_per_row / kLen;

    V xs[kLen];
    LaneCode<V> L[kLen];
    alignas(64) float f[W];
    uint8_t Lb[W * kLen];

    for (int64_t u0 = 0; u0 < nu; u0 += W) {
        const int units = static_cast<int>(min_i64(W, nu - u0));
        load_units(x + u0 * kLen, units, kLen, xs);
        for (int k = 0; k < W; ++k) {
            const int64_t u = u0 + k;
            f[k] = k < units ? C::unit_scale(x + u * kLen, static_cast<int>(u % kPerBlock), y + u / kPerBlock) : 0.0f;
        }
        C::template unit_codes<V>(xs, LaneTraits<V>::load(f), L);
        store_codes<V>(L, units, kLen, Lb);
        for (int k = 0; k < units; ++k) {
            const int64_t u = u0 + k;
            C::pack_unit(Lb + k * kLen, static_cast<int>(u % kPerBlock), y + u / kPerBlock);
        }
    }
}

// The vectorized row quantizer of codec C on lane type V, chosen by the interface C has; nullptr for a
// codec the lane drivers do not serve (the scalar codec runs it).
template <class C, class V>
constexpr RawQuantizeRowFn lane_driver() {
    if constexpr (PhasedLanes<C>)
        return &quantize_row_phased<C, V>;
    else if constexpr (BlockLanes<C>)
        return &quantize_row_blocks<C, V>;
    else if constexpr (UnitLanes<C>)
        return &quantize_row_units<C, V>;
    else
        return nullptr;
}

template <class V>
RawQuantizeRowFn lane_quantizer(Type t) {
    RawQuantizeRowFn f = nullptr;
    Codecs::visit(t, [&]<class C>(Tag<C>) { f = lane_driver<C, V>(); });
    return f;
}

}  // namespace kquant::lanes
