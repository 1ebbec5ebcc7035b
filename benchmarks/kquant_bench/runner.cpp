// The benchmark loop: plan each type once, run every path `repeats` times (alternating paths, so that
// drift in clocks or cache state hits all paths alike), and check that the paths wrote the same bytes.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <sys/mman.h>
#include <unistd.h>

#include "kquant/error.h"
#include "kquant/gguf.h"
#include "kquant/presets.h"
#include "kquant/report.h"
#include "kquant_bench/bench.h"

namespace kquant::bench {
namespace {

struct Prepared {
    std::string type;
    const PresetInfo* preset = nullptr;
    QuantPlan plan;
    std::vector<gguf::KV> kvs;
    std::vector<PlannedTensor> pipeline_plan;
};

Prepared prepare(const gguf::Model& in, const std::string& type) {
    Prepared p;
    p.type = type;
    try {
        // "q4_k-pure": the preset with --pure, i.e. one type for every eligible tensor.
        const std::string suffix = "-pure";
        const bool pure = type.size() > suffix.size() && type.ends_with(suffix);
        p.preset = &parse_preset(pure ? type.substr(0, type.size() - suffix.size()) : type);
        require_supported(*p.preset);
        QuantParams params;
        params.set_preset(*p.preset);
        params.pure = pure;
        const ModelInfo model = model_info_from_kvs(in.kvs(), {}, in.path());
        p.plan = plan_quantization(in.tensors(), model, params, nullptr, in.path());
        p.kvs = build_output_kvs(in.kvs(), output_file_type(params, in.kvs(), in.tensors()), {});
        p.pipeline_plan = to_pipeline_plan(p.plan, in.tensors());
    } catch (const Error& e) {
        throw Error("--types " + type + ": " + e.what());
    }
    return p;
}

std::string file_stem(const std::string& type) {
    std::string s;
    for (const char c : type) s += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
    return s;
}

struct Sample {
    double wall_s;
    PipelineStats stats;
};

void summarize(Cell& c, const std::vector<Sample>& samples, int64_t weights) {
    if (samples.empty()) return;
    std::vector<double> read, h2d, kernel, d2h, write;
    for (const Sample& s : samples) {
        c.runs_s.push_back(s.wall_s);
        read.push_back(s.stats.read_s);
        h2d.push_back(s.stats.h2d_s);
        kernel.push_back(s.stats.kernel_s);
        d2h.push_back(s.stats.d2h_s);
        write.push_back(s.stats.write_s);
    }
    c.median_s = median(c.runs_s);
    c.min_s = *std::min_element(c.runs_s.begin(), c.runs_s.end());
    c.max_s = *std::max_element(c.runs_s.begin(), c.runs_s.end());
    const PipelineStats& last = samples.back().stats;
    c.backend = last.backend;
    c.bytes_in = last.bytes_in;
    c.bytes_out = last.bytes_out;
    if (c.median_s > 0) {
        c.source_gb_per_s = static_cast<double>(c.bytes_in) / c.median_s / 1e9;
        c.weights_per_s = static_cast<double>(weights) / c.median_s;
    }
    if (c.path == "cuda") {
        c.has_stages = true;
        c.read_s = median(read), c.h2d_s = median(h2d), c.kernel_s = median(kernel);
        c.d2h_s = median(d2h), c.write_s = median(write);
    }
}

// Drops this process's page-table entries for the model's mapping (MADV_DONTNEED on the read-only
// mapping; the pages refault from the file), so that a page-cache drop can evict them: the kernel does
// not drop pages that are still mapped.
void release_mapping(const gguf::Model& in) {
    for (size_t k = 0; k < in.shard_count(); ++k) {
        const gguf::Reader& sh = in.shard(k);
        if (sh.tensors().empty()) continue;
        const gguf::TensorInfo& t = sh.tensors().front();
        const uint8_t* base = sh.tensor_data(t) - sh.data_offset() - t.offset;  // the mapping's start
        const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
        const uintptr_t b = reinterpret_cast<uintptr_t>(base) & ~(page - 1);
        ::madvise(reinterpret_cast<void*>(b), sh.file_size() + (reinterpret_cast<uintptr_t>(base) - b), MADV_DONTNEED);
    }
}

// The kquant-cuda command line that does what the pipeline run of `path` does.
std::vector<std::string> cli_args(const std::string& bin, const std::string& model, const std::string& out,
                                  const Prepared& prep, const PathSpec& path) {
    std::vector<std::string> a = {bin, model, out, "--type", std::string(prep.preset->name)};
    if (prep.type.ends_with("-pure")) a.push_back("--pure");
    const PipelineOptions& o = path.options;
    if (o.device == DeviceKind::Cpu) {
        a.insert(a.end(), {"--device", "cpu", "--cpu-isa", cpu_isa_name(o.cpu_isa)});
    } else {
        a.insert(a.end(), {"--device", "cuda", "--gpu", std::to_string(o.gpus.empty() ? 0 : o.gpus[0]),
                           "--chunk-mb", std::to_string(o.gpu_chunk_bytes >> 20), "--streams",
                           std::to_string(o.gpu_streams), "--io-threads", std::to_string(o.io_threads)});
    }
    if (o.threads > 0) a.insert(a.end(), {"--threads", std::to_string(o.threads)});
    a.push_back("-q");
    return a;
}

// The pipeline's reader and writer count on this path: the CPU threads (each reads its chunk's source and
// writes its output), or the GPU path's I/O threads.
int io_count(const PathSpec& p) {
    if (p.options.device == DeviceKind::Cuda) return std::max(1, p.options.io_threads);
    return p.options.threads > 0 ? p.options.threads
                                 : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Compares every path's output with the first one's.
TypeCheck check_outputs(const std::string& type, const std::vector<const Cell*>& cells,
                        const std::vector<std::string>& outputs) {
    TypeCheck t;
    t.type = type;
    for (const Cell* c : cells) t.paths.push_back(c->path);
    for (size_t k = 1; k < outputs.size(); ++k) {
        const report::CompareReport cr = report::compare(outputs[0], outputs[k]);
        if (cr.identical()) continue;
        t.identical = false;
        std::string what = std::string("verdict ") + report::verdict_name(cr.verdict);
        for (const report::TensorDiff& d : cr.tensors) {
            if (d.identical) continue;
            what = "tensor '" + d.name + "'" +
                   (d.same_type_shape ? " differs from byte " + std::to_string(d.first_diff_byte) + " (block " +
                                            std::to_string(d.first_diff_block) + ")"
                                      : " differs in type, shape or presence");
            break;
        }
        if (!cr.metadata.empty() && what.starts_with("verdict"))
            what = "metadata '" + cr.metadata[0].key + "' differs";
        t.detail += (t.detail.empty() ? "" : "; ") + cells[k]->path + " vs " + cells[0]->path + ": " + what;
    }
    return t;
}

}  // namespace

Results run_benchmark(const RunSettings& s, const DeviceSettings& d, ModelDesc model) {
    namespace fs = std::filesystem;
    const auto in = gguf::Model::open(s.model);
    model.file_bytes = 0;
    for (size_t k = 0; k < in->shard_count(); ++k) model.file_bytes += in->shard(k).file_size();
    model.tensors = in->tensors().size();
    model.weights = 0;
    for (const gguf::TensorInfo& t : in->tensors()) model.weights += t.nelements();

    // Plan everything first: a bad type fails before any time is spent.
    std::vector<Prepared> prepared;
    for (const std::string& t : s.types) prepared.push_back(prepare(*in, t));

    Results r;
    r.model = model;
    r.types = s.types;
    for (const PathSpec& p : s.paths) r.paths.push_back(p.name);
    r.repeats = s.repeats;
    r.warmup = s.warmup;
    r.threads = d.threads;
    r.cli_bin = s.cli_bin;
    r.cold = s.cold;
    const bool show_progress = !s.quiet && ::isatty(STDERR_FILENO);

    std::vector<std::string> shards;
    for (size_t k = 0; k < in->shard_count(); ++k) shards.push_back(in->shard(k).path());
    // --cold: drop the page cache (root only; said once otherwise).
    auto drop = [&] {
        if (!s.cold || !r.cold_note.empty()) return;
        std::string why;
        if (::geteuid() == 0) release_mapping(*in);
        if (drop_page_cache(&why)) {
            r.cache_dropped = true;
            return;
        }
        r.cache_dropped = false;
        r.cold_note = why == "not root" ? "--cold: not root, cannot drop the page cache: results are warm"
                                        : "--cold: " + why + ": results are warm";
        std::fprintf(stderr, "kquant-bench: %s\n", r.cold_note.c_str());
    };
    if (s.cold) {  // the yardstick for cold runs: one thread reading the file front to back
        drop();
        r.seq_read_s = sequential_read(shards);
        r.has_seq_read = true;
        if (r.seq_read_s > 0) r.seq_read_gb_per_s = static_cast<double>(model.file_bytes) / r.seq_read_s / 1e9;
        if (!s.quiet) std::printf("  plain sequential read of the source (1 thread%s): %.4f s, %.3f GB/s\n",
                                  r.cache_dropped ? ", after a cache drop" : ", warm", r.seq_read_s,
                                  r.seq_read_gb_per_s);
    }

    for (const Prepared& prep : prepared) {
        const size_t first = r.cells.size();
        std::vector<std::string> outputs, cli_outputs;
        const uint64_t out_bytes =
            size_report(prep.plan, {OutputFile{"", prep.kvs, prep.pipeline_plan}}).file_bytes;
        for (const PathSpec& p : s.paths) {
            Cell c;
            c.type = prep.type;
            c.preset = std::string(prep.preset->name);
            c.path = p.name;
            c.available = p.available;
            c.reason = p.reason;
            r.cells.push_back(std::move(c));
            outputs.push_back((fs::path(s.workdir) / (file_stem(prep.type) + "." + p.name + ".gguf")).string());
            cli_outputs.push_back((fs::path(s.workdir) / (file_stem(prep.type) + "." + p.name + ".cli.gguf")).string());
        }
        std::vector<std::vector<Sample>> samples(s.paths.size());
        std::vector<std::vector<double>> process_runs(s.paths.size());

        // One quantization; false when the path failed (recorded in its cell).
        auto run_once = [&](size_t k, const char* what) {
            Cell& c = r.cells[first + k];
            std::error_code ec;
            fs::remove(outputs[k], ec);  // replacing a file would time the old one's deletion too
            PipelineOptions opt = s.paths[k].options;
            opt.progress = show_progress;
            if (what[0] != 'w') drop();
            try {
                const auto t0 = std::chrono::steady_clock::now();
                const PipelineStats st = run_pipeline(*in, prep.kvs, prep.pipeline_plan, outputs[k], opt, nullptr);
                const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                if (!s.quiet) {
                    std::printf("  %-8s %-7s %-9s %8.4f s\n", prep.type.c_str(), c.path.c_str(), what, wall);
                    std::fflush(stdout);
                }
                return Sample{wall, st};
            } catch (const std::exception& e) {
                c.failed = true;
                c.reason = e.what();
                std::fprintf(stderr, "kquant-bench: %s on %s failed: %s\n", prep.type.c_str(), c.path.c_str(),
                             e.what());
                return Sample{-1.0, {}};
            }
        };
        // The same quantization by the kquant-cuda executable, as a user runs it: seconds, or -1 on failure.
        auto run_process_once = [&](size_t k, const char* what) {
            Cell& c = r.cells[first + k];
            std::error_code ec;
            fs::remove(cli_outputs[k], ec);
            const std::vector<std::string> argv = cli_args(s.cli_bin, s.model, cli_outputs[k], prep, s.paths[k]);
            if (what[0] != 'w') drop();
            try {
                const auto t0 = std::chrono::steady_clock::now();
                const int rc = run_process(argv, true);
                const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                if (rc != 0) throw Error(s.cli_bin + " exited with status " + std::to_string(rc));
                if (!s.quiet) {
                    std::printf("  %-8s %-7s %-9s %8.4f s (process)\n", prep.type.c_str(), c.path.c_str(), what, wall);
                    std::fflush(stdout);
                }
                return wall;
            } catch (const std::exception& e) {
                c.failed = true;
                c.reason = std::string("kquant-cuda process: ") + e.what();
                std::fprintf(stderr, "kquant-bench: %s on %s (process) failed: %s\n", prep.type.c_str(),
                             c.path.c_str(), e.what());
                return -1.0;
            }
        };
        auto runnable = [&](size_t k) { return r.cells[first + k].available && !r.cells[first + k].failed; };
        const bool with_process = !s.cli_bin.empty();

        if (s.warmup)
            for (size_t k = 0; k < s.paths.size(); ++k) {
                if (runnable(k)) run_once(k, "warmup");
                if (with_process && runnable(k)) run_process_once(k, "warmup");
            }
        // The I/O floor of each path, before its timed runs: read the source with the pipeline's reader
        // count, write the output's size with its writer count (medians over `repeats`).
        for (size_t k = 0; k < s.paths.size(); ++k) {
            if (!runnable(k)) continue;
            Cell& c = r.cells[first + k];
            c.floor_readers = c.floor_writers = io_count(s.paths[k]);
            c.floor_write_bytes = out_bytes;
            std::vector<double> rd, wr;
            try {
                for (int rep = 0; rep < s.repeats; ++rep) {
                    drop();
                    rd.push_back(floor_read(shards, c.floor_readers));
                    wr.push_back(floor_write(s.workdir, out_bytes, c.floor_writers));
                }
            } catch (const std::exception& e) {
                c.failed = true;
                c.reason = e.what();
                std::fprintf(stderr, "kquant-bench: floor for %s on %s failed: %s\n", prep.type.c_str(),
                             c.path.c_str(), e.what());
                continue;
            }
            c.has_floor = true;
            c.floor_read_s = median(rd);
            c.floor_write_s = median(wr);
            c.floor_s = std::max(c.floor_read_s, c.floor_write_s);
            if (!s.quiet) {
                std::printf("  %-8s %-7s floor     %8.4f s (read %.4f s, %d readers; write %.4f s, %d writers)\n",
                            prep.type.c_str(), c.path.c_str(), c.floor_s, c.floor_read_s, c.floor_readers,
                            c.floor_write_s, c.floor_writers);
                std::fflush(stdout);
            }
        }
        for (int rep = 0; rep < s.repeats; ++rep) {
            const std::string label = "run " + std::to_string(rep + 1) + "/" + std::to_string(s.repeats);
            for (size_t k = 0; k < s.paths.size(); ++k) {
                if (!runnable(k)) continue;
                const Sample smp = run_once(k, label.c_str());
                if (smp.wall_s >= 0) samples[k].push_back(smp);
                if (!with_process || !runnable(k)) continue;
                const double w = run_process_once(k, label.c_str());
                if (w >= 0) process_runs[k].push_back(w);
            }
        }

        std::vector<const Cell*> done;
        std::vector<std::string> done_outputs;
        for (size_t k = 0; k < s.paths.size(); ++k) {
            Cell& c = r.cells[first + k];
            if (!c.failed) summarize(c, samples[k], model.weights);
            if (c.ok() && with_process && !process_runs[k].empty()) {
                c.has_process = true;
                c.process_runs_s = process_runs[k];
                c.process_median_s = median(process_runs[k]);
                c.process_identical = files_identical(outputs[k], cli_outputs[k], &c.process_detail);
                if (!c.process_identical)
                    std::fprintf(stderr, "kquant-bench: %s on %s: the kquant-cuda process's output differs from "
                                         "the pipeline's: %s\n",
                                 prep.type.c_str(), c.path.c_str(), c.process_detail.c_str());
            }
            if (c.ok()) {
                done.push_back(&c);
                done_outputs.push_back(outputs[k]);
            }
        }
        r.checks.push_back(check_outputs(prep.type, done, done_outputs));
        if (!s.keep_outputs)
            for (const auto* list : {&outputs, &cli_outputs})
                for (const std::string& o : *list) {
                    std::error_code ec;
                    fs::remove(o, ec);
                }
    }

    // Speed relative to the scalar path of the same type.
    for (Cell& c : r.cells) {
        for (const Cell& ref : r.cells)
            if (ref.type == c.type && ref.path == "scalar" && ref.ok() && c.ok() && c.median_s > 0)
                c.speedup_vs_scalar = ref.median_s / c.median_s;
    }
    return r;
}

}  // namespace kquant::bench
