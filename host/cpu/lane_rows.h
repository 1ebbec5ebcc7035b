// The SIMD row drivers: which lane of a vector runs which unit of a row. The arithmetic is the block math
// of include/kquant/ instantiated with a vector lane type V (simd/lanes.h); these drivers only move data
// between the row and lanes (vector i holds element i of every lane), call the phases in the
// scalar path's order, and pack the bytes with the codecs' own scalar functions.
//
// Lane mapping (W = lanes per vector):
//   k-quants (Q2_K..Q6_K)   one sub-block per lane, the row's sub-blocks in order: a batch is
//                           max(1, W / sub-blocks per block) blocks (Q4_K AVX2: 1 block = 1 vector;
//                           Q6_K AVX2: 1 block = 2 vectors; Q4_K AVX-512: 2 blocks = 1 vector)
//   IQ4_XS                  one 32-element sub-block per lane, W / 8 blocks per vector
//   Q4_0..Q8_0, IQ4_NL      one block per lane, W consecutive blocks
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
#include "kquant/codec.h"
#include "kquant/formats/iq4.h"
#include "kquant/formats/kquant_scales.h"
#include "kquant/formats/legacy.h"
#include "kquant/formats/q2_k.h"
#include "kquant/formats/q3_k.h"
#include "kquant/formats/q4_k.h"
#include "kquant/formats/q5_k.h"
#include "kquant/formats/q6_k.h"
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

// ---- k-quants: one sub-block per lane --------------------------------------------------------------
template <class C, class V>
void quantize_row_kquant(const float* x, void* out, int64_t n_per_row, const float* qw) {
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
    bool ok[kBatch];
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
        for (int b = 0; b < nblk; ++b) ok[b] = C::set_block_scales(fits[b], weighted, y + b0 + b);

        // Phase 3a per lane; a lane whose block is final (or missing) gets d = 0: it keeps its codes.
        for (int v = 0; v < kVecs; ++v) {
            const int u0 = v * W;
            if (u0 >= nunits) break;
            for (int k = 0; k < W; ++k) {
                const int u = u0 + k, b = u / kSub;
                lane_d[k] = lane_m[k] = 0.0f;
                if (u < nunits && ok[b]) {
                    const kq::StoredScale s = C::stored_scale(u % kSub, y[b0 + b]);
                    lane_d[k] = s.d;
                    lane_m[k] = s.m;
                }
            }
            C::requantize(xs[v], LaneTraits<V>::load(lane_d), LaneTraits<V>::load(lane_m), L[v]);
            store_codes<V>(L[v], nunits - u0 < W ? nunits - u0 : W, kLen, Lb + u0 * kLen);
        }

        // Phase 3b per block.
        for (int b = 0; b < nblk; ++b)
            if (ok[b])
                for (int col = 0; col < 32; ++col) C::pack_column(Lb + b * QK_K, col, y + b0 + b);
    }
}

// ---- IQ4_XS: one 32-element sub-block per lane -----------------------------------------------------
template <class V>
void quantize_row_iq4_xs(const float* x, void* out, int64_t n_per_row, const float* qw) {
    constexpr int W = LaneTraits<V>::kWidth, kSub = QK_K / iq4::kSubBlock, kLen = iq4::kSubBlock;
    static_assert(W % kSub == 0, "whole blocks per vector");
    constexpr int kBatch = W / kSub;
    constexpr iq4::Table T = iq4::table();
    auto* y = static_cast<block_iq4_xs*>(out);
    const int64_t nb = n_per_row / QK_K;
    const bool weighted = qw != nullptr;

    V xs[kLen], qs[kLen];
    LaneCode<V> L[kLen];
    alignas(64) float lane_sigma2[W], lane_scale[W], lane_idl[W];
    uint8_t Lb[kBatch * QK_K];
    int codes[kBatch][kSub];

    for (int64_t b0 = 0; b0 < nb; b0 += kBatch) {
        const int nblk = static_cast<int>(min_i64(kBatch, nb - b0));
        const int units = nblk * kSub;
        const float* xb = x + b0 * QK_K;
        load_units(xb, units, kLen, xs);
        if (weighted) load_units(qw + b0 * QK_K, units, kLen, qs);
        for (int b = 0; b < kBatch; ++b) {
            const float s2 = weighted && b < nblk ? iq4::superblock_sigma2(xb + b * QK_K, QK_K) : 0.0f;
            for (int j = 0; j < kSub; ++j) lane_sigma2[b * kSub + j] = s2;
        }

        // Phase 1 per lane, phase 2 per block, phase 3's scale per sub-block, its codes per lane.
        store_lanes(lane_scale, iq4::subblock_search(xs, weighted ? qs : nullptr, LaneTraits<V>::load(lane_sigma2)));
        for (int k = 0; k < W; ++k) lane_idl[k] = 0.0f;
        for (int b = 0; b < nblk; ++b) {
            const float d = iq4::xs_block_scale(lane_scale + b * kSub);
            y[b0 + b].d = fp32_to_fp16(d);
            for (int j = 0; j < kSub; ++j) {
                const iq4::XsSubblockScale s = iq4::xs_subblock_scale(d, lane_scale[b * kSub + j]);
                codes[b][j] = s.code;
                lane_idl[b * kSub + j] = s.idl;
            }
        }
        iq4::subblock_codes(xs, LaneTraits<V>::load(lane_idl), T.v, L);
        store_codes<V>(L, units, kLen, Lb);
        for (int b = 0; b < nblk; ++b) {
            for (int j = 0; j < kSub; ++j) iq4::pack_codes(Lb + (b * kSub + j) * kLen, y[b0 + b].qs + j * 16);
            iq4::xs_pack_scale_codes(codes[b], y + b0 + b);
        }
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

// The vectorized row quantizer of type t on lane type V; nullptr for a type left to the scalar codec.
template <class V>
RawQuantizeRowFn lane_quantizer(Type t) {
    switch (t) {
        case Type::Q4_0: return &quantize_row_blocks<codec::Q4_0, V>;
        case Type::Q4_1: return &quantize_row_blocks<codec::Q4_1, V>;
        case Type::Q5_0: return &quantize_row_blocks<codec::Q5_0, V>;
        case Type::Q5_1: return &quantize_row_blocks<codec::Q5_1, V>;
        case Type::Q8_0: return &quantize_row_blocks<codec::Q8_0, V>;
        case Type::IQ4_NL: return &quantize_row_blocks<codec::IQ4_NL, V>;
        case Type::IQ4_XS: return &quantize_row_iq4_xs<V>;
        case Type::Q2_K: return &quantize_row_kquant<codec::Q2_K, V>;
        case Type::Q3_K: return &quantize_row_kquant<codec::Q3_K, V>;
        case Type::Q4_K: return &quantize_row_kquant<codec::Q4_K, V>;
        case Type::Q5_K: return &quantize_row_kquant<codec::Q5_K, V>;
        case Type::Q6_K: return &quantize_row_kquant<codec::Q6_K, V>;
        default: return nullptr;
    }
}

}  // namespace kquant::lanes
