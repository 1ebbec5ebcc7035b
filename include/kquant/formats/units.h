// The single-pass codecs TQ1_0, TQ2_0, MXFP4, NVFP4 and Q2_0: a block is made of units of
// kUnitElems elements, each under one scale, and every code follows from its element and the unit's
// factor alone. A codec of this shape provides
//   kUnitElems                                   elements per unit (a divisor of kBlockElems)
//   float unit_scale(x, u, Block* y)             unit u's scale from its elements x: stores the scale
//                                                field of y and returns the factor the codes take
//   template <class V> unit_codes(x, f, L)       the codes L[0..kUnitElems) of the unit's elements x
//                                                under factor f; V = float or a vector type
//                                                (simd/lanes.h) that runs one unit per lane
//   void pack_unit(const uint8_t* L, u, Block* y)  unit u's codes into y's bytes
// quantize_units is the scalar block quantizer built from them; the SIMD row driver
// (host/cpu/lane_rows.h) runs unit_codes on one unit per lane and the same unit_scale and pack_unit.
#pragma once
#include <cstdint>

#include "kquant/hd.h"

namespace kquant {

template <class C>
KQ_HD void quantize_units(const float* x, typename C::Block* y) {
    constexpr int kLen = C::kUnitElems;
    static_assert(C::kBlockElems % kLen == 0, "a block is whole units");
    for (int u = 0; u < C::kBlockElems / kLen; ++u) {
        const float* xu = x + u * kLen;
        uint8_t L[kLen];
        C::template unit_codes<float>(xu, C::unit_scale(xu, u, y), L);
        C::pack_unit(L, u, y);
    }
}

}  // namespace kquant
