// The low-bit linear formats Q1_0 (128 signs under the mean |x|) and Q2_0 (64 codes in {-1, 0, 1, 2}
// under the block's |max|). Single pass; importance weights are ignored, as in ggml (quantize_q1_0 and
// quantize_q2_0 run the _ref quantizer whether or not weights are given).
#pragma once
#include <cstdint>

#include "kquant/formats/units.h"
#include "kquant/numeric.h"
#include "kquant/simd/lanes.h"
#include "kquant/types.h"

namespace kquant {

inline constexpr int QK1_0 = 128;
inline constexpr int QK2_0 = 64;

struct block_q1_0 {
    uint16_t d;
    uint8_t qs[QK1_0 / 8];  // bit j%8 of byte j/8: element j is >= 0
};
struct block_q2_0 {
    uint16_t d;
    uint8_t qs[QK2_0 / 4];  // bits 2(j%4) of byte j/4: code q+1 of element j, q in {-1, 0, 1, 2}
};
static_assert(sizeof(block_q1_0) == 18 && sizeof(block_q2_0) == 18);

// Q2_0's code, (int)roundf(v) + 1 clamped to 0..3, read off by comparisons: roundf rounds halves away
// from zero, so the code is [v > -0.5] + [v >= 0.5] + [v >= 1.5], except where x86's conversion gives
// INT32_MIN (v >= 2^31 and inf: code 0; NaN: every comparison is false, code 0; v <= -2^31 already
// counts 0).
namespace q2_0 {
template <class V>
KQ_HD LaneInt<V> code(V v) {
    using I = LaneInt<V>;
    const I q = select(v > V(-0.5f), I(1), I(0)) + select(v >= V(0.5f), I(1), I(0)) + select(v >= V(1.5f), I(1), I(0));
    return select(v >= V(2147483648.0f), I(0), q);
}
}  // namespace q2_0

namespace codec {

// Q1_0 (ggml's quantize_row_q1_0_ref): d = (sequential float sum of |x|) / 128, one sign bit per element
// (set for x >= 0, so -0.0 counts as positive and NaN as negative). Not a units codec (formats/units.h):
// the sequential sum is most of the work and the codes are one comparison, so lanes do not pay (the lane
// driver measured 0.62x this scalar code, benchmarks/RESULTS.md).
struct Q1_0 {
    using Block = block_q1_0;
    static constexpr Type type = Type::Q1_0;
    static constexpr int kBlockElems = QK1_0;
    static constexpr bool kRowSigma2 = false;

    KQ_HD static void quantize(const float* x, Block* y) {
        float sum_abs = 0.0f;
        for (int j = 0; j < QK1_0; ++j) sum_abs += kq_fabs(x[j]);
        y->d = fp32_to_fp16(sum_abs / static_cast<float>(QK1_0));
        for (int i = 0; i < QK1_0 / 8; ++i) {
            uint8_t bits = 0;
            for (int k = 0; k < 8; ++k)
                if (x[8 * i + k] >= 0.0f) bits = static_cast<uint8_t>(bits | (1u << k));
            y->qs[i] = bits;
        }
    }
    KQ_HD static void quantize_weighted(const float* x, const float*, float, Block* y) { quantize(x, y); }
    KQ_HD static void dequantize(const Block* b, float* y) {
        const float d = fp16_to_fp32(b->d);
        const float neg_d = -d;
        for (int j = 0; j < QK1_0; ++j) y[j] = ((b->qs[j / 8] >> (j % 8)) & 1) ? d : neg_d;
    }
};

// Q2_0 (ggml's quantize_row_q2_0_ref): one unit per block, d = |max|, codes q2_0::code(x/d) (when d is
// subnormal, 1/d is inf and x*id is +-inf or NaN: code 0, as x86 gives).
struct Q2_0 {
    using Block = block_q2_0;
    static constexpr Type type = Type::Q2_0;
    static constexpr int kBlockElems = QK2_0;
    static constexpr int kUnitElems = QK2_0;
    static constexpr bool kRowSigma2 = false;

    KQ_HD static float unit_scale(const float* x, int, Block* y) {
        const float amax = abs_max(x, QK2_0);
        y->d = fp32_to_fp16(amax);
        return amax > 0.0f ? 1.0f / amax : 0.0f;
    }
    template <class V>
    KQ_HD static void unit_codes(const V* x, V id, LaneCode<V>* L) {
        for (int j = 0; j < QK2_0; ++j) L[j] = to_code(q2_0::code(x[j] * id));
    }
    KQ_HD static void pack_unit(const uint8_t* L, int, Block* y) {
        for (int i = 0; i < QK2_0 / 4; ++i)
            y->qs[i] = static_cast<uint8_t>(L[4 * i] | (L[4 * i + 1] << 2) | (L[4 * i + 2] << 4) | (L[4 * i + 3] << 6));
    }
    KQ_HD static void quantize(const float* x, Block* y) { quantize_units<Q2_0>(x, y); }
    KQ_HD static void quantize_weighted(const float* x, const float*, float, Block* y) { quantize(x, y); }
    KQ_HD static void dequantize(const Block* b, float* y) {
        const float d = fp16_to_fp32(b->d);
        for (int j = 0; j < QK2_0; ++j) y[j] = static_cast<float>(((b->qs[j / 4] >> (2 * (j % 4))) & 3) - 1) * d;
    }
};

}  // namespace codec
}  // namespace kquant
