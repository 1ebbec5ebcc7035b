// kquant-bench: reproducible end-to-end benchmarks. Quantizes one model (a file, or a synthetic one
// from kquant-synth) to each requested type on each path (scalar CPU, CUDA), reports times and
// throughput, and checks that every path wrote the same bytes.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "kquant/error.h"
#include "kquant/presets.h"
#include "kquant_bench/bench.h"
#include "report/json.h"

namespace {

using namespace kquant;
using namespace kquant::bench;
namespace fs = std::filesystem;

constexpr const char* kFooter = R"(
Timing: a run's wall time is the whole run_pipeline call: reading the source through its memory
mapping, quantizing, and writing the output (space reserved, written, renamed; no fsync, as kquant-cuda by default), into the
work directory. Planning is not timed. The first run on a model that is not in the page cache reads it
from disk; later runs read it from RAM. --warmup (the default) runs each path once, untimed, before the
timed runs, so every timed run reads a cached source; with --no-warmup the first timed run includes
the disk read (drop the cache first - as root: sync; echo 3 > /proc/sys/vm/drop_caches - to measure a
cold read, or use --cold). A --synth model has just been written, so it starts in the page cache.

I/O floor: before each type and path's timed runs, kquant-bench reads the source with the pipeline's reader
count (CPU paths: --threads; cuda: --io-threads) - each thread preads a disjoint range in 8 MiB blocks - and
writes the output's size with the same writer count into a fresh file in the work directory (fallocate,
then pwrite of 8 MiB blocks in disjoint ranges, no fsync, as kquant-cuda), then removes it; --repeats times,
medians. floor = max(read, write); the report gives pipeline/floor and process/floor.
Process: each timed run is followed by the same quantization by the kquant-cuda executable (--cli-bin;
same --device, --cpu-isa, --threads, -q), timed from spawn to exit, as a user runs it; its output must be
byte-identical to the pipeline's. --no-process skips it.
--cold: before every timed run and floor read, sync and drop the page cache (needs root; otherwise it says
so once and the results are warm), and first time a plain one-thread sequential read of the source (16 MiB
reads) after a drop: the yardstick for cold runs.

Paths: scalar (the CPU reference codecs on --threads threads), avx2 and avx512 (the same with that
instruction set's codecs; reported as unavailable, with the reason, on a CPU without it), cuda (when this
build has CUDA and a device is present; otherwise reported as unavailable, with the reason).

Exit status: 0 when every available path ran and all paths (and the kquant-cuda processes) wrote
byte-identical files; 1 otherwise.)";

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    for (const char c : s + ",") {
        if (c == ',') {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else if (c != ' ') {
            cur += c;
        }
    }
    return out;
}

// Files and the directory this run created, removed on every exit path unless --keep.
struct Scratch {
    fs::path dir;
    bool created_dir = false;
    bool keep = false;
    std::vector<fs::path> files;
    ~Scratch() {
        if (keep || dir.empty()) return;
        std::error_code ec;
        for (const fs::path& f : files) fs::remove(f, ec);
        if (created_dir) fs::remove_all(dir, ec);
    }
};

fs::path make_workdir(const std::string& requested, const std::vector<std::string>& outputs, Scratch& scratch) {
    if (!requested.empty()) {
        std::error_code ec;
        scratch.created_dir = fs::create_directories(requested, ec);
        if (ec) throw Error("--workdir " + requested + ": " + ec.message());
        return requested;
    }
    // Next to the first report file (a place the user chose to write to), else in the current directory.
    fs::path base = ".";
    for (const std::string& o : outputs)
        if (!o.empty()) {
            base = fs::absolute(o).parent_path();
            break;
        }
    std::string tmpl = (base / ".kquant-bench-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw Error("cannot create a work directory in " + base.string());
    scratch.created_dir = true;
    return tmpl;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"kquant-bench: time kquant-cuda's quantization of one model per type and path, and check that "
                 "all paths write identical bytes"};
    app.footer(kFooter);
    app.option_defaults()->always_capture_default();
    std::string model, synth, synth_dtype = "f16", synth_bin, types = "q8_0,q4_k_m,q6_k", paths = "scalar,cuda";
    std::string workdir, json_path, csv_path, plot_path, cli_bin;
    uint64_t seed = 42;
    int repeats = 3;
    bool warmup = true, keep = false, quiet = false, cold = false, no_process = false;
    DeviceSettings dev;
    auto* model_opt = app.add_option("--model,model", model, "Input GGUF (F32/F16/BF16 weights); also as the one positional argument")->check(CLI::ExistingFile);
    auto* synth_opt = app.add_option("--synth", synth, "Generate a synthetic model with kquant-synth: tiny, small, 1b, "
                                                       "8b, 70b-slice")
                          ->check(CLI::IsMember({"tiny", "small", "1b", "8b", "70b-slice"}));
    model_opt->excludes(synth_opt);
    app.add_option("--synth-dtype", synth_dtype, "Synthetic weights' type: f16, bf16, f32")
        ->check(CLI::IsMember({"f16", "bf16", "f32"}));
    app.add_option("--seed", seed, "Synthetic model's seed");
    app.add_option("--synth-bin", synth_bin, "kquant-synth executable (default: next to kquant-bench, else on PATH)");
    app.add_option("--cli-bin", cli_bin, "kquant-cuda executable timed as a whole process (default: next to "
                                         "kquant-bench, else on PATH)");
    app.add_flag("--no-process", no_process, "Do not time the kquant-cuda executable (the pipeline alone)");
    app.add_flag("--cold", cold, "Drop the page cache (as root) before every timed run and floor read, and time a "
                                 "plain sequential read of the source after a drop");
    app.add_option("--types", types,
                   "Comma-separated presets (llama-quantize names, case-insensitive); NAME-pure runs the preset with --pure");
    app.add_option("--paths", paths, "Comma-separated paths: scalar, avx2, avx512, cuda");
    app.add_option("--repeats", repeats, "Timed runs per type and path (paths alternate within a repeat)")
        ->check(CLI::Range(1, 1000));
    app.add_option("--threads", dev.threads, "CPU threads for the scalar path and kquant-synth (default: all cores)")
        ->check(CLI::NonNegativeNumber);
    app.add_flag("--warmup,!--no-warmup", warmup, "One untimed run per type and path first (default: on)");
    app.add_option("--workdir", workdir,
                   "Directory for the model and outputs (default: a new temporary directory next to the --json, "
                   "--csv or --plot file, else in the current directory; removed afterwards)");
    app.add_flag("--keep", keep, "Keep the work directory's files (the last output of every path, the model)");
    app.add_option("--json", json_path, "Write the results as JSON");
    app.add_option("--csv", csv_path, "Write the results as CSV (one row per type and path)");
    app.add_option("--plot", plot_path, "Draw source GB/s per type and path into a PNG (needs gnuplot)");
    app.add_option("--gpu", dev.gpu, "CUDA device for the cuda path")->check(CLI::NonNegativeNumber);
    app.add_option("--chunk-mb", dev.gpu_chunk_mb, "cuda path: MiB of device memory per stream")
        ->check(CLI::PositiveNumber);
    app.add_option("--streams", dev.gpu_streams, "cuda path: chunks in flight")->check(CLI::Range(1, 16));
    app.add_option("--io-threads", dev.io_threads, "cuda path: host threads reading and writing (0: kquant-cuda's "
                                                  "default); also the floor's reader and writer count there")
        ->check(CLI::Range(0, 64));
    app.add_flag("-q,--quiet", quiet, "No per-run lines or progress display; only the table");
    CLI11_PARSE(app, argc, argv);

    try {
        if (model.empty() && synth.empty()) throw Error("give --model FILE or --synth PRESET");
        RunSettings rs;
        rs.types = split_list(types);
        if (rs.types.empty()) throw Error("--types is empty");
        for (const std::string& t : rs.types) {  // the model-independent checks, before any work
            try {
                const bool pure = t.size() > 5 && t.ends_with("-pure");
                require_supported(parse_preset(pure ? t.substr(0, t.size() - 5) : t));
            } catch (const Error& e) {
                throw Error("--types " + t + ": " + e.what());
            }
        }
        for (const std::string& p : split_list(paths)) rs.paths.push_back(make_path(p, dev));
        if (rs.paths.empty()) throw Error("--paths is empty");
        rs.repeats = repeats;
        rs.warmup = warmup;
        rs.quiet = quiet;
        rs.keep_outputs = keep;
        // Before any work: a missing plotter should not cost a whole benchmark.
        if (!plot_path.empty() && find_tool("gnuplot").empty())
            throw Error("--plot needs gnuplot, which is not on PATH (Debian: apt-get install gnuplot-nox; "
                        "scripts/setup.sh installs it)");
        if (!no_process) {
            rs.cli_bin = cli_bin.empty() ? find_tool("kquant-cuda") : cli_bin;
            if (rs.cli_bin.empty())
                throw Error("timing the whole process needs the kquant-cuda executable: it is neither next to "
                            "kquant-bench nor on PATH (build it, pass --cli-bin, or --no-process)");
        }
        rs.cold = cold;
        std::string synth_exe;
        if (!synth.empty()) {
            synth_exe = synth_bin.empty() ? find_tool("kquant-synth") : synth_bin;
            if (synth_exe.empty())
                throw Error("--synth needs the kquant-synth executable: it is neither next to kquant-bench nor on "
                            "PATH (build it, or pass --synth-bin)");
        }

        Scratch scratch;
        scratch.keep = keep;
        scratch.dir = make_workdir(workdir, {json_path, csv_path, plot_path}, scratch);
        rs.workdir = scratch.dir.string();

        ModelDesc desc;
        if (!synth.empty()) {
            const fs::path out = scratch.dir / ("synth-" + synth + "-" + synth_dtype + ".gguf");
            scratch.files.push_back(out);
            std::vector<std::string> args = {synth_exe, out.string(), "--preset", synth, "--dtype", synth_dtype,
                                             "--seed", std::to_string(seed)};
            if (dev.threads > 0) args.insert(args.end(), {"--threads", std::to_string(dev.threads)});
            const int rc = run_process(args);
            if (rc != 0) throw Error(synth_exe + " failed with exit status " + std::to_string(rc));
            rs.model = out.string();
            desc.synth = synth;
        } else {
            rs.model = model;
        }
        desc.path = rs.model;

        if (!quiet)
            for (const PathSpec& p : rs.paths)
                if (!p.available) std::printf("path %s: unavailable: %s\n", p.name.c_str(), p.reason.c_str());
        Results r = run_benchmark(rs, dev, desc);
        r.host_cores = std::max(1u, std::thread::hardware_concurrency());
        print_table(r, stdout);
        std::fflush(stdout);
        if (!json_path.empty()) json::write_text_file(json_path, to_json(r));
        if (!csv_path.empty()) json::write_text_file(csv_path, to_csv(r));
        if (!plot_path.empty()) {
            scratch.files.push_back(scratch.dir / "kquant-bench-plot.dat");
            scratch.files.push_back(scratch.dir / "kquant-bench-plot.gp");
            plot(r, plot_path, scratch.dir.string());
            if (!quiet) std::printf("plot: %s\n", plot_path.c_str());
        }
        if (keep) std::printf("kept: %s\n", scratch.dir.c_str());
        return r.ok() ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kquant-bench: error: %s\n", e.what());
        return 1;
    }
}
