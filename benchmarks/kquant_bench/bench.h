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
    int io_threads = 0;          // GPU path's host I/O threads (<= 0: defaults::kIoThreads)
};

// The names kquant-bench knows, in display order.
std::vector<std::string> known_paths();
// Resolves a path name (known_paths()) to its options and availability; throws kquant::Error for an
// unknown name.
PathSpec make_path(const std::string& name, const DeviceSettings& d);

// ---- processes -----------------------------------------------------------------------------------

// Runs argv[0] with the arguments, waits, and returns its exit status (128 + signal when killed).
// discard_stdout: the child's standard output goes to /dev/null. Throws kquant::Error when it cannot be
// started.
int run_process(const std::vector<std::string>& argv, bool discard_stdout = false);
// An executable called `name` next to this program, else on PATH; "" when there is none.
std::string find_tool(const std::string& name);

// ---- the I/O floor (floor.cpp) -------------------------------------------------------------------

// sync, then 3 > /proc/sys/vm/drop_caches; false (with the reason in *why) when not root or it fails.
bool drop_page_cache(std::string* why);
// Seconds for `readers` threads to pread disjoint ranges of the files (taken as one concatenation) in
// 8 MiB blocks.
double floor_read(const std::vector<std::string>& files, int readers);
// Seconds for one thread to read the files in 16 MiB blocks.
double sequential_read(const std::vector<std::string>& files);
// Seconds to create a file in `dir`, reserve `bytes` (fallocate, as host/gguf/writer.cpp), pwrite them
// with `writers` threads in disjoint 8 MiB blocks, and close it (no fsync). The file is removed after
// the timing.
double floor_write(const std::string& dir, uint64_t bytes, int writers);
// Byte-for-byte comparison; *detail says where they differ.
bool files_identical(const std::string& a, const std::string& b, std::string* detail);

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
    // The I/O floor beside the runs (medians over `repeats` measurements before the timed runs).
    bool has_floor = false;
    int floor_readers = 0, floor_writers = 0;
    uint64_t floor_write_bytes = 0;      // the output's size
    double floor_read_s = 0, floor_write_s = 0, floor_s = 0;  // floor_s = max(read, write)
    // The whole process: the kquant-cuda executable with the same options, timed around spawn and wait.
    bool has_process = false;
    std::vector<double> process_runs_s;
    double process_median_s = 0;
    bool process_identical = true;       // its output equals the pipeline's byte for byte
    std::string process_detail;          // the first difference, when not identical
    double pipeline_over_floor() const { return floor_s > 0 ? median_s / floor_s : 0; }
    double process_over_floor() const { return floor_s > 0 && has_process ? process_median_s / floor_s : 0; }
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
    std::string cli_bin;      // the kquant-cuda executable timed as a process ("" when not timed)
    bool cold = false;        // --cold asked
    bool cache_dropped = false;  // --cold and the page cache could be dropped (root)
    std::string cold_note;    // why it could not
    bool has_seq_read = false;   // --cold: one-thread sequential read of the source after a drop
    double seq_read_s = 0, seq_read_gb_per_s = 0;
    std::vector<Cell> cells;  // type-major, paths in the requested order
    std::vector<TypeCheck> checks;
    bool ok() const;          // no path failed, every check is identical, every process output matched
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
    std::string cli_bin;  // kquant-cuda to time as a whole process ("": not timed)
    bool cold = false;    // drop the page cache before every timed run and floor read (root only)
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
