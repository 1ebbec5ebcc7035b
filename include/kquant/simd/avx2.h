// AVX2 lane types: eight float32 / int32 lanes, one independent unit of the block math per lane
// (simd/lanes.h). Host only; compiled into the translation units built with -mavx2 (host/cpu/avx2/).
//
// Numeric contract: every float operation is the IEEE single-precision instruction of the scalar code
// (_mm256_add/sub/mul/div_ps, _mm256_sqrt_ps, all correctly rounded); never a fused multiply-add. The
// comparisons are C's (ordered, false on NaN; != is unordered, true on NaN), and max/min follow C's
// `a > b ? a : b` exactly (MAXPS/MINPS return the second operand on NaN and on equal values).
#pragma once
#if defined(__AVX2__)
#include <immintrin.h>

#include <cstdint>

#include "kquant/simd/lanes.h"

namespace kquant::simd {

struct M8 {
    __m256i v;  // all ones or all zeros per lane
    M8() = default;
    explicit M8(__m256i x) : v(x) {}
    explicit M8(bool b) : v(_mm256_set1_epi32(b ? -1 : 0)) {}
};

struct I8 {
    __m256i v;
    I8() = default;
    explicit I8(__m256i x) : v(x) {}
    I8(int s) : v(_mm256_set1_epi32(s)) {}  // NOLINT: broadcast, as a scalar constant in lane code
};

struct F8 {
    __m256 v;
    F8() = default;
    explicit F8(__m256 x) : v(x) {}
    F8(float s) : v(_mm256_set1_ps(s)) {}  // NOLINT: broadcast
};

// ---- float lanes ---------------------------------------------------------------------------------
inline F8 operator+(F8 a, F8 b) { return F8(_mm256_add_ps(a.v, b.v)); }
inline F8 operator-(F8 a, F8 b) { return F8(_mm256_sub_ps(a.v, b.v)); }
inline F8 operator*(F8 a, F8 b) { return F8(_mm256_mul_ps(a.v, b.v)); }
inline F8 operator/(F8 a, F8 b) { return F8(_mm256_div_ps(a.v, b.v)); }
inline F8 operator-(F8 a) { return F8(_mm256_xor_ps(a.v, _mm256_set1_ps(-0.0f))); }
inline F8& operator+=(F8& a, F8 b) { return a = a + b; }
inline F8& operator-=(F8& a, F8 b) { return a = a - b; }

inline M8 cmp8(__m256 m) { return M8(_mm256_castps_si256(m)); }
inline M8 operator<(F8 a, F8 b) { return cmp8(_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)); }
inline M8 operator>(F8 a, F8 b) { return cmp8(_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)); }
inline M8 operator<=(F8 a, F8 b) { return cmp8(_mm256_cmp_ps(a.v, b.v, _CMP_LE_OQ)); }
inline M8 operator>=(F8 a, F8 b) { return cmp8(_mm256_cmp_ps(a.v, b.v, _CMP_GE_OQ)); }
inline M8 operator==(F8 a, F8 b) { return cmp8(_mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ)); }
inline M8 operator!=(F8 a, F8 b) { return cmp8(_mm256_cmp_ps(a.v, b.v, _CMP_NEQ_UQ)); }

// ---- int lanes -------------------------------------------------------------------------------------
inline I8 operator+(I8 a, I8 b) { return I8(_mm256_add_epi32(a.v, b.v)); }
inline I8 operator-(I8 a, I8 b) { return I8(_mm256_sub_epi32(a.v, b.v)); }
inline I8 operator>>(I8 a, int s) { return I8(_mm256_srai_epi32(a.v, s)); }
inline I8 operator<<(I8 a, int s) { return I8(_mm256_slli_epi32(a.v, s)); }
inline I8 operator|(I8 a, I8 b) { return I8(_mm256_or_si256(a.v, b.v)); }
inline M8 operator==(I8 a, I8 b) { return M8(_mm256_cmpeq_epi32(a.v, b.v)); }
inline M8 operator!=(I8 a, I8 b) { return M8(_mm256_xor_si256(_mm256_cmpeq_epi32(a.v, b.v), _mm256_set1_epi32(-1))); }
inline M8 operator>(I8 a, I8 b) { return M8(_mm256_cmpgt_epi32(a.v, b.v)); }
inline M8 operator<(I8 a, I8 b) { return M8(_mm256_cmpgt_epi32(b.v, a.v)); }

// ---- masks -----------------------------------------------------------------------------------------
inline M8 operator&(M8 a, M8 b) { return M8(_mm256_and_si256(a.v, b.v)); }
inline M8 operator|(M8 a, M8 b) { return M8(_mm256_or_si256(a.v, b.v)); }
inline M8 operator!(M8 a) { return M8(_mm256_xor_si256(a.v, _mm256_set1_epi32(-1))); }
inline bool any(M8 m) { return !_mm256_testz_si256(m.v, m.v); }
inline bool all(M8 m) { return _mm256_movemask_ps(_mm256_castsi256_ps(m.v)) == 0xff; }

inline F8 select(M8 m, F8 a, F8 b) { return F8(_mm256_blendv_ps(b.v, a.v, _mm256_castsi256_ps(m.v))); }
inline I8 select(M8 m, I8 a, I8 b) { return I8(_mm256_blendv_epi8(b.v, a.v, m.v)); }

// ---- the scalar helpers of numeric.h / lanes.h, per lane -------------------------------------------
inline F8 to_float(I8 i) { return F8(_mm256_cvtepi32_ps(i.v)); }

// numeric.h's nint: the 1.5·2^23 add, the low mantissa bits, and 0 for a NaN argument.
inline I8 nint(F8 v) {
    const __m256 f = _mm256_add_ps(v.v, _mm256_set1_ps(12582912.f));
    const __m256i r = _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(f), _mm256_set1_epi32(0x007fffff)),
                                       _mm256_set1_epi32(0x00400000));
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v.v, v.v, _CMP_UNORD_Q));
    return I8(_mm256_andnot_si256(nan, r));
}

inline F8 kq_fabs(F8 v) { return F8(_mm256_and_ps(v.v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)))); }
inline F8 kq_max(F8 a, F8 b) { return F8(_mm256_max_ps(a.v, b.v)); }  // a > b ? a : b
inline F8 kq_min(F8 a, F8 b) { return F8(_mm256_min_ps(a.v, b.v)); }  // a < b ? a : b
inline F8 kq_sqrt(F8 v) { return F8(_mm256_sqrt_ps(v.v)); }
// v < lo ? lo : (v > hi ? hi : v), for lo <= hi.
inline I8 kq_clamp(I8 v, int lo, int hi) {
    return I8(_mm256_min_epi32(_mm256_max_epi32(v.v, _mm256_set1_epi32(lo)), _mm256_set1_epi32(hi)));
}
inline I8 to_code(I8 v) { return I8(_mm256_and_si256(v.v, _mm256_set1_epi32(0xff))); }
inline I8 from_code(I8 c) { return c; }
inline I8 to_int8(I8 v) { return I8(_mm256_srai_epi32(_mm256_slli_epi32(v.v, 24), 24)); }
// cvttps2dq: toward zero, 0x80000000 for NaN and out-of-range values, like legacy.h's scalar version.
inline I8 trunc_to_int32_x86(F8 v) { return I8(_mm256_cvttps_epi32(v.v)); }
// roundf: the truncation plus one step away from zero when the (exact) fraction is at least one half.
// |v| >= 2^23 has no fraction; inf gives a NaN fraction (no step), NaN stays NaN.
inline F8 kq_round(F8 v) {
    const __m256 t = _mm256_round_ps(v.v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_sub_ps(v.v, t);
    const __m256 half = _mm256_cmp_ps(kq_fabs(F8(frac)).v, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 step = _mm256_or_ps(_mm256_and_ps(v.v, _mm256_set1_ps(-0.0f)), _mm256_set1_ps(1.0f));
    return F8(_mm256_blendv_ps(t, _mm256_add_ps(t, step), half));  // a select: keeps -0.0
}

// A 16-entry int8 table, in both 128-bit halves; lookup picks entry i of each lane (i in 0..15) with one
// byte shuffle: byte 0 of each lane gets the entry (bytes 1-3, index 0, are shifted out), then the int8 is
// sign-extended and converted exactly.
struct Table8 {
    __m256i bytes;
};
inline Table8 load_table8(const int8_t* values) {
    return Table8{_mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(values)))};
}
inline F8 lookup(const Table8& t, I8 i) {
    const __m256i b = _mm256_shuffle_epi8(t.bytes, i.v);
    return F8(_mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(b, 24), 24)));
}

// ---- moving data between a row and lanes -----------------------------------------------------------
inline void store_lanes(float* p, F8 v) { _mm256_storeu_ps(p, v.v); }
inline void store_lanes(int32_t* p, I8 v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v.v); }
// Lane k = p[k·stride] for the first `units` lanes, 0 in the others.
inline F8 gather_lanes(const float* p, int stride, int units) {
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i idx = _mm256_mullo_epi32(iota, _mm256_set1_epi32(stride));
    if (units >= 8) return F8(_mm256_i32gather_ps(p, idx, 4));
    const __m256 mask = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(units), iota));
    return F8(_mm256_mask_i32gather_ps(_mm256_setzero_ps(), p, idx, mask, 4));
}

}  // namespace kquant::simd

namespace kquant {

template <>
struct LaneTraits<simd::F8> {
    using I = simd::I8;
    using M = simd::M8;
    using Code = simd::I8;
    static constexpr int kWidth = 8;
    static simd::Table8 table(const int8_t* values) { return simd::load_table8(values); }
    static simd::F8 load(const float* p) { return simd::F8(_mm256_loadu_ps(p)); }  // lane k = p[k]
    static simd::F8 gather(const float* p, int stride, int units) { return simd::gather_lanes(p, stride, units); }
};

}  // namespace kquant

#endif  // __AVX2__
