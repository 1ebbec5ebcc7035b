// kquant-cuda: quantize a GGUF model into llama.cpp's formats, byte-identical to llama-quantize.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <new>
#include <unistd.h>

#include "cli/arguments.h"
#include "gguf/temp_files.h"
#include "kquant/error.h"
#include "kquant/gguf.h"
#include "kquant/imatrix.h"
#include "kquant/model.h"
#include "kquant/pipeline.h"
#include "kquant/presets.h"
#include "kquant/quantize.h"
#include "kquant/report.h"
#if KQUANT_HAVE_CUDA
#include "kquant/cuda_backend.h"
#endif

namespace {

using namespace kquant;

struct CliOptions {
    std::vector<std::string> positionals;  // INPUT [OUTPUT] [TYPE [NTHREADS]] (cli/arguments.h)
    std::string threads_text;              // --threads, checked by parse_thread_count
    std::string input, output, device = "auto", gpu = "0", imatrix;
    std::vector<std::string> types;  // --type, comma-separated or repeated: one output (set) per type
    std::string output_tensor_type, token_embedding_type, tensor_type_file;
    std::vector<std::string> tensor_types, overrides, include_weights, exclude_weights;
    int threads = 0, streams = defaults::kGpuStreams, io_threads = defaults::kIoThreads;
    std::string cpu_isa;  // --cpu-isa; empty: the fastest this CPU runs
    size_t chunk_mb = defaults::kGpuChunkMiB;
    bool pure = false, leave_output = false, allow_requantize = false, dry_run = false, quiet = false;
    bool list_types = false, fsync = false, verify = false, keep_split = false;
    std::string prune_layers;
    std::string report;
    std::string cmp_a, cmp_b;  // `compare A B`
};

std::string shape_str(const std::vector<int64_t>& ne) {
    std::string s;
    for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s;
}

double mib(uint64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); }

// "16.06 GB", "903.5 kB": decimal units, as throughput is quoted in GB/s.
std::string human_bytes(double b) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1000.0 && u < 4) b /= 1000.0, ++u;
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", b, units[u]);
    return buf;
}

std::vector<int> parse_gpus(const std::string& s, int count) {
    std::vector<int> out;
    if (s == "all") {
        for (int i = 0; i < count; ++i) out.push_back(i);
        return out;
    }
    std::stringstream ss(s);
    for (std::string tok; std::getline(ss, tok, ',');) {
        try {
            size_t pos = 0;
            const int id = std::stoi(tok, &pos);
            if (pos != tok.size() || id < 0) throw std::invalid_argument(tok);
            if (count >= 0 && id >= count)
                throw Error("--gpu " + tok + ": there are only " + std::to_string(count) + " CUDA device(s)");
            out.push_back(id);
        } catch (const std::logic_error&) {
            throw Error("--gpu: '" + tok + "' is not a device number (use N, N,M or all)");
        }
    }
    return out;
}

// --cpu-isa: every level gives the same bytes; asking for one this CPU lacks is an error, not a fallback.
CpuIsa choose_cpu_isa(const std::string& name) {
    if (name.empty()) return best_cpu_isa();
    for (CpuIsa isa : {CpuIsa::Scalar, CpuIsa::Avx2, CpuIsa::Avx512}) {
        if (name != cpu_isa_name(isa)) continue;
        if (!cpu_isa_supported(isa))
            throw Error("--cpu-isa " + name + ": this CPU (or build) does not support it; the best it runs is " +
                        cpu_isa_name(best_cpu_isa()));
        return isa;
    }
    throw Error("--cpu-isa: unknown instruction set '" + name + "' (use scalar, avx2 or avx512)");
}

// Decides the device: auto = the GPU when one is usable, else the CPU (said on stdout).
DeviceKind choose_device(const CliOptions& o, std::string* why, int* gpu_count) {
    *gpu_count = 0;
#if KQUANT_HAVE_CUDA
    const cuda::DeviceStatus st = cuda::probe();
    *gpu_count = st.count;
    if (st.count > 0 && o.device != "cpu") return DeviceKind::Cuda;
    *why = st.reason.empty() ? "no CUDA device" : "no usable CUDA device: " + st.reason;
#else
    *why = "this build has no CUDA support (nvcc was not found when it was built)";
#endif
    if (o.device == "cuda") throw Error("--device cuda: " + *why);
    return DeviceKind::Cpu;
}

// Lines for the user that must be seen even with --quiet (warnings, notes) go to stderr.
void print_note(const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }

int run(CliOptions o) {
    if (o.list_types) {
        std::printf("%s", format_quant_options().c_str());
        std::printf("Tensor types this build quantizes to (--tensor-type, --output-tensor-type, "
                    "--token-embedding-type):\n ");
        for (Type t : quantizable_types()) std::printf(" %s", std::string(type_info(t).name).c_str());
        std::printf("\n");
        return 0;
    }
    std::string type_flag;  // the --type values, joined: resolve_positionals only asks whether one was given
    for (const std::string& t : o.types) type_flag += (type_flag.empty() ? "" : ",") + t;
    const cli::Positionals pos = cli::resolve_positionals(o.positionals, type_flag);
    o.input = pos.input;
    o.output = pos.output;
    if (!o.threads_text.empty()) o.threads = cli::parse_thread_count(o.threads_text, "--threads", false);
    if (pos.threads) {
        if (!o.threads_text.empty()) throw Error("NTHREADS and --threads both given; give one");
        o.threads = *pos.threads;
    }
    if (o.dry_run && (o.verify || !o.report.empty()))
        throw Error("--dry-run writes nothing, so there is nothing for --verify/--report to check; run without "
                    "--dry-run, or without --verify/--report");

    // Several types: one read of the input, one output (or shard set) per type; OUTPUT names them with
    // {type} (the preset's name as llama-quantize spells it), or is left out (llama-quantize's default
    // name for each).
    std::vector<const PresetInfo*> presets_wanted;
    {
        std::stringstream ss(pos.type);
        for (std::string t; std::getline(ss, t, ',');) {
            if (t.empty()) throw Error("--type: an empty name in '" + pos.type + "'");
            const PresetInfo* pr = &parse_preset(t);
            if (std::find(presets_wanted.begin(), presets_wanted.end(), pr) != presets_wanted.end())
                throw Error("--type: " + std::string(pr->name) + " is given twice");
            presets_wanted.push_back(pr);
        }
    }
    const bool several = presets_wanted.size() > 1;
    const std::string kTypeField = "{type}";
    if (several && !o.output.empty() && o.output.find(kTypeField) == std::string::npos)
        throw Error("with several types the output name must contain {type} (or be left out): " + o.output);
    if (several && (o.verify || !o.report.empty())) throw Error("--verify/--report take one type");
    if (!o.dry_run)
        for (const PresetInfo* pr : presets_wanted) require_supported(*pr);  // a dry run needs no quantizer

    namespace fs = std::filesystem;
    std::error_code ec;
    cli::check_input_file(o.input, "the input");
    if (!o.imatrix.empty()) cli::check_input_file(o.imatrix, "--imatrix");
    if (!o.tensor_type_file.empty()) cli::check_input_file(o.tensor_type_file, "--tensor-type-file");
    if (!o.report.empty()) cli::check_output_location(o.report, "--report");

    QuantParams base;
    base.pure = o.pure;
    base.leave_output_tensor = o.leave_output;
    base.allow_requantize = o.allow_requantize;
    base.dry_run = o.dry_run;
    if (!o.output_tensor_type.empty()) base.output_tensor_type = parse_ggml_type(o.output_tensor_type);
    if (!o.token_embedding_type.empty()) base.token_embedding_type = parse_ggml_type(o.token_embedding_type);
    for (const std::string& s : o.tensor_types) base.tensor_types.push_back(parse_tensor_type_rule(s));
    if (!o.tensor_type_file.empty())
        for (TensorTypeRule& r : load_tensor_type_file(o.tensor_type_file)) base.tensor_types.push_back(std::move(r));
    for (const std::string& s : o.overrides) base.kv_overrides.push_back(parse_kv_override(s));
    if (!o.prune_layers.empty()) base.prune_layers = parse_prune_layers(o.prune_layers);
    base.keep_split = o.keep_split;
    if (!base.prune_layers.empty() && (o.verify || !o.report.empty()))
        throw Error("--verify/--report compare tensors by name, which --prune-layers changes; run them without it");

    std::unique_ptr<Imatrix> im;
    std::vector<KvOverride> all_overrides = base.kv_overrides;
    if (!o.imatrix.empty()) {
        im = std::make_unique<Imatrix>(load_imatrix(o.imatrix));
        filter_imatrix(*im, o.include_weights, o.exclude_weights);
        check_imatrix_finite(*im);
        for (const std::string& w : imatrix_warnings(*im)) print_note(w);
        for (KvOverride& k : imatrix_kv_overrides(*im, o.imatrix)) all_overrides.push_back(std::move(k));
        if (!o.quiet)
            std::printf("loaded %zu importance matrix entries from %s\n", im->entry_count(), o.imatrix.c_str());
    } else if (!o.include_weights.empty() || !o.exclude_weights.empty()) {
        throw Error("--include-weights / --exclude-weights need --imatrix");
    }

    const auto in = gguf::Model::open(o.input);  // every shard of a split model
    if (!o.quiet && in->shard_count() > 1)
        std::printf("split model: %zu shards, %zu tensors\n", in->shard_count(), in->tensors().size());
    const ModelInfo model = model_info_from_kvs(in->kvs(), base.kv_overrides, o.input);

    // Each type planned in full (and checked) before anything is written.
    struct TypeRun {
        const PresetInfo* preset;
        QuantPlan plan;
        std::vector<OutputFile> outputs;
        SizeReport sizes;
    };
    std::vector<TypeRun> runs;
    std::vector<OutputFile> outputs;  // every type's files, in type order
    for (const PresetInfo* pr : presets_wanted) {
        QuantParams p = base;
        p.set_preset(*pr);
        // Left out, the output goes next to the input, named after the preset (as llama-quantize names it).
        std::string output = o.output.empty() ? default_output_path(o.input, *pr, o.keep_split) : o.output;
        for (size_t at; (at = output.find(kTypeField)) != std::string::npos;)
            output.replace(at, kTypeField.size(), std::string(pr->name));
        TypeRun r{pr, plan_quantization(in->tensors(), model, p, im.get(), o.input, in->tensor_shards()), {}, {}};
        const std::vector<gguf::KV> kvs =
            build_output_kvs(in->kvs(), output_file_type(p, in->kvs(), in->tensors()), all_overrides);
        r.outputs = plan_outputs(r.plan, in->tensors(), kvs, output);
        r.sizes = size_report(r.plan, r.outputs);
        for (const OutputFile& f : r.outputs) outputs.push_back(f);
        runs.push_back(std::move(r));
    }
    // Nothing we write may be a file we read, and no two things we write may be one file.
    std::vector<cli::FileUse> reads, writes;
    for (size_t k = 0; k < in->shard_count(); ++k)
        reads.push_back({in->shard(k).path(), in->shard_count() > 1 ? "input shard " + std::to_string(k + 1) : "the input"});
    if (!o.imatrix.empty()) reads.push_back({o.imatrix, "the --imatrix file"});
    if (!o.tensor_type_file.empty()) reads.push_back({o.tensor_type_file, "the --tensor-type-file"});
    for (const OutputFile& f : outputs) writes.push_back({f.path, "the output"});
    if (!o.report.empty()) writes.push_back({o.report, "the --report file"});
    for (const OutputFile& f : outputs)
        for (size_t k = 0; k < in->shard_count(); ++k)
            if (fs::exists(f.path, ec) && fs::equivalent(in->shard(k).path(), f.path, ec))
                throw Error("input and output are the same file: " + f.path);
    for (size_t i = 0; i < outputs.size(); ++i)
        for (size_t j = 0; j < i; ++j)
            if (outputs[i].path == outputs[j].path) throw Error("two outputs would be the same file: " + outputs[i].path);
    if (!o.dry_run) {
        cli::check_file_uses(reads, writes);
        for (const OutputFile& f : outputs) cli::check_output_location(f.path, "the output");
        for (const OutputFile& f : outputs)
            for (const std::string& stale : gguf::stale_temp_files(f.path))
                if (!o.quiet)
                    print_note("note: " + stale + " is a temporary file left by an interrupted kquant-cuda run "
                               "(no process holds it); it can be removed");
    }

    for (const TypeRun& r : runs) {
        if (several && !o.quiet)
            std::printf("== %s -> %s%s\n", std::string(r.preset->name).c_str(), r.outputs.front().path.c_str(),
                        r.outputs.size() > 1 ? " ..." : "");
        const QuantPlan& plan = r.plan;
        const size_t n = plan.n_input_tensors;  // llama-quantize counts pruned tensors too
        for (size_t i = 0; i < plan.tensors.size() && !o.quiet; ++i) {
            const TensorPlan& t = plan.tensors[i];
            if (!t.fallback_warning.empty()) std::printf("%s\n", t.fallback_warning.c_str());
            if (!t.imatrix_note.empty()) std::printf("%s\n", t.imatrix_note.c_str());
            // Names come from the file: escaped (a NUL or an escape sequence would cut or garble the line).
            const std::string quoted = printable(t.name), name = quoted.substr(1, quoted.size() - 2);
            std::printf("[%4zu/%4zu] %-36s - [%s], type = %6s, ", i + 1, n, name.c_str(), shape_str(t.ne).c_str(),
                        std::string(type_info(t.src_type).name).c_str());
            if (t.action == TensorAction::Copy)
                std::printf("size = %8.3f MiB\n", mib(t.src_bytes));
            else
                std::printf("converting to %s .. size = %8.2f MiB -> %8.2f MiB%s\n",
                            std::string(type_info(t.dst_type).name).c_str(), mib(t.src_bytes), mib(t.dst_bytes),
                            t.imatrix ? " (imatrix)" : "");
        }
    }
    if (o.dry_run) {
        for (const TypeRun& r : runs) {
            const SizeReport& sizes = r.sizes;
            std::printf("dry run%s: model size = %.2f MiB (%.2f BPW), quant size = %.2f MiB (%.2f BPW), file size = %llu bytes\n",
                        several ? (" " + std::string(r.preset->name)).c_str() : "", mib(sizes.src_tensor_bytes),
                        sizes.src_bpw(), mib(sizes.dst_tensor_bytes), sizes.dst_bpw(),
                        static_cast<unsigned long long>(sizes.file_bytes));
            if (r.plan.will_require_imatrix) std::printf("warning: this quantization requires an imatrix!\n");
            const std::string fb = fallback_summary(r.plan);
            if (!fb.empty()) std::printf("%s\n", fb.c_str());
        }
        return 0;
    }

    PipelineOptions po;
    std::string why;
    int gpu_count = 0;
    po.device = choose_device(o, &why, &gpu_count);
    if (po.device == DeviceKind::Cpu && o.device == "auto" && !o.quiet)
        std::printf("device: cpu (%s)\n", why.c_str());
    if (po.device == DeviceKind::Cuda) po.gpus = parse_gpus(o.gpu, gpu_count);
    po.threads = o.threads;
    po.cpu_isa = choose_cpu_isa(o.cpu_isa);
    po.gpu_chunk_bytes = o.chunk_mb << 20;
    po.gpu_streams = o.streams;
    po.io_threads = o.io_threads;
    po.allow_cpu_fallback = o.device == "auto";
    po.progress = !o.quiet && isatty(STDERR_FILENO);
    po.fsync = o.fsync;

    // --verify/--report read the finished output before it is named: the report is part of the result,
    // so a verification failure or a report that cannot be written leaves neither the model nor the
    // report (and an existing file of either name untouched).
    std::unique_ptr<gguf::detail::PendingFile> report_file;
    if (o.verify || !o.report.empty()) {
        po.before_publish = [&](const std::vector<std::string>& readable) {
            std::vector<gguf::Model::File> files;
            for (size_t k = 0; k < outputs.size(); ++k) files.push_back({readable[k], outputs[k].path});
            const auto q = gguf::Model::open_files(files);
            report::VerifyReport v = report::verify(*in, *q, o.threads);
            v.source = o.input;
            if (o.verify) report::print_verify(v, stdout, o.quiet ? 10 : 0);
            if (!v.ok()) throw Error("verification of " + outputs.front().path + " failed: " + v.problems.front());
            if (!o.report.empty()) report_file = gguf::detail::pending_text_file(o.report, report::to_json(v));
        };
    }
    const PipelineStats st = run_pipeline(*in, outputs, po, [&](const std::string& line) {
        if (line.rfind("warning", 0) == 0) print_note(line);
        else if (!o.quiet) std::printf("%s\n", line.c_str());
    });
    if (report_file) {
        try {
            report_file->publish(o.fsync);
        } catch (const std::exception& e) {
            for (const OutputFile& f : outputs) ::unlink(f.path.c_str());
            throw Error(std::string(e.what()) + " (the output was removed again: the model and its report are "
                                                "written together or not at all)");
        }
    }
    size_t first_file = 0;
    for (const TypeRun& r : runs) {
        if (!o.quiet) {
            const SizeReport& sizes = r.sizes;
            std::printf("%smodel size = %.2f MiB (%.2f BPW), quant size = %.2f MiB (%.2f BPW)\n",
                        several ? (std::string(r.preset->name) + ": ").c_str() : "", mib(sizes.src_tensor_bytes),
                        sizes.src_bpw(), mib(sizes.dst_tensor_bytes), sizes.dst_bpw());
            const std::string fb = fallback_summary(r.plan);
            if (!fb.empty()) std::printf("%s\n", fb.c_str());
        }
        uint64_t written = 0;
        for (size_t f = 0; f < r.outputs.size(); ++f) written += st.output_bytes[first_file + f];
        first_file += r.outputs.size();
        if (!o.quiet && r.outputs.size() > 1)
            std::printf("wrote %zu shards: %s ... %s (%s)\n", r.outputs.size(), r.outputs.front().path.c_str(),
                        r.outputs.back().path.c_str(), human_bytes(static_cast<double>(written)).c_str());
        else if (!o.quiet && several)
            std::printf("wrote %s (%s)\n", r.outputs.front().path.c_str(), human_bytes(static_cast<double>(written)).c_str());
    }
    std::printf("done: %zu tensors (%zu quantized), %s in, %s out, %.3f s, %.2f GB/s source read, on %s\n",
                st.tensors, st.quantized, human_bytes(static_cast<double>(st.bytes_in)).c_str(),
                human_bytes(static_cast<double>(st.bytes_out)).c_str(), st.seconds,
                st.seconds > 0 ? st.bytes_in / 1e9 / st.seconds : 0.0, st.backend.c_str());
    return 0;
}

int out_of_memory() {
    std::fprintf(stderr, "kquant-cuda: error: out of memory (the model's metadata or a tensor did not fit; "
                         "free memory, or check that the files given are the right ones)\n");
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"kquant-cuda: quantize GGUF models into llama.cpp's formats, byte-identical to llama-quantize"};
    app.set_version_flag("--version", std::string("kquant-cuda ") + KQUANT_VERSION);
    CliOptions o;
    app.add_option("args", o.positionals,
                   "INPUT [OUTPUT]: input GGUF (F32/F16/BF16 weights) and output GGUF (default: "
                   "ggml-model-<TYPE>.gguf next to the input; with --keep-split the prefix of the shards). "
                   "Without --type, llama-quantize's INPUT [OUTPUT] TYPE [NTHREADS]");
    app.add_option("-t,--type", o.types,
                   "Preset or type name, case-insensitive (Q4_K_M, q4_k, Q8_0, IQ4_XS, F16, COPY, ...); several "
                   "(comma-separated or repeated) write one output each from one read of the input, named by "
                   "{type} in OUTPUT")
        ->allow_extra_args(false);
    app.add_option("--device", o.device, "auto (GPU when present, else CPU), cpu or cuda")
        ->check(CLI::IsMember({"auto", "cpu", "cuda"}, CLI::ignore_case));
    app.add_option("--gpu", o.gpu, "CUDA device(s): N, N,M or all");
    app.add_option("--threads", o.threads_text, "CPU threads (default, or 0: all cores)");
    app.add_option("--cpu-isa", o.cpu_isa, "CPU instruction set: scalar, avx2 or avx512 (default: the fastest "
                                           "this CPU runs; the bytes are the same)");
    app.add_flag("--pure", o.pure, "Every eligible tensor gets the preset's default type (no per-tensor rules)");
    app.add_flag("--leave-output-tensor", o.leave_output, "Leave output.weight unquantized");
    app.add_option("--output-tensor-type", o.output_tensor_type, "Type of output.weight");
    app.add_option("--token-embedding-type", o.token_embedding_type, "Type of token_embd.weight");
    app.add_option("--tensor-type", o.tensor_types, "PATTERN=TYPE (regex, first match wins); repeatable")
        ->take_all()->allow_extra_args(false);
    app.add_option("--tensor-type-file", o.tensor_type_file, "File of PATTERN=TYPE entries");
    app.add_flag("--allow-requantize", o.allow_requantize, "Allow quantized input tensors to be requantized");
    app.add_option("--override-kv", o.overrides, "KEY=TYPE:VALUE (int, float, bool, str); repeatable")
        ->allow_extra_args(false);
    app.add_option("--imatrix", o.imatrix, "Importance matrix (GGUF or legacy .dat)");
    app.add_option("--include-weights", o.include_weights, "Use imatrix entries whose name contains this")
        ->allow_extra_args(false);
    app.add_option("--exclude-weights", o.exclude_weights, "Skip imatrix entries whose name contains this")
        ->allow_extra_args(false);
    app.add_flag("--keep-split", o.keep_split,
                 "Split input: write one output shard per input shard (<prefix>-0000k-of-0000n.gguf)");
    app.add_option("--prune-layers", o.prune_layers, "Drop these layers (comma-separated ids), renumbering the rest");
    app.add_flag("--dry-run", o.dry_run, "Print each tensor's type and the output size; write nothing");
    app.add_option("--chunk-mb", o.chunk_mb, "GPU: MiB of device memory per stream")->check(CLI::PositiveNumber);
    app.add_option("--streams", o.streams, "GPU: chunks in flight per device")->check(CLI::Range(1, 16));
    app.add_option("--io-threads", o.io_threads, "GPU: host threads reading and writing")->check(CLI::Range(1, 64));
    app.add_flag("--fsync", o.fsync, "Flush the output to disk before renaming it into place");
    app.add_flag("-q,--quiet", o.quiet, "Print only the summary line");
    app.add_flag("--list-types", o.list_types, "List the types and presets this build can produce");
    app.add_flag("--verify", o.verify, "After quantizing, report each tensor's error against the source");
    app.add_option("--report", o.report, "Write the per-tensor error table as JSON");
    CLI::App* cmp = app.add_subcommand("compare", "Compare two GGUF files tensor by tensor (exit 0 when identical)");
    cmp->add_option("a", o.cmp_a, "First GGUF")->required();
    cmp->add_option("b", o.cmp_b, "Second GGUF")->required();
    cmp->add_option("--report", o.report, "Write the comparison as JSON");
    CLI11_PARSE(app, argc, argv);
    if (cmp->parsed()) {
        try {
            cli::check_input_file(o.cmp_a, "compare");
            cli::check_input_file(o.cmp_b, "compare");
            if (!o.report.empty()) {
                cli::check_output_location(o.report, "--report");
                cli::check_file_uses({{o.cmp_a, "the first file compared"}, {o.cmp_b, "the second file compared"}},
                                     {{o.report, "the --report file"}});
            }
            const report::CompareReport r = report::compare(o.cmp_a, o.cmp_b);
            report::print_compare(r, stdout);
            if (!o.report.empty()) report::write_report_json(o.report, r);
            return r.identical() ? 0 : 2;
        } catch (const std::bad_alloc&) {
            return out_of_memory();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "kquant-cuda: error: %s\n", e.what());
            return 1;
        }
    }
    if (!o.list_types && o.positionals.empty()) {
        std::fprintf(stderr, "%s\nerror: INPUT is required (--type TYPE INPUT [OUTPUT], or INPUT [OUTPUT] TYPE [NTHREADS])\n",
                     app.help().c_str());
        return 1;
    }
    try {
        return run(o);
    } catch (const std::bad_alloc&) {
        return out_of_memory();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kquant-cuda: error: %s\n", e.what());
        return 1;
    }
}
