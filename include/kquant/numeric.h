// Scalar numerics that decide the bytes: rounding helpers and fp16/bf16 conversions, exactly as
// ggml's reference quantizers use them. Shared by the CPU and CUDA paths.
#pragma once
#include <cstdint>
#include <cstring>

#include "kquant/hd.h"

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#endif

namespace kquant {

KQ_HD uint32_t f32_bits(float f) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
#endif
}

KQ_HD float f32_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    std::memcpy(&f, &u, 4);
    return f;
#endif
}

// ggml's nearest_int: round half to even through the 1.5*2^23 magic number; valid for |v| < 2^22.
// The addition must be a plain float32 add (no contraction can touch it: there is no multiply).
// A NaN argument (from 0*inf in degenerate blocks) gives 0: on x86 the NaN that such an operation makes
// has a zero payload, so ggml gets 0 there; CUDA's canonical NaN would give 4194303 instead.
KQ_HD int nint(float v) {
    const float f = v + 12582912.f;
    const int r = static_cast<int>(f32_bits(f) & 0x007fffff) - 0x00400000;
    return r & -static_cast<int>(v == v);  // NaN -> 0 by a mask, so that loops over nint stay branch-free
                                           // (and compilers vectorize the level computations, as ggml's)
}

KQ_HD float kq_fabs(float v) { return f32_from_bits(f32_bits(v) & 0x7fffffffu); }
KQ_HD float kq_max(float a, float b) { return a > b ? a : b; }
KQ_HD float kq_min(float a, float b) { return a < b ? a : b; }
KQ_HD int kq_clamp(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Largest |x| over n values from 0, strict (NaN never wins): ggml's `if (amax < fabsf(v)) amax = fabsf(v)`
// of MXFP4/NVFP4 and `if (a > amax) amax = a` of Q2_0. (TQ's MAX(amax, |x|) differs: a NaN propagates.)
KQ_HD float abs_max(const float* x, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; ++j)
        if (amax < kq_fabs(x[j])) amax = kq_fabs(x[j]);
    return amax;
}

// IEEE binary16 from float32, round to nearest even, subnormals exact, overflow to inf,
// NaN -> 0x7E00 with the sign kept (as ggml's software conversion).
KQ_HD uint16_t fp32_to_fp16(float f) {
    const uint32_t x = f32_bits(f);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t absx = x & 0x7fffffffu;
    if (absx > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
    if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u); // >= 65520 rounds to inf
    if (absx >= 0x38800000u) {                                             // normal half
        const uint32_t mant = absx & 0x007fffffu;
        const uint32_t exp = (absx >> 23) - 127 + 15;
        uint32_t h = (exp << 10) | (mant >> 13);
        const uint32_t rem = mant & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h += 1;  // may carry into the exponent: correct
        return static_cast<uint16_t>(sign | h);
    }
    if (absx < 0x33000000u) return static_cast<uint16_t>(sign);  // below half the smallest subnormal
    // subnormal half: value = m * 2^-24
    const uint32_t e = absx >> 23;               // biased float exponent, 102..112
    const uint32_t m = (absx & 0x007fffffu) | 0x00800000u;
    const uint32_t shift = 126 - e;              // 14..24
    uint32_t h = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) h += 1;
    return static_cast<uint16_t>(sign | h);
}

KQ_HD float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t mant = h & 0x3ffu;
    if (exp == 0x1fu) return f32_from_bits(sign | 0x7f800000u | (mant << 13));
    if (exp != 0) return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
    if (mant == 0) return f32_from_bits(sign);
    // subnormal: exact as float
    const float v = static_cast<float>(mant) * 5.9604644775390625e-08f;  // 2^-24, exact product
    return sign ? -v : v;
}

// ggml's bf16: NaN keeps its payload's top bits and is made quiet; otherwise round to nearest even.
KQ_HD uint16_t fp32_to_bf16(float f) {
    const uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 64u);
    return static_cast<uint16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

KQ_HD float bf16_to_fp32(uint16_t h) { return f32_from_bits(static_cast<uint32_t>(h) << 16); }

KQ_HD bool is_finite_f32(float f) { return (f32_bits(f) & 0x7f800000u) != 0x7f800000u; }

}  // namespace kquant
