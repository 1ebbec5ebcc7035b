// Host/device qualifiers for the one block-math layer that both the CPU and the CUDA paths compile.
#pragma once

#if defined(__CUDACC__)
#define KQ_HD __host__ __device__ __forceinline__
#else
#define KQ_HD inline
#endif

// Numeric contract (bit-exactness with ggml's reference quantizers): every float expression in the
// block-math headers is evaluated in IEEE float32, left to right, with no fused multiply-add.
// The build enforces it with -ffp-contract=off (host) and -fmad=false (CUDA); never add -ffast-math.
