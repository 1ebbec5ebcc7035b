// A unit of work for a quantization backend (CPU or CUDA): one tensor, from its mapped source bytes to
// its place in the output file.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kquant/types.h"

namespace kquant {

struct QuantJob {
    std::string name;              // tensor name, for progress and errors
    std::string file;              // the file its source bytes are in, for errors
    Type src_type;                 // F32, F16 or BF16
    const void* src;               // nrows * n_per_row source elements (memory-mapped)
    int64_t n_per_row;             // ne0; a multiple of the target's block size
    int64_t nrows;                 // ne1 * ne2 * ne3
    int64_t rows_per_slice;        // ne1: the importance weights change every rows_per_slice rows (experts)
    Type dst_type;                 // block-quantized target
    const float* qw = nullptr;     // n_per_row weights per slice (nrows / rows_per_slice slices), or null
};

// Receives quantized bytes: (job index, byte offset inside the tensor, data, size). Must be thread-safe.
using WriteFn = std::function<void(size_t job, uint64_t offset, const void* data, size_t n)>;

// Called after each finished job (job index, bytes of source consumed); for progress display.
using ProgressFn = std::function<void(size_t job, uint64_t src_bytes)>;

// The jobs grouped by their source tensor (same bytes, type and shape), in order of first appearance:
// what a backend (CPU or CUDA) reads once for several output types.
std::vector<std::vector<size_t>> jobs_by_source(const std::vector<QuantJob>& jobs);

}  // namespace kquant
