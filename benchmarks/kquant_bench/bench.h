// kquant-bench's pieces: the benchmark paths, the runner, and the result writers (table, JSON, CSV,
// gnuplot). The executable's main is benchmarks/kquant_bench.cpp.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "kquant/pipeline.h"

namespace kquant::bench {

// ---- paths: one way of running the pipeline ------------------------------------------------------

struct PathSpec {
    std::string name;        // "scalar", "avx2", "cuda"
    bool available = false;
    std::string reason;      // why not available
    PipelineOptions options; // device and CPU/GPU settings this path runs with
};

struct DeviceSettings {
    int threads = 0;             // CPU threads (<= 0: all cores)
    int gpu = 0;                 // CUDA device
    size_t gpu_chunk_mb = 64;
    int gpu_streams = 3;
};

// The names kquant-bench knows, in display order.
std::vector<std::string> known_paths();
// Resolves a path name (known_paths()) to its options and availability; throws kquant::Error for an
// unknown name.
PathSpec make_path(const std::string& name, const DeviceSettings& d);

// ---- processes -----------------------------------------------------------------------------------

// Runs argv[0] with the arguments, waits, and returns its exit status (128 + signal when killed).
// Throws kquant::Error when it cannot be started.
int run_process(const std::vector<std::string>& argv);
// An executable called `name` next to this program, else on PATH; "" when there is none.
std::string find_tool(const std::string& name);

// ---- results -------------------------------------------------------------------------------------

struct Cell {  // one type x path
    std::string type;    // as the user wrote it ("q4_k")
    std::string preset;  // the preset it names ("Q4_K_M")
    std::string path;
    bool available = false;
    std::string reason;  // unavailable, or the error a run failed with
    bool failed = false;
    std::string backend;  // PipelineStats::backend
    std::vector<double> runs_s;  // timed runs, wall seconds, in run order
    double median_s = 0, min_s = 0, max_s = 0;
    double source_gb_per_s = 0;   // bytes_in / median / 1e9
    double weights_per_s = 0;     // model weights / median
    double speedup_vs_scalar = 0; // scalar median / this median; 0 when there is no scalar result
    uint64_t bytes_in = 0, bytes_out = 0;
    bool has_stages = false;      // GPU path: the medians of the stage busy times
    double read_s = 0, h2d_s = 0, kernel_s = 0, d2h_s = 0, write_s = 0;
    bool ok() const { return available && !failed && !runs_s.empty(); }
};

struct TypeCheck {
    std::string type;
    std::vector<std::string> paths;  // the paths whose outputs were compared (the first is the reference)
    bool identical = true;           // all byte-identical (trivially true for fewer than 2 paths)
    std::string detail;              // the first difference, when not identical
};

struct ModelDesc {
    std::string path;
    std::string synth;   // synthetic preset ("" for --model)
    uint64_t file_bytes = 0;
    size_t tensors = 0;
    int64_t weights = 0; // elements of all tensors
};

struct Results {
    ModelDesc model;
    std::vector<std::string> types, paths;
    int repeats = 0;
    bool warmup = true;
    int threads = 0;          // as requested (0: all cores)
    unsigned host_cores = 0;
    std::vector<Cell> cells;  // type-major, paths in the requested order
    std::vector<TypeCheck> checks;
    bool ok() const;          // no path failed and every check is identical
};

// ---- the runner ----------------------------------------------------------------------------------

struct RunSettings {
    std::string model;  // input GGUF
    std::vector<std::string> types;
    std::vector<PathSpec> paths;
    int repeats = 3;
    bool warmup = true;
    bool quiet = false;
    bool keep_outputs = false;
    std::string workdir;  // outputs go here
};

// Quantizes the model once per (type, path, repeat), paths alternating within each repeat, and compares
// the outputs of the paths of each type. Planning errors (an unknown or unsupported type) are thrown
// before anything runs.
Results run_benchmark(const RunSettings& s, const DeviceSettings& d, ModelDesc model);

// ---- output --------------------------------------------------------------------------------------

double median(std::vector<double> v);
void print_table(const Results& r, std::FILE* out);
std::string to_json(const Results& r);
std::string to_csv(const Results& r);
// Draws source GB/s per type and path with gnuplot into png; the data and script files go to `scratch`.
// Throws kquant::Error when gnuplot is missing or fails.
void plot(const Results& r, const std::string& png, const std::string& scratch);

}  // namespace kquant::bench
