// Source loading for the kernels: F32/F16/BF16 elements are converted to f32 while a CTA stages its
// blocks into shared memory (no f32 copy in device memory), with 16-byte coalesced loads, and any
// non-finite element is reported through an atomicMin on its index so the host never scans.
#pragma once
#include <cstdint>

#include <cuda_fp16.h>

#include "kquant/numeric.h"
#include "kquant/types.h"

namespace kquant::cuda::detail {

struct SrcF32 {
    using T = float;
    static constexpr Type type = Type::F32;
    __device__ static float to_f32(float v) { return v; }
    __device__ static bool finite(float v) { return is_finite_f32(v); }
};
struct SrcF16 {
    using T = uint16_t;
    static constexpr Type type = Type::F16;
    // The hardware conversion is exact (binary16 is a subset of binary32), as is fp16_to_fp32.
    __device__ static float to_f32(uint16_t h) { return __half2float(__ushort_as_half(h)); }
    __device__ static bool finite(uint16_t h) { return (h & 0x7c00u) != 0x7c00u; }
};
struct SrcBF16 {
    using T = uint16_t;
    static constexpr Type type = Type::BF16;
    __device__ static float to_f32(uint16_t h) { return bf16_to_fp32(h); }
    __device__ static bool finite(uint16_t h) { return (h & 0x7f80u) != 0x7f80u; }
};

// Shared-memory index of staged element e: after every SEG floats comes one pad word, so that threads
// reading different segments at the same offset hit different banks.
template <int SEG>
__device__ __forceinline__ int padded(int e) {
    return e + e / SEG;
}

__device__ __forceinline__ void report_bad(unsigned long long* first_bad, int64_t index) {
    if (first_bad != nullptr) atomicMin(first_bad, static_cast<unsigned long long>(index));
}

// Stages n source elements starting at element e0 of src into sm (padded layout), converted to f32.
// Called by all threads of the CTA; the caller synchronizes afterwards. n is a multiple of 16.
template <class Src, int SEG>
__device__ void stage(const typename Src::T* src, int64_t e0, int n, float* sm, unsigned long long* first_bad) {
    using T = typename Src::T;
    constexpr int kVec = 16 / sizeof(T);
    const T* p = src + e0;
    if ((reinterpret_cast<uintptr_t>(p) & 15u) == 0) {
        const int nvec = n / kVec;
        for (int v = threadIdx.x; v < nvec; v += blockDim.x) {
            union {
                uint4 u;
                T e[kVec];
            } buf;
            buf.u = __ldg(reinterpret_cast<const uint4*>(p) + v);
#pragma unroll
            for (int k = 0; k < kVec; ++k) {
                const int e = v * kVec + k;
                if (!Src::finite(buf.e[k])) report_bad(first_bad, e0 + e);
                sm[padded<SEG>(e)] = Src::to_f32(buf.e[k]);
            }
        }
    } else {
        for (int e = threadIdx.x; e < n; e += blockDim.x) {
            const T raw = p[e];
            if (!Src::finite(raw)) report_bad(first_bad, e0 + e);
            sm[padded<SEG>(e)] = Src::to_f32(raw);
        }
    }
}

// Copies n bytes from shared memory to global memory, 16 bytes at a time where both are aligned.
__device__ inline void store_bytes(const uint8_t* sm, uint8_t* dst, int n) {
    int done = 0;
    if ((reinterpret_cast<uintptr_t>(dst) & 15u) == 0 && (reinterpret_cast<uintptr_t>(sm) & 15u) == 0) {
        const int nvec = n / 16;
        for (int v = threadIdx.x; v < nvec; v += blockDim.x)
            reinterpret_cast<uint4*>(dst)[v] = reinterpret_cast<const uint4*>(sm)[v];
        done = nvec * 16;
    }
    for (int i = done + threadIdx.x; i < n; i += blockDim.x) dst[i] = sm[i];
}

// Runs f.template operator()<Src>() for a device-convertible source type; false for any other type.
template <class F>
bool visit_source(Type t, F&& f) {
    switch (t) {
        case Type::F32: f.template operator()<SrcF32>(); return true;
        case Type::F16: f.template operator()<SrcF16>(); return true;
        case Type::BF16: f.template operator()<SrcBF16>(); return true;
        default: return false;
    }
}

}  // namespace kquant::cuda::detail
