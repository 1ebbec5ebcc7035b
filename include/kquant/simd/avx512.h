// AVX-512 lane types: sixteen float32 / int32 lanes with mask registers, one independent unit of the
// block math per lane (simd/lanes.h). Host only; compiled into the translation units built with
// -mavx512f -mavx512bw -mavx512dq -mavx512vl (host/cpu/avx512/).
//
// Numeric contract: as simd/avx2.h: the IEEE single-precision instruction of each scalar operation
// (_mm512_add/sub/mul/div_ps, _mm512_sqrt_ps), never fused; C's comparisons; max/min as `a > b ? a : b`.
#pragma once
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
#include <immintrin.h>

#include <cstdint>

#include "kquant/simd/lanes.h"

namespace kquant::simd {

struct M16 {
    __mmask16 v;
    M16() = default;
    explicit M16(__mmask16 x) : v(x) {}
    explicit M16(bool b) : v(static_cast<__mmask16>(b ? 0xffff : 0)) {}
};

struct I16 {
    __m512i v;
    I16() = default;
    explicit I16(__m512i x) : v(x) {}
    I16(int s) : v(_mm512_set1_epi32(s)) {}  // NOLINT: broadcast
};

struct F16 {
    __m512 v;
    F16() = default;
    explicit F16(__m512 x) : v(x) {}
    F16(float s) : v(_mm512_set1_ps(s)) {}  // NOLINT: broadcast
};

// ---- float lanes ---------------------------------------------------------------------------------
inline F16 operator+(F16 a, F16 b) { return F16(_mm512_add_ps(a.v, b.v)); }
inline F16 operator-(F16 a, F16 b) { return F16(_mm512_sub_ps(a.v, b.v)); }
inline F16 operator*(F16 a, F16 b) { return F16(_mm512_mul_ps(a.v, b.v)); }
inline F16 operator/(F16 a, F16 b) { return F16(_mm512_div_ps(a.v, b.v)); }
inline F16 operator-(F16 a) {
    return F16(_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a.v), _mm512_set1_epi32(INT32_MIN))));
}
inline F16& operator+=(F16& a, F16 b) { return a = a + b; }
inline F16& operator-=(F16& a, F16 b) { return a = a - b; }

inline M16 operator<(F16 a, F16 b) { return M16(_mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ)); }
inline M16 operator>(F16 a, F16 b) { return M16(_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)); }
inline M16 operator<=(F16 a, F16 b) { return M16(_mm512_cmp_ps_mask(a.v, b.v, _CMP_LE_OQ)); }
inline M16 operator>=(F16 a, F16 b) { return M16(_mm512_cmp_ps_mask(a.v, b.v, _CMP_GE_OQ)); }
inline M16 operator==(F16 a, F16 b) { return M16(_mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ)); }
inline M16 operator!=(F16 a, F16 b) { return M16(_mm512_cmp_ps_mask(a.v, b.v, _CMP_NEQ_UQ)); }

// ---- int lanes -------------------------------------------------------------------------------------
inline I16 operator+(I16 a, I16 b) { return I16(_mm512_add_epi32(a.v, b.v)); }
inline I16 operator-(I16 a, I16 b) { return I16(_mm512_sub_epi32(a.v, b.v)); }
inline I16 operator>>(I16 a, int s) { return I16(_mm512_srai_epi32(a.v, static_cast<unsigned>(s))); }
inline I16 operator<<(I16 a, int s) { return I16(_mm512_slli_epi32(a.v, static_cast<unsigned>(s))); }
inline I16 operator|(I16 a, I16 b) { return I16(_mm512_or_si512(a.v, b.v)); }
inline M16 operator==(I16 a, I16 b) { return M16(_mm512_cmpeq_epi32_mask(a.v, b.v)); }
inline M16 operator!=(I16 a, I16 b) { return M16(_mm512_cmpneq_epi32_mask(a.v, b.v)); }
inline M16 operator>(I16 a, I16 b) { return M16(_mm512_cmpgt_epi32_mask(a.v, b.v)); }
inline M16 operator<(I16 a, I16 b) { return M16(_mm512_cmplt_epi32_mask(a.v, b.v)); }

// ---- masks -----------------------------------------------------------------------------------------
inline M16 operator&(M16 a, M16 b) { return M16(static_cast<__mmask16>(a.v & b.v)); }
inline M16 operator|(M16 a, M16 b) { return M16(static_cast<__mmask16>(a.v | b.v)); }
inline M16 operator!(M16 a) { return M16(static_cast<__mmask16>(~a.v)); }
inline bool any(M16 m) { return m.v != 0; }
inline bool all(M16 m) { return m.v == 0xffff; }

inline F16 select(M16 m, F16 a, F16 b) { return F16(_mm512_mask_blend_ps(m.v, b.v, a.v)); }
inline I16 select(M16 m, I16 a, I16 b) { return I16(_mm512_mask_blend_epi32(m.v, b.v, a.v)); }

// ---- the scalar helpers of numeric.h / lanes.h / legacy.h, per lane ----------------------------------
inline F16 to_float(I16 i) { return F16(_mm512_cvtepi32_ps(i.v)); }

// numeric.h's nint: the 1.5·2^23 add, the low mantissa bits, and 0 for a NaN argument.
inline I16 nint(F16 v) {
    const __m512 f = _mm512_add_ps(v.v, _mm512_set1_ps(12582912.f));
    const __m512i r = _mm512_sub_epi32(_mm512_and_si512(_mm512_castps_si512(f), _mm512_set1_epi32(0x007fffff)),
                                       _mm512_set1_epi32(0x00400000));
    const __mmask16 ordered = _mm512_cmp_ps_mask(v.v, v.v, _CMP_ORD_Q);
    return I16(_mm512_maskz_mov_epi32(ordered, r));
}

inline F16 kq_fabs(F16 v) {
    return F16(_mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v.v), _mm512_set1_epi32(0x7fffffff))));
}
inline F16 kq_max(F16 a, F16 b) { return F16(_mm512_max_ps(a.v, b.v)); }  // a > b ? a : b
inline F16 kq_min(F16 a, F16 b) { return F16(_mm512_min_ps(a.v, b.v)); }  // a < b ? a : b
inline F16 kq_sqrt(F16 v) { return F16(_mm512_sqrt_ps(v.v)); }
inline I16 kq_clamp(I16 v, int lo, int hi) {
    return I16(_mm512_min_epi32(_mm512_max_epi32(v.v, _mm512_set1_epi32(lo)), _mm512_set1_epi32(hi)));
}
inline I16 to_code(I16 v) { return I16(_mm512_and_si512(v.v, _mm512_set1_epi32(0xff))); }
inline I16 from_code(I16 c) { return c; }
inline I16 to_int8(I16 v) { return I16(_mm512_srai_epi32(_mm512_slli_epi32(v.v, 24), 24)); }
// cvttps2dq: toward zero, 0x80000000 for NaN and out-of-range values, like legacy.h's scalar version.
inline I16 trunc_to_int32_x86(F16 v) { return I16(_mm512_cvttps_epi32(v.v)); }
// roundf: the truncation plus one step away from zero when the (exact) fraction is at least one half.
inline F16 kq_round(F16 v) {
    const __m512 t = _mm512_roundscale_ps(v.v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __mmask16 half = _mm512_cmp_ps_mask(kq_fabs(F16(_mm512_sub_ps(v.v, t))).v, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 step = _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(v.v), _mm512_set1_epi32(INT32_MIN)),
                        _mm512_castps_si512(_mm512_set1_ps(1.0f))));
    return F16(_mm512_mask_add_ps(t, half, t, step));
}

// A 16-entry int8 table as floats: one permute per lookup.
struct Table16 {
    __m512 v;
};
inline Table16 load_table16(const int8_t* values) {
    return Table16{_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(values))))};
}
inline F16 lookup(const Table16& t, I16 i) { return F16(_mm512_permutexvar_ps(i.v, t.v)); }

// ---- moving data between a row and lanes -----------------------------------------------------------
inline void store_lanes(float* p, F16 v) { _mm512_storeu_ps(p, v.v); }
inline void store_lanes(int32_t* p, I16 v) { _mm512_storeu_si512(p, v.v); }
// Lane k = p[k·stride] for the first `units` lanes, 0 in the others.
inline F16 gather_lanes16(const float* p, int stride, int units) {
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(stride));
    const __mmask16 mask = static_cast<__mmask16>(units >= 16 ? 0xffff : (1u << units) - 1u);
    return F16(_mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, idx, p, 4));
}

}  // namespace kquant::simd

namespace kquant {

template <>
struct LaneTraits<simd::F16> {
    using I = simd::I16;
    using M = simd::M16;
    using Code = simd::I16;
    static constexpr int kWidth = 16;
    static simd::Table16 table(const int8_t* values) { return simd::load_table16(values); }
    static simd::F16 load(const float* p) { return simd::F16(_mm512_loadu_ps(p)); }  // lane k = p[k]
    static simd::F16 gather(const float* p, int stride, int units) { return simd::gather_lanes16(p, stride, units); }
};

}  // namespace kquant

#endif  // AVX-512 F/BW/DQ/VL
