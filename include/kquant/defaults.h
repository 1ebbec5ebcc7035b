// The GPU pipeline's defaults, in one place (the CLI, PipelineOptions and the CUDA backend's options all
// start from these). Chosen by measurement: benchmarks/RESULTS.md.
#pragma once
#include <cstddef>

namespace kquant::defaults {

inline constexpr size_t kGpuChunkMiB = 64;  // device memory per stream (64 MiB measured fastest)
inline constexpr int kGpuStreams = 3;       // chunks in flight per device
inline constexpr int kIoThreads = 8;        // host threads reading the mapping and writing the output

}  // namespace kquant::defaults
