// The 32-element legacy formats: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 (spec §11.1).
#pragma once
#include <cmath>
#include <cstdint>

#include "kquant/blocks.h"
#include "kquant/numeric.h"
#include "kquant/search/qkx.h"
#include "kquant/search/qx.h"
#include "kquant/simd/lanes.h"
#include "kquant/types.h"

namespace kquant::legacy {

// ggml's `(int8_t)(v)` / `(uint8_t)(v)` of a float, as its x86-64 build executes it: cvttss2si truncates
// toward zero into int32 and gives INT32_MIN for NaN and out-of-range values, then the narrowing keeps
// the low byte. The out-of-range case is real: when d is subnormal, 1/d overflows to inf and x*id is
// +-inf or NaN, and the golden bytes hold code 0 there. CUDA's conversion saturates instead (and C++
// leaves it undefined), so the range is checked explicitly before the in-range truncating cast.
KQ_HD int32_t trunc_to_int32_x86(float v) {
    if (!(v >= -2147483648.0f && v < 2147483648.0f)) return INT32_MIN;
    return static_cast<int32_t>(v);
}
KQ_HD uint8_t trunc_to_u8(float v) { return static_cast<uint8_t>(trunc_to_int32_x86(v) & 0xff); }
KQ_HD int8_t trunc_to_i8(float v) { return static_cast<int8_t>(trunc_to_u8(v)); }

// trunc_to_int32_x86 and trunc_to_i8 per lane (a vector's overload is found beside its type).
template <class V>
KQ_HD LaneInt<V> trunc_i32(V v) {
    return trunc_to_int32_x86(v);
}
template <class V>
KQ_HD LaneInt<V> trunc_i8(V v) {
    return to_int8(trunc_to_int32_x86(v));
}

// Block minimum and maximum of Q4_1/Q5_1: start at +-FLT_MAX, strict updates.
template <class V>
struct MinMaxT {
    V min;
    V max;
};
using MinMax = MinMaxT<float>;
template <class V>
KQ_HD MinMaxT<V> block_min_max(const V* x) {
    MinMaxT<V> r{V(3.40282347e+38f), V(-3.40282347e+38f)};
    for (int j = 0; j < 32; ++j) {
        r.min = select(x[j] < r.min, x[j], r.min);
        r.max = select(x[j] > r.max, x[j], r.max);
    }
    return r;
}

// Byte j: code j in the low nibble, code j+16 shifted into the high nibble (the whole low code is OR-ed
// in, as the reference does; codes are 0..15 in practice).
KQ_HD void pack_q4(const uint8_t* L, uint8_t* qs) {
    for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
}

// 5-bit codes: low nibbles packed as Q4, bit 4 of code j goes to bit j of the little-endian u32 qh.
KQ_HD void pack_q5(const uint8_t* L, uint8_t* qs, uint8_t* qh) {
    uint32_t h = 0;
    for (int j = 0; j < 16; ++j) {
        qs[j] = static_cast<uint8_t>((L[j] & 0x0F) | ((L[j + 16] & 0x0F) << 4));
        h |= static_cast<uint32_t>((L[j] & 0x10u) >> 4) << j;
        h |= static_cast<uint32_t>((L[j + 16] & 0x10u) >> 4) << (j + 16);
    }
    for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(h >> (8 * k));
}

KQ_HD uint32_t load_qh(const uint8_t* qh) {
    return static_cast<uint32_t>(qh[0]) | static_cast<uint32_t>(qh[1]) << 8 | static_cast<uint32_t>(qh[2]) << 16 |
           static_cast<uint32_t>(qh[3]) << 24;
}

// What a legacy block stores besides its codes, as floats (fp16-rounded by the codec's store): the scale
// d and, for Q4_1/Q5_1, the offset m.
template <class V>
struct BlockFitT {
    V d;
    V m;
};
using BlockFit = BlockFitT<float>;

// Reference codes of the symmetric types: d = max/(-2^(bits-1)), q = min(qmax, trunc(x*id + offset)),
// id from the float d (0 when d == 0). Returns d.
template <class V>
KQ_HD V symmetric_codes(const V* x, float div, float offset, int qmax, LaneCode<V>* L) {
    const V d = search::abs_argmax(32, x).max / V(div);
    const V id = select(d != V(0.0f), V(1.0f) / d, V(0.0f));
    for (int j = 0; j < 32; ++j) {
        const LaneInt<V> q = trunc_i8(x[j] * id + V(offset));
        L[j] = to_code(select(q < qmax, q, LaneInt<V>(qmax)));
    }
    return d;
}

// Reference codes of the min/scale types: d = (max-min)/nmax, q = trunc((x-min)*id + 0.5), clamped to
// 15 for Q4_1 and unclamped for Q5_1 (as the reference). Returns d and the float min.
template <class V>
KQ_HD BlockFitT<V> affine_codes(const V* x, int nmax, LaneCode<V>* L) {
    const MinMaxT<V> mm = block_min_max(x);
    const V d = (mm.max - mm.min) / V(static_cast<float>(nmax));
    const V id = select(d != V(0.0f), V(1.0f) / d, V(0.0f));
    for (int j = 0; j < 32; ++j) {
        const V v = (x[j] - mm.min) * id + V(0.5f);
        if (nmax == 15) {
            const LaneInt<V> q = trunc_i8(v);
            L[j] = to_code(select(q < 15, q, LaneInt<V>(15)));
        } else {
            L[j] = to_code(trunc_to_int32_x86(v));
        }
    }
    return BlockFitT<V>{d, mm.min};
}

// Imatrix path of Q4_0/Q5_0: the symmetric search with nmax = 2^(bits-1); its float scale is stored as is
// (no requantisation with the fp16 value) and the codes are l + nmax. Returns the scale.
template <class V>
KQ_HD V weighted_symmetric_codes(const V* x, const NoDeduce<V>* qw, NoDeduce<V> row_sigma2, int nmax,
                                 LaneCode<V>* L) {
    V w[32];
    search::imatrix_weights(32, x, qw, row_sigma2, w);  // σ²: the row-wide mean of x² (codec.h)
    return search::make_qx(32, nmax, x, w, L);
}

// Imatrix path of Q4_1/Q5_1: the min/scale search (make_qkx3_quants, rmin -0.9, rdelta 0.05, 36 steps,
// squared error). Returns the scale and the_min (dequantization is d*L - the_min).
template <class V>
KQ_HD search::QkxFitT<V> weighted_affine_codes(const V* x, const NoDeduce<V>* qw, NoDeduce<V> row_sigma2,
                                               int nmax, LaneCode<V>* L) {
    V w[32];
    search::imatrix_weights(32, x, qw, row_sigma2, w);  // σ²: the row-wide mean of x² (codec.h)
    return search::make_qkx(search::qkx3_params(nmax, -0.9f, 0.05f, 36, false), 32, x, w, L);
}

// The two halves of every legacy codec C (and IQ4_NL), so that a driver can run the first per lane:
//   C::fit(x, qw, row_sigma2, L)   the block's d (and m) and its 32 codes; qw null: ggml's plain path
//   C::store(d, m, L, y)           the block bytes from them
template <class C>
KQ_HD void quantize_block(const float* x, const float* qw, float row_sigma2, typename C::Block* y) {
    uint8_t L[32];
    const BlockFit f = C::fit(x, qw, row_sigma2, L);
    C::store(f.d, f.m, L, y);
}

// A 4- or 5-bit block's codes into its qs (and qh) bytes.
template <int kBits, class Block>
KQ_HD void pack_codes(const uint8_t* L, Block* y) {
    if constexpr (kBits == 5)
        pack_q5(L, y->qs, y->qh);
    else
        pack_q4(L, y->qs);
}

// The stored fifth code bits of a block (bit j: code j); 0 for a 4-bit block.
template <int kBits, class Block>
KQ_HD uint32_t stored_qh(const Block* b) {
    if constexpr (kBits == 5)
        return load_qh(b->qh);
    else
        return 0;
}

}  // namespace kquant::legacy

namespace kquant::codec {

// Q8_0: d = amax/127, q = roundf(x/d) (ties away from zero). Importance weights are ignored, as in ggml.
struct Q8_0 {
    using Block = block_q8_0;
    static constexpr Type type = Type::Q8_0;
    static constexpr int kBlockElems = QK8_0;
    static constexpr bool kRowSigma2 = false;

    template <class V>
    KQ_HD static legacy::BlockFitT<V> fit(const V* x, const NoDeduce<V>*, NoDeduce<V>, LaneCode<V>* L) {
        V amax = 0.0f;
        for (int j = 0; j < QK8_0; ++j) amax = kq_max(amax, kq_fabs(x[j]));
        const V d = amax / V(127.0f);
        const V id = select(d != V(0.0f), V(1.0f) / d, V(0.0f));
        // x*id is +-inf when d is subnormal and 1/d overflows: the x86 cast gives 0 there, CUDA's saturates.
        for (int j = 0; j < QK8_0; ++j) L[j] = to_code(legacy::trunc_i32(kq_round(x[j] * id)));
        return legacy::BlockFitT<V>{d, V(0.0f)};
    }
    KQ_HD static void store(float d, float, const uint8_t* L, Block* y) {
        y->d = fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; ++j) y->qs[j] = static_cast<int8_t>(L[j]);
    }
    KQ_HD static void quantize(const float* x, Block* y) { legacy::quantize_block<Q8_0>(x, nullptr, 0.0f, y); }
    KQ_HD static void quantize_weighted(const float* x, const float*, float, Block* y) { quantize(x, y); }
    KQ_HD static void dequantize(const Block* b, float* y) {
        const float d = fp16_to_fp32(b->d);
        for (int j = 0; j < QK8_0; ++j) y[j] = static_cast<float>(b->qs[j]) * d;
    }
};

// The four 4/5-bit legacy codecs differ only in their bit count: kBits = 5 adds the fifth code bit in qh
// (packed and read back) and doubles the code range.
// Q4_0 / Q5_0: d = max/-h with h = 2^(bits-1), codes trunc(x/d + h + 0.5) capped at 2h-1 (round half up).
// A zero block stores d = -0.0 (and, for Q5_0, qh all ones).
template <class BlockT, Type kType, int kBits>
struct SymmetricCodec {
    using Block = BlockT;
    static constexpr Type type = kType;
    static constexpr int kBlockElems = 32;
    static constexpr bool kRowSigma2 = true;
    static constexpr int kHalf = 1 << (kBits - 1);

    template <class V>
    KQ_HD static legacy::BlockFitT<V> fit(const V* x, const NoDeduce<V>* qw, NoDeduce<V> row_sigma2,
                                          LaneCode<V>* L) {
        const V d = qw != nullptr
                        ? legacy::weighted_symmetric_codes(x, qw, row_sigma2, kHalf, L)
                        : legacy::symmetric_codes(x, -static_cast<float>(kHalf), kHalf + 0.5f, 2 * kHalf - 1, L);
        return legacy::BlockFitT<V>{d, V(0.0f)};
    }
    KQ_HD static void store(float d, float, const uint8_t* L, Block* y) {
        y->d = fp32_to_fp16(d);
        legacy::pack_codes<kBits>(L, y);
    }
    KQ_HD static void quantize(const float* x, Block* y) {
        legacy::quantize_block<SymmetricCodec>(x, nullptr, 0.0f, y);
    }
    KQ_HD static void quantize_weighted(const float* x, const float* qw, float row_sigma2, Block* y) {
        legacy::quantize_block<SymmetricCodec>(x, qw, row_sigma2, y);
    }
    KQ_HD static void dequantize(const Block* b, float* y) {
        const float d = fp16_to_fp32(b->d);
        const uint32_t qh = legacy::stored_qh<kBits>(b);
        for (int j = 0; j < 16; ++j) {
            const int lo = static_cast<int>((b->qs[j] & 0x0F) | (((qh >> j) & 1u) << 4));
            const int hi = static_cast<int>((b->qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4));
            y[j] = static_cast<float>(lo - kHalf) * d;
            y[j + 16] = static_cast<float>(hi - kHalf) * d;
        }
    }
};

// Q4_1 / Q5_1: d = (max-min)/nmax, m = min, codes trunc((x-min)/d + 0.5), capped at 15 for Q4_1 and not
// capped for Q5_1 (as the reference; legacy::affine_codes).
template <class BlockT, Type kType, int kBits>
struct AffineCodec {
    using Block = BlockT;
    static constexpr Type type = kType;
    static constexpr int kBlockElems = 32;
    static constexpr bool kRowSigma2 = true;
    static constexpr int kNmax = (1 << kBits) - 1;

    template <class V>
    KQ_HD static legacy::BlockFitT<V> fit(const V* x, const NoDeduce<V>* qw, NoDeduce<V> row_sigma2,
                                          LaneCode<V>* L) {
        if (qw == nullptr) return legacy::affine_codes(x, kNmax, L);
        const search::QkxFitT<V> f = legacy::weighted_affine_codes(x, qw, row_sigma2, kNmax, L);
        return legacy::BlockFitT<V>{f.scale, -f.min};
    }
    KQ_HD static void store(float d, float m, const uint8_t* L, Block* y) {
        y->d = fp32_to_fp16(d);
        y->m = fp32_to_fp16(m);
        legacy::pack_codes<kBits>(L, y);
    }
    KQ_HD static void quantize(const float* x, Block* y) { legacy::quantize_block<AffineCodec>(x, nullptr, 0.0f, y); }
    KQ_HD static void quantize_weighted(const float* x, const float* qw, float row_sigma2, Block* y) {
        legacy::quantize_block<AffineCodec>(x, qw, row_sigma2, y);
    }
    KQ_HD static void dequantize(const Block* b, float* y) {
        const float d = fp16_to_fp32(b->d);
        const float m = fp16_to_fp32(b->m);
        const uint32_t qh = legacy::stored_qh<kBits>(b);
        for (int j = 0; j < 16; ++j) {
            const uint32_t lo = (b->qs[j] & 0x0Fu) | (((qh >> j) & 1u) << 4);
            const uint32_t hi = (b->qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4);
            y[j] = static_cast<float>(lo) * d + m;
            y[j + 16] = static_cast<float>(hi) * d + m;
        }
    }
};

using Q4_0 = SymmetricCodec<block_q4_0, Type::Q4_0, 4>;
using Q5_0 = SymmetricCodec<block_q5_0, Type::Q5_0, 5>;
using Q4_1 = AffineCodec<block_q4_1, Type::Q4_1, 4>;
using Q5_1 = AffineCodec<block_q5_1, Type::Q5_1, 5>;

}  // namespace kquant::codec
