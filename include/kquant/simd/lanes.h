// The lane value types of the block math. The search and phase functions in include/kquant/ are templates
// over a lane value type V: V = float is the scalar path (CPU scalar and CUDA), and a SIMD vector type
// (simd/avx2.h, simd/avx512.h) runs one independent unit (sub-block, block) per lane with exactly the
// scalar path's arithmetic in every lane. A type V provides, through LaneTraits<V>:
//   I     per-lane int            (scalar: int)
//   M     per-lane condition      (scalar: bool)
//   Code  per-lane stored code    (scalar: uint8_t; a vector keeps the byte value in an int lane)
// and these operations (found by ordinary lookup for the scalar types, by argument-dependent lookup for
// the vector types):
//   V +-*/ V (IEEE float32, never fused), -V, comparisons → M;  I + - I, == != < > → M;  M & | !
//   select(m, a, b)   per lane m ? a : b                any(m), all(m)   some / every lane
//   nint(v)           numeric.h's nint per lane         to_float(i)      exact int → float
//   kq_clamp(i, lo, hi), kq_fabs, kq_max, kq_min, kq_sqrt (correctly rounded, like sqrtf)
//   to_code(i)        the byte a uint8_t store keeps    from_code(c)     that byte as an int
//   to_int8(i)        the value an int8_t store keeps   kq_round(v)      roundf (halves away from zero)
//   trunc_to_int32_x86(v)  (formats/legacy.h) cvttss2si: toward zero, INT32_MIN for NaN / out of range
// The CPU's SIMD row drivers (host/cpu/lane_rows.h) also move data with LaneTraits<V>::load(p) (lane k =
// p[k]), LaneTraits<V>::gather(p, stride, units) (lane k = p[k·stride], zeros past `units`) and
// store_lanes(p, v); only the vector types have those.
//   LaneTraits<V>::table(values) + lookup(table, i)     float(values[i]) of a 16-entry int8 table
//
// How scalar code becomes lane code: `if (c) x = y;` is `x = select(c, y, x)`; a branch that only skips
// work is guarded by `if (any(c))` (for V = float that is the original branch), and early returns become
// masks applied at the end. Loops with a data-dependent trip count run until no lane changes: their
// passes are idempotent once a lane's pass changed nothing, so the extra passes leave that lane as is.
#pragma once
#include <cmath>
#include <cstdint>

#include "kquant/hd.h"
#include "kquant/numeric.h"

namespace kquant {

template <class V>
struct LaneTraits;

template <>
struct LaneTraits<float> {
    using I = int;
    using M = bool;
    using Code = uint8_t;
    static constexpr int kWidth = 1;
    // A scalar table is the int8 array itself.
    KQ_HD static const int8_t* table(const int8_t* values) { return values; }
};

template <class V>
using LaneInt = typename LaneTraits<V>::I;
template <class V>
using LaneMask = typename LaneTraits<V>::M;
template <class V>
using LaneCode = typename LaneTraits<V>::Code;

// Marks a parameter that must not take part in template argument deduction (V comes from the data).
template <class T>
struct NoDeduceT {
    using type = T;
};
template <class T>
using NoDeduce = typename NoDeduceT<T>::type;

// ---- the scalar lane operations (the vector overloads live beside their types) ----------------------
template <class T>
KQ_HD T select(bool m, T a, T b) {
    return m ? a : b;
}
KQ_HD bool any(bool m) { return m; }
KQ_HD bool all(bool m) { return m; }
KQ_HD float to_float(int v) { return static_cast<float>(v); }
KQ_HD uint8_t to_code(int v) { return static_cast<uint8_t>(v); }  // wraps as ggml's uint8_t stores
KQ_HD int from_code(uint8_t c) { return c; }
KQ_HD int to_int8(int v) { return static_cast<int8_t>(static_cast<uint8_t>(v)); }  // as an int8_t store
KQ_HD float kq_sqrt(float v) { return sqrtf(v); }
KQ_HD float kq_round(float v) { return roundf(v); }  // halves away from zero
KQ_HD float lookup(const int8_t* table, int i) { return static_cast<float>(table[i]); }

}  // namespace kquant
