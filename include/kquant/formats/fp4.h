// The FP4 formats: MXFP4 (32 E2M1 values under one E8M0 power-of-two scale) and NVFP4 (64 values in four
// 16-element sub-blocks, each under an unsigned E4M3 scale). Both store 4-bit indices into the E2M1 table,
// which ggml keeps doubled (kvalues_fp4), so both scales are decoded at half their value. Single pass,
// no search; importance weights are ignored, as in ggml (quantize_mxfp4 / quantize_nvfp4).
#pragma once
#include <cstdint>

#include "kquant/hd.h"
#include "kquant/formats/units.h"
#include "kquant/numeric.h"
#include "kquant/simd/lanes.h"
#include "kquant/types.h"

namespace kquant {

inline constexpr int QK_MXFP4 = 32;
inline constexpr int QK_NVFP4 = 64;
inline constexpr int QK_NVFP4_SUB = 16;

struct block_mxfp4 {
    uint8_t e;                  // E8M0 exponent (bias 127)
    uint8_t qs[QK_MXFP4 / 2];   // byte j: index of element j (low nibble), of element j+16 (high)
};
struct block_nvfp4 {
    uint8_t d[QK_NVFP4 / QK_NVFP4_SUB];  // UE4M3 scale per 16-element sub-block
    uint8_t qs[QK_NVFP4 / 2];            // per sub-block s, bytes 8s..8s+7: elements j and j+8
};
static_assert(sizeof(block_mxfp4) == 17 && sizeof(block_nvfp4) == 36);

namespace fp4 {

// E2M1 values times two, indexed by the 4-bit code (ggml-common.h kvalues_fp4, reproduced as format data).
// Device code cannot index a namespace-scope array at run time: callers take a local constexpr copy,
// `constexpr fp4::Table T = fp4::table();`.
struct Table {
    int8_t v[16];
};
KQ_HD constexpr Table table() { return Table{{0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12}}; }

// The magnitudes of the table under half-scale d: m[k] = v[k]*d for the eight codes k = 0..7 (codes 8..15
// are their negatives), the same float products the reference forms for every element (made once per
// unit here). V: float, or a vector of one unit per lane (simd/lanes.h).
template <class V>
struct ScaledT {
    V m[8];
};
template <class V>
KQ_HD ScaledT<V> scaled(const int8_t* v, V d) {
    ScaledT<V> s;
    for (int k = 0; k < 8; ++k) s.m[k] = V(static_cast<float>(v[k])) * d;
    return s;
}

// ggml's best_index_mxfp4 is the first of the 16 codes with the smallest |v[i]*d - x| (strict <, so +0
// beats -0). It is found among the eight codes of x's sign. For d >= 0 (always: both scales decode to >= 0):
//   x >= 0: a negative code's error |-m - x| = m + x is >= x = the error of code 0, which comes first, so
//           no negative code wins; the answer is the first least |m[k] - x|.
//   x < 0:  code k's error is m[k] + |x| >= |x| (code 0's), and code 8+k's is |(-m[k]) - x| = |m[k] - |x||
//           (a float subtraction is odd under negating both sides); code 8's equals code 0's, so the answer
//           is code 0 if the first least |m[k] - |x|| is at k = 0, else 8 + k.
//   NaN:    every error is NaN and no comparison succeeds: code 0 (x < 0 is false).
// magnitude_index is the first least |m[k] - ax|, with_sign the step to x's sign. The scalar forms are
// branches that compilers turn into selects across the elements of the calling loops (the codes of a
// unit are independent); a vector spells out those selects per lane.
template <class V>
KQ_HD LaneInt<V> magnitude_index(const ScaledT<V>& s, V ax) {
    using I = LaneInt<V>;
    I best = I(0);
    V best_err = kq_fabs(s.m[0] - ax);
    for (int k = 1; k < 8; ++k) {
        const V err = kq_fabs(s.m[k] - ax);
        if constexpr (LaneTraits<V>::kWidth == 1) {
            if (err < best_err) {
                best = k;
                best_err = err;
            }
        } else {
            const LaneMask<V> better = err < best_err;
            best = select(better, I(k), best);
            best_err = select(better, err, best_err);
        }
    }
    return best;
}
template <class V>
KQ_HD LaneInt<V> with_sign(LaneInt<V> k, V x) {
    using I = LaneInt<V>;
    if constexpr (LaneTraits<V>::kWidth == 1)
        return x < 0.0f && k != 0 ? k + 8 : k;
    else
        return select((x < V(0.0f)) & (k != I(0)), k + I(8), k);
}
template <class V>
KQ_HD LaneInt<V> best_index(const ScaledT<V>& s, V x) {
    return with_sign(magnitude_index(s, kq_fabs(x)), x);
}

// The codes of n values of one unit under half-scale d.
// (best_index in two passes: each is a loop the scalar path's compiler vectorizes.)
template <class V>
KQ_HD void codes(const int8_t* v, const V* x, int n, V d, LaneCode<V>* L) {
    const ScaledT<V> s = scaled(v, d);
    for (int j = 0; j < n; ++j) L[j] = to_code(magnitude_index(s, kq_fabs(x[j])));
    for (int j = 0; j < n; ++j) L[j] = to_code(with_sign(from_code(L[j]), x[j]));
}

// n codes into n/2 bytes: byte j holds the code of element j (low nibble) and of element j + n/2 (high).
KQ_HD void pack_nibbles(const uint8_t* L, int n, uint8_t* qs) {
    for (int j = 0; j < n / 2; ++j) qs[j] = static_cast<uint8_t>(L[j] | (L[n / 2 + j] << 4));
}

// floorf(log2f(a)) for a finite a > 0, from the bits (no libm, so host and device agree).
// The exact floor is the binary exponent E. But log2f returns a float: for a just below 2^(E+1) the
// result E+1-delta is closer to the integer E+1 than to the float below it, so log2f returns E+1 and the
// floor follows. With log2f correctly rounded that happens for the j nearest floats below 2^(E+1) with
// j*r/ln2 < h (r: a's float spacing relative to 2^(E+1), h: half the float spacing just below E+1),
// i.e. j <= floor(ln2 * 2^q) for q = log2(h/r). tests/quant_small_types_test.cpp compares this with
// glibc's log2f for every float near a power of two (and an exhaustive run over all positive floats).
KQ_HD int floor_log2f(float a) {
    const uint32_t u = f32_bits(a);
    int e;  // exact floor(log2(a))
    if (u >= 0x00800000u) {
        e = static_cast<int>(u >> 23) - 127;
    } else {
        e = -150;
        for (uint32_t m = u; m != 0; m >>= 1) ++e;  // subnormal: 2^-149 times u
    }
    const int k = e + 1;
    const uint32_t pow2k = k >= -126 ? static_cast<uint32_t>(k + 127) << 23 : 1u << (k + 149);
    const uint32_t j = pow2k - u;  // a is the j-th float below 2^k (k = 128: the bits of inf)
    // b: binary exponent of the magnitude of the float just below k (h = 2^(b-24)); -1 for k = 1.
    const int ak = k > 0 ? k - 1 : -k;
    int b = -1;
    for (int m = ak; m != 0; m >>= 1) ++b;
    if (k == 0) return e;  // below 0 lies -2^-149: log2f never rounds to 0 from below
    const int q = b + (k + 125 < 0 ? k + 125 : 0);  // subnormal a: coarser relative spacing
    constexpr uint32_t kLn2Pow2[8] = {0, 1, 2, 5, 11, 22, 44, 88};  // floor(ln2 * 2^q)
    const uint32_t jmax = q < 0 ? 0u : kLn2Pow2[q];
    return j <= jmax ? k : e;
}

// ggml's E8M0 exponent of a block maximum: (uint8_t)(floorf(log2f(amax)) - 2 + 127), 0 for amax = 0.
// Below 2^-125 the value is negative; x86 converts through int32 and keeps the low byte (-1 -> 255).
KQ_HD uint8_t e8m0_exponent(float amax) {
    if (!(amax > 0.0f)) return 0;
    if (!is_finite_f32(amax)) return 0;  // (uint8_t)inf on x86: INT32_MIN, low byte 0
    return static_cast<uint8_t>((floor_log2f(amax) + 125) & 0xff);
}

// ggml_e8m0_to_fp32_half: 2^(e-128), with e = 0 and 1 as subnormals; 255 gives 2^127 (not NaN).
KQ_HD float e8m0_to_fp32_half(uint8_t e) {
    const uint32_t bits = e < 2 ? (0x00200000u << e) : static_cast<uint32_t>(e - 1) << 23;
    return f32_from_bits(bits);
}

// ggml_ue4m3_to_fp32: half the UE4M3 value (4 exponent bits, bias 7, 3 mantissa bits; bit 7 is ignored);
// 0x00 and 0x7F decode to 0. Every value is exact, so the bits are built directly (ggml uses ldexpf).
KQ_HD float ue4m3_to_fp32_half(uint8_t x) {
    if (x == 0 || x == 0x7F) return 0.0f;
    const uint32_t exp = (x >> 3) & 0xFu;
    const uint32_t man = x & 0x7u;
    if (exp == 0) return static_cast<float>(man) * 0.0009765625f;  // man * 2^-9 / 2, exact
    return f32_from_bits(((exp - 7u + 127u - 1u) << 23) | (man << 20));  // (1 + man/8) * 2^(exp-7) / 2
}

// ggml_fp32_to_ue4m3: 0 for x <= 0 (and NaN), capped at 448; below 2^-6 the subnormal code
// trunc(x*512 + 0.5) clamped to 1..7 (0 below); above, the mantissa rounded half up on bit 19.
KQ_HD uint8_t fp32_to_ue4m3(float x) {
    if (!(x > 0.0f)) return 0;
    if (x > 448.0f) x = 448.0f;
    const uint32_t bits = f32_bits(x);
    const int fexp = static_cast<int>((bits >> 23) & 0xFFu) - 127;
    int exp = fexp + 7;
    if (exp <= 0) {
        const int man = static_cast<int>(x * 512.0f + 0.5f);  // x < 2^-6: in range
        if (man < 1) return 0;
        return static_cast<uint8_t>(man > 7 ? 7 : man);
    }
    if (exp >= 15) return 0x7E;
    int man = static_cast<int>((bits >> 20) & 0x7u) + static_cast<int>((bits >> 19) & 1u);
    if (man > 7) {
        man = 0;
        if (++exp >= 15) return 0x7E;
    }
    return static_cast<uint8_t>((exp << 3) | man);
}

KQ_HD void unpack_codes(const int8_t* v, const uint8_t* qs, int n, float d, float* y) {
    for (int j = 0; j < n / 2; ++j) {
        y[j] = static_cast<float>(v[qs[j] & 0x0F]) * d;
        y[j + n / 2] = static_cast<float>(v[qs[j] >> 4]) * d;
    }
}

}  // namespace fp4

namespace codec {

// MXFP4 (ggml's quantize_row_mxfp4_ref): e from the block's |max|, codes nearest under 2^(e-128).
// One unit (formats/units.h) per block.
struct MXFP4 {
    using Block = block_mxfp4;
    static constexpr Type type = Type::MXFP4;
    static constexpr int kBlockElems = QK_MXFP4;
    static constexpr int kUnitElems = QK_MXFP4;
    static constexpr bool kRowSigma2 = false;

    KQ_HD static float unit_scale(const float* x, int, Block* y) {
        y->e = fp4::e8m0_exponent(abs_max(x, QK_MXFP4));
        return fp4::e8m0_to_fp32_half(y->e);
    }
    template <class V>
    KQ_HD static void unit_codes(const V* x, V d, LaneCode<V>* L) {
        constexpr fp4::Table T = fp4::table();
        fp4::codes(T.v, x, QK_MXFP4, d, L);
    }
    KQ_HD static void pack_unit(const uint8_t* L, int, Block* y) { fp4::pack_nibbles(L, QK_MXFP4, y->qs); }
    KQ_HD static void quantize(const float* x, Block* y) { quantize_units<MXFP4>(x, y); }
    KQ_HD static void quantize_weighted(const float* x, const float*, float, Block* y) { quantize(x, y); }
    KQ_HD static void dequantize(const Block* b, float* y) {
        constexpr fp4::Table T = fp4::table();
        fp4::unpack_codes(T.v, b->qs, QK_MXFP4, fp4::e8m0_to_fp32_half(b->e), y);
    }
};

// NVFP4 (ggml's quantize_row_nvfp4_ref): per 16-element sub-block (a unit), the UE4M3 code of |max|/6 and
// the nearest codes under its decoded (half) value.
struct NVFP4 {
    using Block = block_nvfp4;
    static constexpr Type type = Type::NVFP4;
    static constexpr int kBlockElems = QK_NVFP4;
    static constexpr int kUnitElems = QK_NVFP4_SUB;
    static constexpr bool kRowSigma2 = false;

    KQ_HD static float unit_scale(const float* x, int s, Block* y) {
        y->d[s] = fp4::fp32_to_ue4m3(abs_max(x, QK_NVFP4_SUB) / 6.0f);
        return fp4::ue4m3_to_fp32_half(y->d[s]);
    }
    template <class V>
    KQ_HD static void unit_codes(const V* x, V d, LaneCode<V>* L) {
        constexpr fp4::Table T = fp4::table();
        fp4::codes(T.v, x, QK_NVFP4_SUB, d, L);
    }
    KQ_HD static void pack_unit(const uint8_t* L, int s, Block* y) {
        fp4::pack_nibbles(L, QK_NVFP4_SUB, y->qs + s * (QK_NVFP4_SUB / 2));
    }
    KQ_HD static void quantize(const float* x, Block* y) { quantize_units<NVFP4>(x, y); }
    KQ_HD static void quantize_weighted(const float* x, const float*, float, Block* y) { quantize(x, y); }
    KQ_HD static void dequantize(const Block* b, float* y) {
        constexpr fp4::Table T = fp4::table();
        for (int s = 0; s < QK_NVFP4 / QK_NVFP4_SUB; ++s)
            fp4::unpack_codes(T.v, b->qs + s * (QK_NVFP4_SUB / 2), QK_NVFP4_SUB, fp4::ue4m3_to_fp32_half(b->d[s]),
                              y + s * QK_NVFP4_SUB);
    }
};

}  // namespace codec
}  // namespace kquant
