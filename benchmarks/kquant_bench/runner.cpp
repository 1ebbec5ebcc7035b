// The benchmark loop: plan each type once, run every path `repeats` times (alternating paths, so that
// drift in clocks or cache state hits all paths alike), and check that the paths wrote the same bytes.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
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
    const bool show_progress = !s.quiet && ::isatty(STDERR_FILENO);

    for (const Prepared& prep : prepared) {
        const size_t first = r.cells.size();
        std::vector<std::string> outputs;
        for (const PathSpec& p : s.paths) {
            Cell c;
            c.type = prep.type;
            c.preset = std::string(prep.preset->name);
            c.path = p.name;
            c.available = p.available;
            c.reason = p.reason;
            r.cells.push_back(std::move(c));
            outputs.push_back((fs::path(s.workdir) / (file_stem(prep.type) + "." + p.name + ".gguf")).string());
        }
        std::vector<std::vector<Sample>> samples(s.paths.size());

        // One quantization; false when the path failed (recorded in its cell).
        auto run_once = [&](size_t k, const char* what) {
            Cell& c = r.cells[first + k];
            std::error_code ec;
            fs::remove(outputs[k], ec);  // replacing a file would time the old one's deletion too
            PipelineOptions opt = s.paths[k].options;
            opt.progress = show_progress;
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
        auto runnable = [&](size_t k) { return r.cells[first + k].available && !r.cells[first + k].failed; };

        if (s.warmup)
            for (size_t k = 0; k < s.paths.size(); ++k)
                if (runnable(k)) run_once(k, "warmup");
        for (int rep = 0; rep < s.repeats; ++rep) {
            const std::string label = "run " + std::to_string(rep + 1) + "/" + std::to_string(s.repeats);
            for (size_t k = 0; k < s.paths.size(); ++k) {
                if (!runnable(k)) continue;
                const Sample smp = run_once(k, label.c_str());
                if (smp.wall_s >= 0) samples[k].push_back(smp);
            }
        }

        std::vector<const Cell*> done;
        std::vector<std::string> done_outputs;
        for (size_t k = 0; k < s.paths.size(); ++k) {
            Cell& c = r.cells[first + k];
            if (!c.failed) summarize(c, samples[k], model.weights);
            if (c.ok()) {
                done.push_back(&c);
                done_outputs.push_back(outputs[k]);
            }
        }
        r.checks.push_back(check_outputs(prep.type, done, done_outputs));
        if (!s.keep_outputs)
            for (const std::string& o : outputs) {
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
