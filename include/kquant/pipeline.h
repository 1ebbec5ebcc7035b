// The tensor pipeline: from an input GGUF and a per-tensor plan to a complete output file.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kquant/defaults.h"
#include "kquant/gguf.h"
#include "kquant/job.h"
#include "kquant/model.h"
#include "kquant/quantize.h"

namespace kquant {

enum class TensorAction {
    Copy,      // bytes copied unchanged (target type == source type, or not eligible)
    Convert,   // to F32/F16/BF16
    Quantize,  // to a block-quantized type
};

struct PlannedTensor {
    const gguf::TensorInfo* src = nullptr;  // the input tensor (an element of gguf::Model::tensors())
    size_t input = 0;                       // its index there: which shard holds its bytes
    std::string name;                       // the output name (differs from src->name after --prune-layers)
    Type dst = Type::F32;
    TensorAction action = TensorAction::Copy;
    const float* qw = nullptr;  // importance weights: ne0 * ne2 floats (one slice per expert), or null
};

// One output file: its KVs and its tensors in file order.
struct OutputFile {
    std::string path;
    std::vector<gguf::KV> kvs;
    std::vector<PlannedTensor> tensors;
};

enum class DeviceKind { Cpu, Cuda };

// What an accelerator run reports: its name for PipelineStats::backend and its stage times.
struct AcceleratorStats {
    std::string backend;  // "cuda (NVIDIA H100 ...)"
    double read_s = 0, h2d_s = 0, kernel_s = 0, d2h_s = 0, write_s = 0;
};

// An accelerator backend: quantizes the jobs, giving every output byte to `write` exactly once, and
// throws kquant::Error on failure (the pipeline decides whether the CPU may take over).
using AcceleratorFn =
    std::function<AcceleratorStats(const std::vector<QuantJob>& jobs, const WriteFn& write, const ProgressFn& progress)>;

struct PipelineOptions {
    DeviceKind device = DeviceKind::Cpu;
    int threads = 0;                      // CPU threads; <= 0: all cores
    CpuIsa cpu_isa = CpuIsa::Scalar;      // CPU codecs' instruction set (same bytes on every level; the
                                          // CLI picks best_cpu_isa()); one this CPU lacks is an error
    std::vector<int> gpus{0};
    size_t gpu_chunk_bytes = defaults::kGpuChunkMiB << 20;  // per stream staging / device buffer
    int gpu_streams = defaults::kGpuStreams;
    int io_threads = defaults::kIoThreads;
    bool progress = false;                // progress line on stderr
    bool fsync = false;                   // --fsync: make the output durable before renaming it
    bool allow_cpu_fallback = false;      // --device auto: a GPU failure before any quantized byte was
                                          // written reruns the jobs on the CPU (and says so)
    AcceleratorFn accelerator;            // DeviceKind::Cuda runs this instead of the CUDA backend when set
                                          // (how the tests make a GPU fail, with or without a GPU)
    // Called once every output is complete (and flushed, with fsync), before any is named, with a path
    // that reads each output, in order. An exception from it leaves nothing behind: how --verify and
    // --report check the result before it appears.
    std::function<void(const std::vector<std::string>& readable_paths)> before_publish;
};

struct PipelineStats {
    size_t tensors = 0, quantized = 0;
    uint64_t bytes_in = 0;    // source bytes read (each source tensor once, however many outputs use it)
    uint64_t bytes_out = 0;   // output file sizes, summed
    std::vector<uint64_t> output_bytes;  // each output file's size, in the order of the outputs
    double seconds = 0.0;     // wall time of the data phase
    std::string backend;      // "cpu (scalar, 16 threads)", "cuda (NVIDIA H100 ...)"
    // GPU path only: busy seconds of each stage, summed over streams (they overlap).
    double read_s = 0, h2d_s = 0, kernel_s = 0, d2h_s = 0, write_s = 0;
};

// Writes the output files (several for --keep-split) from the model's tensors. Each file is written to a
// temporary file next to its path; all of them are completed before the first is renamed into place,
// and on any error nothing is left behind (files renamed before a failing rename are removed again).
// `log` receives notes such as the CPU fallback (may be null).
PipelineStats run_pipeline(const gguf::Model& in, const std::vector<OutputFile>& outputs,
                           const PipelineOptions& opt, const std::function<void(const std::string&)>& log);

// One output file.
PipelineStats run_pipeline(const gguf::Model& in, const std::vector<gguf::KV>& kvs,
                           const std::vector<PlannedTensor>& plan, const std::string& out_path,
                           const PipelineOptions& opt, const std::function<void(const std::string&)>& log);

// The CPU backend: quantizes jobs with the codecs of instruction set `isa` (cpu_codec) on `threads`
// threads. Jobs with the same source (jobs_by_source) share its reading and conversion. Throws if this
// CPU lacks `isa`.
void run_cpu_jobs(const std::vector<QuantJob>& jobs, int threads, const WriteFn& write, const ProgressFn& progress,
                  CpuIsa isa = CpuIsa::Scalar);

}  // namespace kquant
