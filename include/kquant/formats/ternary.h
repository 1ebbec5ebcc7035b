// The ternary formats of BitNet b1.58 / TriLM: TQ1_0 (base-3 packing, five trits per byte, 1.6875 bpw)
// and TQ2_0 (2 bits per trit, 2.0625 bpw). One fp16 scale d = |max| per 256 elements, trits
// round(x/d) in {-1, 0, 1}. Single pass; importance weights are ignored, as in ggml (quantize_tq*_0).
#pragma once
#include <cstdint>

#include "kquant/blocks.h"
#include "kquant/formats/legacy.h"
#include "kquant/formats/units.h"
#include "kquant/numeric.h"
#include "kquant/simd/lanes.h"
#include "kquant/types.h"

namespace kquant {

struct block_tq1_0 {
    uint8_t qs[48];  // elements 0..159: 32 bytes of 5 trits (stride 32), 160..239: 16 bytes (stride 16)
    uint8_t qh[4];   // elements 240..255: 4 bytes of 4 trits (stride 4)
    uint16_t d;
};
struct block_tq2_0 {
    uint8_t qs[QK_K / 4];  // 2-bit codes trit+1; byte m of each 32-byte group holds elements m + 32n
    uint16_t d;
};
static_assert(sizeof(block_tq1_0) == 54 && sizeof(block_tq2_0) == 66);

namespace ternary {

// The low byte of lroundf(v) + 1, as ggml's x86-64 build computes it (the packing keeps only that byte):
// below |v| = 1.5 (every finite v = x/d) the rounding is read off by comparisons; below 2^31 it is the
// int32 rounding; from 2^31 up v is a multiple of 256, and inf and NaN give LONG_MIN: low byte 0, code 1.
template <class V>
KQ_HD LaneInt<V> trit_byte(V v) {
    using I = LaneInt<V>;
    const V a = kq_fabs(v);
    const I small = select(v > V(-0.5f), I(1), I(0)) + select(v >= V(0.5f), I(1), I(0));
    if (all(a < V(1.5f))) return small;
    const I rounded = legacy::trunc_i32(kq_round(v)) + I(1);
    return select(a < V(1.5f), small, select(a < V(2147483648.0f), rounded, I(1)));
}

// Scale of a 256-element block: d = |max| (MAX macro order, so a NaN propagates); the codes take 1/d or 0.
KQ_HD float block_scale(const float* x, uint16_t* d) {
    float amax = 0.0f;
    for (int j = 0; j < QK_K; ++j) amax = kq_max(amax, kq_fabs(x[j]));
    *d = fp32_to_fp16(amax);
    return amax != 0.0f ? 1.0f / amax : 0.0f;
}

template <class V>
KQ_HD void trit_codes(const V* x, V id, LaneCode<V>* L) {
    for (int j = 0; j < QK_K; ++j) L[j] = to_code(trit_byte(x[j] * id));
}

// The scale unit of both formats: the whole block under d = |max|, the codes trit_byte(x/d).
template <class Block>
struct Units {
    static constexpr int kUnitElems = QK_K;
    KQ_HD static float unit_scale(const float* x, int, Block* y) { return block_scale(x, &y->d); }
    template <class V>
    KQ_HD static void unit_codes(const V* x, V id, LaneCode<V>* L) {
        trit_codes(x, id, L);
    }
};

// Base-3 byte of n trit codes L[0], L[stride], ...: first trit most significant, then scaled to 8 bits by
// the ceiling of q*256/243 (ggml's packing, so that the trits come back by multiplying by 3).
KQ_HD uint8_t pack_trits(const uint8_t* L, int stride, int n) {
    uint8_t q = 0;
    for (int t = 0; t < n; ++t) q = static_cast<uint8_t>(q * 3 + L[t * stride]);
    for (int t = n; t < 5; ++t) q = static_cast<uint8_t>(q * 3);  // the 4-trit qh bytes: shift by one trit
    return static_cast<uint8_t>((static_cast<uint16_t>(q) * 256 + 242) / 243);
}

// Trit number n (0 = most significant) of a packed byte, minus 1, as ggml's dequantize_row_tq1_0.
KQ_HD int unpack_trit(uint8_t byte, int n) {
    constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
    const uint8_t q = static_cast<uint8_t>(byte * kPow3[n]);
    return ((static_cast<uint16_t>(q) * 3) >> 8) - 1;
}

}  // namespace ternary

namespace codec {

// TQ1_0 (ggml's quantize_row_tq1_0_ref / dequantize_row_tq1_0).
struct TQ1_0 : ternary::Units<block_tq1_0> {
    using Block = block_tq1_0;
    static constexpr Type type = Type::TQ1_0;
    static constexpr int kBlockElems = QK_K;
    static constexpr bool kRowSigma2 = false;

    KQ_HD static void pack_unit(const uint8_t* L, int, Block* y) {
        for (int m = 0; m < 32; ++m) y->qs[m] = ternary::pack_trits(L + m, 32, 5);
        for (int m = 0; m < 16; ++m) y->qs[32 + m] = ternary::pack_trits(L + 160 + m, 16, 5);
        for (int j = 0; j < 4; ++j) y->qh[j] = ternary::pack_trits(L + 240 + j, 4, 4);
    }
    KQ_HD static void quantize(const float* x, Block* y) { quantize_units<TQ1_0>(x, y); }
    KQ_HD static void quantize_weighted(const float* x, const float*, float, Block* y) { quantize(x, y); }
    KQ_HD static void dequantize(const Block* b, float* y) {
        const float d = fp16_to_fp32(b->d);
        for (int n = 0; n < 5; ++n)
            for (int m = 0; m < 32; ++m) y[n * 32 + m] = static_cast<float>(ternary::unpack_trit(b->qs[m], n)) * d;
        for (int n = 0; n < 5; ++n)
            for (int m = 0; m < 16; ++m)
                y[160 + n * 16 + m] = static_cast<float>(ternary::unpack_trit(b->qs[32 + m], n)) * d;
        for (int n = 0; n < 4; ++n)
            for (int j = 0; j < 4; ++j) y[240 + n * 4 + j] = static_cast<float>(ternary::unpack_trit(b->qh[j], n)) * d;
    }
};

// TQ2_0 (ggml's quantize_row_tq2_0_ref / dequantize_row_tq2_0): code trit+1 of element 128g + 32n + m in
// bits 2n of byte 32g + m.
struct TQ2_0 : ternary::Units<block_tq2_0> {
    using Block = block_tq2_0;
    static constexpr Type type = Type::TQ2_0;
    static constexpr int kBlockElems = QK_K;
    static constexpr bool kRowSigma2 = false;

    KQ_HD static void pack_unit(const uint8_t* L, int, Block* y) {
        for (int g = 0; g < 2; ++g)
            for (int m = 0; m < 32; ++m) {
                uint8_t q = 0;
                for (int n = 0; n < 4; ++n) q = static_cast<uint8_t>(q + ((L[128 * g + 32 * n + m] & 3) << (2 * n)));
                y->qs[32 * g + m] = q;
            }
    }
    KQ_HD static void quantize(const float* x, Block* y) { quantize_units<TQ2_0>(x, y); }
    KQ_HD static void quantize_weighted(const float* x, const float*, float, Block* y) { quantize(x, y); }
    KQ_HD static void dequantize(const Block* b, float* y) {
        const float d = fp16_to_fp32(b->d);
        for (int g = 0; g < 2; ++g)
            for (int n = 0; n < 4; ++n)
                for (int m = 0; m < 32; ++m)
                    y[128 * g + 32 * n + m] = static_cast<float>(((b->qs[32 * g + m] >> (2 * n)) & 3) - 1) * d;
    }
};

}  // namespace codec
}  // namespace kquant
