// kquant-bench's results as a terminal table, JSON and CSV.
#include <algorithm>
#include <cstdio>

#include "kquant_bench/bench.h"
#include "report/json.h"

namespace kquant::bench {

bool Results::ok() const {
    for (const Cell& c : cells)
        if (c.failed) return false;
    for (const TypeCheck& t : checks)
        if (!t.identical) return false;
    return true;
}

double median(std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

namespace {

std::string threads_text(int threads, unsigned cores) {
    return threads > 0 ? std::to_string(threads) : "all (" + std::to_string(cores) + ")";
}

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
    return s;
}

}  // namespace

void print_table(const Results& r, std::FILE* out) {
    const ModelDesc& m = r.model;
    std::fprintf(out, "\nmodel: %s (%.3f GB, %zu tensors, %.3f G weights%s)\n", m.path.c_str(), m.file_bytes / 1e9,
                 m.tensors, static_cast<double>(m.weights) / 1e9,
                 m.synth.empty() ? "" : (", synthetic preset '" + m.synth + "'").c_str());
    std::fprintf(out, "%d timed run(s) per type and path (paths alternating: %s), %s, CPU threads %s\n", r.repeats,
                 join(r.paths, ", ").c_str(), r.warmup ? "1 untimed warmup run each" : "no warmup",
                 threads_text(r.threads, r.host_cores).c_str());
    std::fprintf(out, "%-8s %-7s %9s %9s %9s %9s %11s %9s  %s\n", "type", "path", "median s", "min s", "max s",
                 "src GB/s", "Mweights/s", "x scalar", "backend");
    for (const Cell& c : r.cells) {
        if (!c.available) continue;  // listed once below
        if (!c.ok()) {
            std::fprintf(out, "%-8s %-7s FAILED: %s\n", c.type.c_str(), c.path.c_str(), c.reason.c_str());
            continue;
        }
        char speed[32] = "-";
        if (c.speedup_vs_scalar > 0) std::snprintf(speed, sizeof speed, "%.2f", c.speedup_vs_scalar);
        std::fprintf(out, "%-8s %-7s %9.4f %9.4f %9.4f %9.3f %11.2f %9s  %s\n", c.type.c_str(), c.path.c_str(),
                     c.median_s, c.min_s, c.max_s, c.source_gb_per_s, c.weights_per_s / 1e6, speed,
                     c.backend.c_str());
        if (c.has_stages)
            std::fprintf(out, "%17s stages (busy s, summed over streams): read %.4f  h2d %.4f  kernel %.4f  "
                              "d2h %.4f  write %.4f\n",
                         "", c.read_s, c.h2d_s, c.kernel_s, c.d2h_s, c.write_s);
    }
    // The I/O floor beside the runs.
    bool any_floor = false;
    for (const Cell& c : r.cells) any_floor |= c.ok() && c.has_floor;
    if (any_floor) {
        std::fprintf(out, "\nI/O floor (read the source with the pipeline's readers, write the output's size with its "
                          "writers; medians)%s\n",
                     r.cli_bin.empty() ? "" : "; process = the kquant-cuda executable, start to exit");
        std::fprintf(out, "%-9s %-7s %5s %9s %9s %9s %10s %10s %8s %8s  %s\n", "type", "path", "io", "read s",
                     "write s", "floor s", "pipeline s", "process s", "pipe/fl", "proc/fl", "process output");
        for (const Cell& c : r.cells) {
            if (!c.ok() || !c.has_floor) continue;
            char proc[32] = "-", pf[32] = "-", rf[32] = "-";
            if (c.has_process) std::snprintf(proc, sizeof proc, "%.4f", c.process_median_s);
            if (c.floor_s > 0) std::snprintf(pf, sizeof pf, "%.2f", c.pipeline_over_floor());
            if (c.process_over_floor() > 0) std::snprintf(rf, sizeof rf, "%.2f", c.process_over_floor());
            const std::string same = !c.has_process ? "-" : c.process_identical ? "identical" : "DIFFERS: " + c.process_detail;
            std::fprintf(out, "%-9s %-7s %5d %9.4f %9.4f %9.4f %10.4f %10s %8s %8s  %s\n", c.type.c_str(),
                         c.path.c_str(), c.floor_readers, c.floor_read_s, c.floor_write_s, c.floor_s, c.median_s, proc,
                         pf, rf, same.c_str());
        }
    }
    if (r.cold)
        std::fprintf(out, "--cold: %s\n",
                     r.cache_dropped ? "page cache dropped before every timed run and floor read" : r.cold_note.c_str());
    if (r.has_seq_read)
        std::fprintf(out, "plain sequential read of the source (1 thread, 16 MiB reads%s): %.4f s, %.3f GB/s\n",
                     r.cache_dropped ? ", after a cache drop" : ", warm", r.seq_read_s, r.seq_read_gb_per_s);
    std::vector<std::string> unavailable;
    for (const Cell& c : r.cells) {
        if (c.available) continue;
        const std::string line = c.path + ": " + c.reason;
        if (std::find(unavailable.begin(), unavailable.end(), line) == unavailable.end()) unavailable.push_back(line);
    }
    for (const std::string& u : unavailable) std::fprintf(out, "unavailable path %s\n", u.c_str());
    for (const TypeCheck& t : r.checks) {
        if (t.paths.size() < 2)
            std::fprintf(out, "%s: one path ran (%s); nothing to compare\n", t.type.c_str(),
                         t.paths.empty() ? "none" : t.paths[0].c_str());
        else if (t.identical)
            std::fprintf(out, "%s: outputs byte-identical across %s\n", t.type.c_str(), join(t.paths, ", ").c_str());
        else
            std::fprintf(out, "%s: OUTPUTS DIFFER: %s\n", t.type.c_str(), t.detail.c_str());
    }
}

std::string to_json(const Results& r) {
    json::Writer j;
    j.begin_object();
    j.field("tool", "kquant-bench").field("version", KQUANT_VERSION);
    j.key("model").begin_object();
    j.field("path", r.model.path).field("synthetic_preset", r.model.synth).field("file_bytes", r.model.file_bytes);
    j.field("tensors", static_cast<uint64_t>(r.model.tensors)).field("weights", r.model.weights);
    j.end_object();
    j.key("settings").begin_object();
    j.key("types").begin_array(true);
    for (const std::string& t : r.types) j.value(t);
    j.end_array();
    j.key("paths").begin_array(true);
    for (const std::string& p : r.paths) j.value(p);
    j.end_array();
    j.field("repeats", r.repeats).field("warmup", r.warmup).field("threads", r.threads);
    j.field("host_cores", r.host_cores);
    j.field("cli_bin", r.cli_bin).field("cold", r.cold).field("cache_dropped", r.cache_dropped);
    j.field("cold_note", r.cold_note);
    j.end_object();
    j.key("sequential_read");
    if (r.has_seq_read) {
        j.begin_object(true);
        j.field("threads", 1).field("cache_dropped", r.cache_dropped).field("seconds", r.seq_read_s);
        j.field("gb_per_s", r.seq_read_gb_per_s);
        j.end_object();
    } else {
        j.null();
    }
    j.key("results").begin_array();
    for (const Cell& c : r.cells) {
        j.begin_object();
        j.field("type", c.type).field("preset", c.preset).field("path", c.path);
        j.field("available", c.available).field("ok", c.ok()).field("reason", c.reason);
        if (c.ok()) {
            j.field("backend", c.backend);
            j.key("runs_s").begin_array(true);
            for (const double v : c.runs_s) j.value(v);
            j.end_array();
            j.field("median_s", c.median_s).field("min_s", c.min_s).field("max_s", c.max_s);
            j.field("source_gb_per_s", c.source_gb_per_s).field("weights_per_s", c.weights_per_s);
            j.key("speedup_vs_scalar");
            if (c.speedup_vs_scalar > 0) j.value(c.speedup_vs_scalar); else j.null();
            j.field("bytes_in", c.bytes_in).field("bytes_out", c.bytes_out);
            j.key("stages_s");
            if (c.has_stages) {
                j.begin_object(true);
                j.field("read", c.read_s).field("h2d", c.h2d_s).field("kernel", c.kernel_s);
                j.field("d2h", c.d2h_s).field("write", c.write_s);
                j.end_object();
            } else {
                j.null();
            }
            j.key("floor");
            if (c.has_floor) {
                j.begin_object(true);
                j.field("readers", c.floor_readers).field("writers", c.floor_writers);
                j.field("write_bytes", c.floor_write_bytes);
                j.field("read_s", c.floor_read_s).field("write_s", c.floor_write_s).field("floor_s", c.floor_s);
                j.end_object();
            } else {
                j.null();
            }
            j.field("pipeline_median_s", c.median_s);
            j.key("process_runs_s").begin_array(true);
            for (const double v : c.process_runs_s) j.value(v);
            j.end_array();
            j.key("process_median_s");
            if (c.has_process) j.value(c.process_median_s); else j.null();
            j.key("process_identical");
            if (c.has_process) j.value(c.process_identical); else j.null();
            j.key("pipeline_over_floor");
            if (c.floor_s > 0) j.value(c.pipeline_over_floor()); else j.null();
            j.key("process_over_floor");
            if (c.process_over_floor() > 0) j.value(c.process_over_floor()); else j.null();
        }
        j.end_object();
    }
    j.end_array();
    j.key("identical").begin_array();
    for (const TypeCheck& t : r.checks) {
        j.begin_object(true).field("type", t.type);
        j.key("paths").begin_array(true);
        for (const std::string& p : t.paths) j.value(p);
        j.end_array();
        j.field("identical", t.identical).field("detail", t.detail).end_object();
    }
    j.end_array();
    j.field("ok", r.ok());
    j.end_object();
    return j.str();
}

namespace {

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (const char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

std::string num(double v) { return json::number(v) == "null" ? "" : json::number(v); }

}  // namespace

std::string to_csv(const Results& r) {
    std::string s = "type,preset,path,available,ok,reason,backend,runs,median_s,min_s,max_s,source_gb_per_s,"
                    "weights_per_s,speedup_vs_scalar,bytes_in,bytes_out,read_s,h2d_s,kernel_s,d2h_s,write_s,"
                    "identical_across_paths,floor_readers,floor_writers,floor_read_s,floor_write_s,floor_s,"
                    "pipeline_median_s,process_median_s,pipeline_over_floor,process_over_floor,process_identical\n";
    for (const Cell& c : r.cells) {
        bool identical = true;
        for (const TypeCheck& t : r.checks)
            if (t.type == c.type) identical = t.identical;
        std::vector<std::string> f = {c.type, c.preset, c.path, c.available ? "1" : "0", c.ok() ? "1" : "0",
                                      csv_field(c.reason), csv_field(c.backend), std::to_string(c.runs_s.size())};
        if (c.ok()) {
            for (const double v : {c.median_s, c.min_s, c.max_s, c.source_gb_per_s, c.weights_per_s}) f.push_back(num(v));
            f.push_back(c.speedup_vs_scalar > 0 ? num(c.speedup_vs_scalar) : "");
            f.push_back(std::to_string(c.bytes_in));
            f.push_back(std::to_string(c.bytes_out));
            for (const double v : {c.read_s, c.h2d_s, c.kernel_s, c.d2h_s, c.write_s})
                f.push_back(c.has_stages ? num(v) : "");
        } else {
            f.resize(f.size() + 13);
        }
        f.push_back(identical ? "1" : "0");
        if (c.ok() && c.has_floor) {
            f.push_back(std::to_string(c.floor_readers));
            f.push_back(std::to_string(c.floor_writers));
            for (const double v : {c.floor_read_s, c.floor_write_s, c.floor_s}) f.push_back(num(v));
        } else {
            f.resize(f.size() + 5);
        }
        f.push_back(c.ok() ? num(c.median_s) : "");
        f.push_back(c.ok() && c.has_process ? num(c.process_median_s) : "");
        f.push_back(c.ok() && c.floor_s > 0 ? num(c.pipeline_over_floor()) : "");
        f.push_back(c.ok() && c.process_over_floor() > 0 ? num(c.process_over_floor()) : "");
        f.push_back(c.ok() && c.has_process ? (c.process_identical ? "1" : "0") : "");
        s += join(f, ",") + "\n";
    }
    return s;
}

}  // namespace kquant::bench
