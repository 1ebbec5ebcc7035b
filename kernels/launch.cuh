// What every kernel family receives, and the per-family launchers that quantize_device dispatches to.
#pragma once
#include <cstdint>

#include <cuda_runtime_api.h>

#include "grids.cuh"
#include "kquant/cuda_backend.h"
#include "kquant/types.h"

namespace kquant::cuda::detail {

struct Launch {
    Type dst = Type::Q8_0;
    Type src = Type::F32;
    const void* d_src = nullptr;
    void* d_dst = nullptr;
    int64_t nrows = 0, n_per_row = 0;
    int64_t rows_per_slice = 1, first_row = 0;
    const float* d_qw = nullptr;                // null: ggml's plain path
    const float* d_row_sigma2 = nullptr;        // per-row sigma2 for codecs with kRowSigma2 (weighted only)
    unsigned long long* d_first_bad = nullptr;  // atomicMin of the first non-finite source element
    DeviceGrids grids;                          // the device grid of a grid codec (codec.h)
    cudaStream_t stream = nullptr;

    int64_t nblocks(int64_t block_elems) const { return nrows * (n_per_row / block_elems); }
    // This block's weights (block g counted from the first row), or null.
    __host__ __device__ const float* block_qw(int64_t row, int64_t col) const {
        if (d_qw == nullptr) return nullptr;
        return d_qw + ((first_row + row) / rows_per_slice) * n_per_row + col;
    }
};

// The quantization blocks one CTA handles: `count` blocks from block `first` (counted over all rows of
// the launch), at most per_cta; per_row = blocks in one row.
struct CtaBlocks {
    int64_t per_row, first;
    int count;
};
#if defined(__CUDACC__)
__device__ inline CtaBlocks cta_blocks(const Launch& l, int64_t block_elems, int per_cta) {
    const int64_t per_row = l.n_per_row / block_elems;
    const int64_t total = l.nrows * per_row;
    const int64_t first = static_cast<int64_t>(blockIdx.x) * per_cta;
    return CtaBlocks{per_row, first, static_cast<int>(total - first < per_cta ? total - first : per_cta)};
}
#endif

// Each launcher returns false when its family has no kernel for (dst, src); launch errors throw.
bool launch_generic(const Launch& l);
bool launch_subblock(const Launch& l);
bool launch_warp(const Launch& l);
bool launch_tiled(const Launch& l);
// The IQ4 table-search warp kernels (iq4_warp.cu), reached through launch_warp.
bool launch_iq4_warp(const Launch& l);
// True when the family implements the type (for variants_for).
bool generic_supports(Type t);
bool subblock_supports(Type t);
bool warp_supports(Type t);
bool tiled_supports(Type t);
// Whether the type's weighted path needs a per-row sigma2.
bool needs_row_sigma2(Type t);
// Fills d_out[r] = sum of x^2 over row r in index order / n_per_row (the legacy imatrix sigma2).
void launch_row_sigma2(const Launch& l, float* d_out);

}  // namespace kquant::cuda::detail
