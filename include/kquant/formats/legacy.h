// The 32-element legacy formats: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 (spec §11.1).
#pragma once
#include <cmath>
#include <cstdint>

#include "kquant/blocks.h"
#include "kquant/numeric.h"
#include "kquant/search/qkx.h"
#include "kquant/search/qx.h"
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

// Signed value of the first element with the largest |x| (strict >): the scale source of Q4_0/Q5_0.
KQ_HD float signed_absmax(const float* x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; ++j) {
        if (amax < kq_fabs(x[j])) {
            amax = kq_fabs(x[j]);
            max = x[j];
        }
    }
    return max;
}

// Block minimum and maximum of Q4_1/Q5_1: start at +-FLT_MAX, strict updates.
struct MinMax {
    float min;
    float max;
};
KQ_HD MinMax block_min_max(const float* x) {
    MinMax r{3.40282347e+38f, -3.40282347e+38f};
    for (int j = 0; j < 32; ++j) {
        if (x[j] < r.min) r.min = x[j];
        if (x[j] > r.max) r.max = x[j];
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

// Reference codes of the symmetric types: d = max/(-2^(bits-1)), q = min(qmax, trunc(x*id + offset)),
// id from the float d (0 when d == 0). Returns d.
KQ_HD float symmetric_codes(const float* x, float div, float offset, int qmax, uint8_t* L) {
    const float d = signed_absmax(x) / div;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; ++j) {
        const int8_t q = trunc_to_i8(x[j] * id + offset);
        L[j] = static_cast<uint8_t>(q < qmax ? q : qmax);
    }
    return d;
}

// Reference codes of the min/scale types: d = (max-min)/nmax, q = trunc((x-min)*id + 0.5), clamped to
// 15 for Q4_1 and unclamped for Q5_1 (as the reference). Returns d and the float min.
struct Affine {
    float d;
    float min;
};
KQ_HD Affine affine_codes(const float* x, int nmax, uint8_t* L) {
    const MinMax mm = block_min_max(x);
    const float d = (mm.max - mm.min) / static_cast<float>(nmax);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; ++j) {
        const float v = (x[j] - mm.min) * id + 0.5f;
        if (nmax == 15) {
            const int8_t q = trunc_to_i8(v);
            L[j] = static_cast<uint8_t>(q < 15 ? q : 15);
        } else {
            L[j] = trunc_to_u8(v);
        }
    }
    return Affine{d, mm.min};
}

// Imatrix weights of one block: qw*sqrt(sigma2 + x^2), sigma2 the row-wide mean of x^2 (codec.h).
KQ_HD void imatrix_weights(const float* x, const float* qw, float row_sigma2, float* w) {
    for (int j = 0; j < 32; ++j) w[j] = qw[j] * sqrtf(row_sigma2 + x[j] * x[j]);
}

// Imatrix path of Q4_0/Q5_0: the symmetric search with nmax = 2^(bits-1); its float scale is stored as is
// (no requantisation with the fp16 value) and the codes are l + nmax. Returns the scale.
KQ_HD float weighted_symmetric_codes(const float* x, const float* qw, float row_sigma2, int nmax, uint8_t* L) {
    float w[32];
    imatrix_weights(x, qw, row_sigma2, w);
    return search::make_qx(32, nmax, x, w, L);
}

// Imatrix path of Q4_1/Q5_1: the min/scale search (make_qkx3_quants, rmin -0.9, rdelta 0.05, 36 steps,
// squared error). Returns the scale and the_min (dequantization is d*L - the_min).
KQ_HD search::QkxFit weighted_affine_codes(const float* x, const float* qw, float row_sigma2, int nmax,
                                           uint8_t* L) {
    float w[32];
    imatrix_weights(x, qw, row_sigma2, w);
    return search::make_qkx(search::qkx3_params(nmax, -0.9f, 0.05f, 36, false), 32, x, w, L);
}

}  // namespace kquant::legacy

namespace kquant::codec {

// Q8_0: d = amax/127, q = roundf(x/d) (ties away from zero). Importance weights are ignored, as in ggml.
struct Q8_0 {
    using Block = block_q8_0;
    static constexpr Type type = Type::Q8_0;
    static constexpr int kBlockElems = QK8_0;
    static constexpr bool kRowSigma2 = false;

    KQ_HD static void quantize(const float* x, Block* y) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; ++j) amax = kq_max(amax, kq_fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y->d = fp32_to_fp16(d);
        // x*id is +-inf when d is subnormal and 1/d overflows: the x86 cast gives 0 there, CUDA's saturates.
        for (int j = 0; j < QK8_0; ++j) y->qs[j] = legacy::trunc_to_i8(roundf(x[j] * id));
    }
    KQ_HD static void quantize_weighted(const float* x, const float*, float, Block* y) { quantize(x, y); }
    KQ_HD static void dequantize(const Block* b, float* y) {
        const float d = fp16_to_fp32(b->d);
        for (int j = 0; j < QK8_0; ++j) y[j] = static_cast<float>(b->qs[j]) * d;
    }
};

// Q4_0: d = max/-8, codes trunc(x/d + 8.5) capped at 15 (round half up). A zero block stores d = -0.0.
struct Q4_0 {
    using Block = block_q4_0;
    static constexpr Type type = Type::Q4_0;
    static constexpr int kBlockElems = QK4_0;
    static constexpr bool kRowSigma2 = true;

    KQ_HD static void quantize(const float* x, Block* y) {
        uint8_t L[QK4_0];
        y->d = fp32_to_fp16(legacy::symmetric_codes(x, -8.0f, 8.5f, 15, L));
        legacy::pack_q4(L, y->qs);
    }
    KQ_HD static void quantize_weighted(const float* x, const float* qw, float row_sigma2, Block* y) {
        uint8_t L[QK4_0];
        y->d = fp32_to_fp16(legacy::weighted_symmetric_codes(x, qw, row_sigma2, 8, L));
        legacy::pack_q4(L, y->qs);
    }
    KQ_HD static void dequantize(const Block* b, float* y) {
        const float d = fp16_to_fp32(b->d);
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>((b->qs[j] & 0x0F) - 8) * d;
            y[j + 16] = static_cast<float>((b->qs[j] >> 4) - 8) * d;
        }
    }
};

// Q4_1: d = (max-min)/15, m = min, codes trunc((x-min)/d + 0.5) capped at 15.
struct Q4_1 {
    using Block = block_q4_1;
    static constexpr Type type = Type::Q4_1;
    static constexpr int kBlockElems = QK4_1;
    static constexpr bool kRowSigma2 = true;

    KQ_HD static void quantize(const float* x, Block* y) {
        uint8_t L[QK4_1];
        const legacy::Affine a = legacy::affine_codes(x, 15, L);
        y->d = fp32_to_fp16(a.d);
        y->m = fp32_to_fp16(a.min);
        legacy::pack_q4(L, y->qs);
    }
    KQ_HD static void quantize_weighted(const float* x, const float* qw, float row_sigma2, Block* y) {
        uint8_t L[QK4_1];
        const search::QkxFit f = legacy::weighted_affine_codes(x, qw, row_sigma2, 15, L);
        y->d = fp32_to_fp16(f.scale);
        y->m = fp32_to_fp16(-f.min);
        legacy::pack_q4(L, y->qs);
    }
    KQ_HD static void dequantize(const Block* b, float* y) {
        const float d = fp16_to_fp32(b->d);
        const float m = fp16_to_fp32(b->m);
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>(b->qs[j] & 0x0F) * d + m;
            y[j + 16] = static_cast<float>(b->qs[j] >> 4) * d + m;
        }
    }
};

// Q5_0: d = max/-16, codes trunc(x/d + 16.5) capped at 31. A zero block stores d = -0.0, qh all ones.
struct Q5_0 {
    using Block = block_q5_0;
    static constexpr Type type = Type::Q5_0;
    static constexpr int kBlockElems = QK5_0;
    static constexpr bool kRowSigma2 = true;

    KQ_HD static void quantize(const float* x, Block* y) {
        uint8_t L[QK5_0];
        y->d = fp32_to_fp16(legacy::symmetric_codes(x, -16.0f, 16.5f, 31, L));
        legacy::pack_q5(L, y->qs, y->qh);
    }
    KQ_HD static void quantize_weighted(const float* x, const float* qw, float row_sigma2, Block* y) {
        uint8_t L[QK5_0];
        y->d = fp32_to_fp16(legacy::weighted_symmetric_codes(x, qw, row_sigma2, 16, L));
        legacy::pack_q5(L, y->qs, y->qh);
    }
    KQ_HD static void dequantize(const Block* b, float* y) {
        const float d = fp16_to_fp32(b->d);
        const uint32_t qh = legacy::load_qh(b->qh);
        for (int j = 0; j < 16; ++j) {
            const int lo = static_cast<int>((b->qs[j] & 0x0F) | (((qh >> j) & 1u) << 4));
            const int hi = static_cast<int>((b->qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4));
            y[j] = static_cast<float>(lo - 16) * d;
            y[j + 16] = static_cast<float>(hi - 16) * d;
        }
    }
};

// Q5_1: d = (max-min)/31, m = min, codes trunc((x-min)/d + 0.5) with no cap.
struct Q5_1 {
    using Block = block_q5_1;
    static constexpr Type type = Type::Q5_1;
    static constexpr int kBlockElems = QK5_1;
    static constexpr bool kRowSigma2 = true;

    KQ_HD static void quantize(const float* x, Block* y) {
        uint8_t L[QK5_1];
        const legacy::Affine a = legacy::affine_codes(x, 31, L);
        y->d = fp32_to_fp16(a.d);
        y->m = fp32_to_fp16(a.min);
        legacy::pack_q5(L, y->qs, y->qh);
    }
    KQ_HD static void quantize_weighted(const float* x, const float* qw, float row_sigma2, Block* y) {
        uint8_t L[QK5_1];
        const search::QkxFit f = legacy::weighted_affine_codes(x, qw, row_sigma2, 31, L);
        y->d = fp32_to_fp16(f.scale);
        y->m = fp32_to_fp16(-f.min);
        legacy::pack_q5(L, y->qs, y->qh);
    }
    KQ_HD static void dequantize(const Block* b, float* y) {
        const float d = fp16_to_fp32(b->d);
        const float m = fp16_to_fp32(b->m);
        const uint32_t qh = legacy::load_qh(b->qh);
        for (int j = 0; j < 16; ++j) {
            const uint32_t lo = (b->qs[j] & 0x0Fu) | (((qh >> j) & 1u) << 4);
            const uint32_t hi = (b->qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4);
            y[j] = static_cast<float>(lo) * d + m;
            y[j + 16] = static_cast<float>(hi) * d + m;
        }
    }
};

}  // namespace kquant::codec
