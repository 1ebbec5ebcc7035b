// The CUDA backend: device probing, the streaming job runner, and the device-memory entry point that the
// tests and the kernel benchmark call. Built only when KQUANT_HAVE_CUDA; the CLI includes it under
// `#if KQUANT_HAVE_CUDA`.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "kquant/job.h"
#include "kquant/defaults.h"
#include "kquant/types.h"

namespace kquant::cuda {

struct DeviceStatus {
    int count = 0;                   // usable CUDA devices (0 when the runtime or driver reports an error)
    std::string reason;              // why count is 0: cudaGetErrorString of the failing call
    std::vector<std::string> names;  // one per device, e.g. "NVIDIA H100 80GB HBM3"
};

// Never throws.
DeviceStatus probe();

// Which kernel quantizes a type. All variants of a type produce the same bytes (ggml's); they differ
// only in how the work is spread over threads.
enum class Variant {
    Default,   // the fastest measured variant of the type and path (kernels/variants.cu)
    Generic,   // one thread per block, the codec's whole quantize call: the correctness baseline
    SubBlock,  // k-quants, IQ4_XS: one thread per sub-block search, the block combined with shuffles
    Warp,      // min/scale searches, IQ4: one warp per block, search candidates evaluated by lanes
    Tiled,     // k-quants: a CTA runs each phase over 32 super-blocks (block phases one thread each)
};

const char* variant_name(Variant v);
// The variants implemented for a target type (Generic first); empty if the GPU cannot quantize it.
std::vector<Variant> variants_for(Type t);
// The variant that Variant::Default selects for a target type, for the plain or the imatrix path.
Variant default_variant(Type t, bool imatrix);

struct Options {
    std::vector<int> devices{0};
    size_t chunk_bytes = defaults::kGpuChunkMiB << 20;  // device memory per stream (source + quantized rows)
    int streams = defaults::kGpuStreams;                // chunks in flight per device
    int io_threads = defaults::kIoThreads;              // host threads copying the mapping into pinned memory
    Variant variant = Variant::Default;
};

// Busy time of each stage, summed over all streams and devices (the stages overlap, so the sum of the
// stages exceeds wall_s when the pipeline works).
struct Stats {
    double read_s = 0, h2d_s = 0, kernel_s = 0, d2h_s = 0, write_s = 0;
    double wall_s = 0;
    double setup_s = 0;  // part of wall_s spent before streaming: device probe, buffer allocation
    uint64_t bytes_in = 0, bytes_out = 0;
    size_t chunks = 0;
    std::vector<std::string> devices;  // names of the devices used
};

// Quantizes the jobs on the GPU(s). Source types F32, F16 and BF16 are converted on the device; other
// readable source types are dequantized on the host by the io threads. `write` receives every output
// byte exactly once (any order, from io threads); `progress` is called once per finished job (calls are
// serialized). Throws kquant::Error naming the tensor on a CUDA error, out of memory, a non-finite input
// ("tensor 'x': non-finite value (NaN or Inf) at row R, column C") or an unsupported type; once an
// error is recorded no slot starts another write, and run() returns only after every thread has stopped.
Stats run(const std::vector<QuantJob>& jobs, const Options& opt, const WriteFn& write,
          const ProgressFn& progress);

// Device-memory entry: quantizes nrows rows (n_per_row source elements each, src_type F32/F16/BF16)
// already on the current device into d_dst, asynchronously on stream s. d_qw (or null) holds
// n_per_row weights per slice; row r (0-based here) uses slice (first_row + r) / rows_per_slice, so a
// chunk starting at tensor row first_row passes the tensor's whole weight array. If d_first_bad is not
// null, it receives atomicMin(index of a non-finite source element, counted from d_src), and must hold
// UINT64_MAX before the call. Throws kquant::Error for an unsupported type/variant or a launch error.
void quantize_device(Type dst, Type src_type, const void* d_src, void* d_dst, int64_t nrows,
                     int64_t n_per_row, int64_t rows_per_slice, const float* d_qw, cudaStream_t s,
                     Variant v = Variant::Default, int64_t first_row = 0,
                     unsigned long long* d_first_bad = nullptr);

}  // namespace kquant::cuda
