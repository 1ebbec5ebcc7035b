// Orchestrates one output file: lays it out, copies/converts the tensors that are not quantized, hands
// the quantization jobs to the CPU or CUDA backend, and commits the file only when everything succeeded.
#include "kquant/pipeline.h"

#include <chrono>
#include <cstring>
#include <cstdio>
#include <atomic>
#include <memory>
#include <mutex>
#include <unordered_set>
#include <unistd.h>

#include "kquant/error.h"
#include "kquant/numeric.h"
#include "kquant/quantize.h"
#include "kquant/validate.h"
#include "common/parallel.h"
#if KQUANT_HAVE_CUDA
#include "kquant/cuda_backend.h"
#endif

namespace kquant {
namespace {

// A quantized row that ggml_validate_row_data rejects (an inf or NaN scale, an invalid E8M0 exponent):
// llama-quantize stops on it ("quantized data validation failed"), and so do we, naming the tensor and
// the row, before the bytes reach the file.
struct InvalidQuantizedData : Error {
    using Error::Error;
};

void validate_quantized(const QuantJob& job, uint64_t offset, const void* data, size_t n) {
    const RowProblem p = validate_row(job.dst_type, data, n);
    if (p.ok) return;
    const size_t bb = type_info(job.dst_type).block_bytes, rb = row_bytes(job.dst_type, job.n_per_row);
    const uint64_t at = offset + static_cast<uint64_t>(p.block < 0 ? 0 : p.block) * bb;
    throw InvalidQuantizedData(context(job.file, job.name,
                                       "quantized data validation failed: row " + std::to_string(at / rb) +
                                           ", block " + std::to_string(at % rb / bb) + ": " + p.what +
                                           " (llama-quantize refuses such a tensor too)"));
}

// NaN/Inf in a float tensor that is copied unchanged: llama-quantize copies them silently, and so do
// we (the bytes stay), but a warning names the tensor, the count and the first position.
void warn_non_finite_copy(const gguf::TensorInfo& t, const std::string& file, const uint8_t* src,
                          const std::function<void(const std::string&)>& log) {
    if (!log || (t.type != Type::F32 && t.type != Type::F16 && t.type != Type::BF16)) return;
    const int64_t n = t.nelements(), esize = t.type == Type::F32 ? 4 : 2;
    int64_t count = 0, first = -1;
    for (int64_t at = 0; at < n;) {
        const int64_t k = find_non_finite(t.type, src + at * esize, n - at);
        if (k < 0) break;
        if (first < 0) first = at + k;
        ++count;
        at += k + 1;
    }
    if (count == 0) return;
    const int64_t ne0 = t.ne_at(0);  // > 0: the tensor has elements
    log("warning: " + context(file, t.name,
                              std::to_string(count) + " non-finite value" + (count == 1 ? "" : "s") +
                    " (NaN or Inf) copied unchanged, the first at row " + std::to_string(first / ne0) + ", column " +
                    std::to_string(first % ne0) + " (llama-quantize copies them too)"));
}

// Writes a tensor converted to F32/F16/BF16 (or copied), in row chunks.
void convert_tensor(const gguf::Model& in, const PlannedTensor& p, gguf::Writer& w, size_t index,
                    const std::function<void(const std::string&)>& log) {
    const gguf::TensorInfo& t = *p.src;
    const std::string& file = in.file_of(p.input).path();
    const uint8_t* src = in.tensor_data(p.input);
    if (p.action == TensorAction::Copy) {
        warn_non_finite_copy(t, file, src, log);
        w.write_tensor(index, 0, src, t.nbytes);
        return;
    }
    if (t.nelements() == 0) return;  // a zero-sized dimension: no bytes
    const int64_t ne0 = t.ne_at(0), nrows = t.nrows();
    const size_t src_row = row_bytes(t.type, ne0), dst_row = row_bytes(p.dst, ne0);
    std::vector<float> f32(static_cast<size_t>(ne0));
    std::vector<uint8_t> out(dst_row);
    for (int64_t r = 0; r < nrows; ++r) {
        const uint8_t* row = src + r * src_row;
        const int64_t bad = find_non_finite(t.type, row, ne0);  // float sources only; -1 otherwise
        if (bad >= 0)
            fail(file, t.name, "non-finite value (NaN or Inf) at row " + std::to_string(r) + ", column " +
                                   std::to_string(bad));
        convert_to_f32(t.type, row, f32.data(), ne0);
        switch (p.dst) {
            case Type::F32: std::memcpy(out.data(), f32.data(), dst_row); break;
            case Type::F16: {
                auto* h = reinterpret_cast<uint16_t*>(out.data());
                for (int64_t i = 0; i < ne0; ++i) h[i] = fp32_to_fp16(f32[i]);
                break;
            }
            case Type::BF16: {
                auto* h = reinterpret_cast<uint16_t*>(out.data());
                for (int64_t i = 0; i < ne0; ++i) h[i] = fp32_to_bf16(f32[i]);
                break;
            }
            default: fail(file, t.name, "internal: convert to a non-float type");
        }
        w.write_tensor(index, static_cast<uint64_t>(r) * dst_row, out.data(), dst_row);
    }
}

// The layout alignment of an output: llama-quantize lays out with 32 but copies an input
// `general.alignment` key; a file whose key disagrees with its layout is unreadable, so a copied key
// decides the layout here.
size_t output_alignment(const std::vector<gguf::KV>& kvs) {
    for (const gguf::KV& kv : kvs)
        if (kv.key == "general.alignment") return static_cast<size_t>(kv.value.as_int());
    return 32;
}

// "[ 12/291] 3.1/16.0 GB  5.2 GB/s  ETA 3 s" on stderr, redrawn in place; only on a terminal.
class ProgressLine {
public:
    ProgressLine(bool on, size_t jobs) : on_(on), jobs_(jobs), t0_(std::chrono::steady_clock::now()) {}
    void set_total(uint64_t b) { total_ = b; }
    void advance(uint64_t src_bytes) {
        if (!on_) return;
        std::lock_guard<std::mutex> lk(mu_);
        ++done_jobs_;
        done_ += src_bytes;
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
        const double rate = s > 0 ? done_ / s : 0.0;
        const double eta = rate > 0 && total_ > done_ ? (total_ - done_) / rate : 0.0;
        std::fprintf(stderr, "\r[%4zu/%4zu] %.2f/%.2f GB  %.2f GB/s  ETA %.0f s   ", done_jobs_, jobs_, done_ / 1e9,
                     total_ / 1e9, rate / 1e9, eta);
        std::fflush(stderr);
    }
    void finish() {
        if (on_ && done_jobs_ > 0) std::fprintf(stderr, "\n");
    }

private:
    bool on_;
    size_t jobs_, done_jobs_ = 0;
    uint64_t total_ = 0, done_ = 0;
    std::chrono::steady_clock::time_point t0_;
    std::mutex mu_;
};

// The CUDA backend as an accelerator (a build without CUDA has none: asking for it is an error).
AcceleratorFn cuda_accelerator(const PipelineOptions& opt) {
#if KQUANT_HAVE_CUDA
    return [&opt](const std::vector<QuantJob>& jobs, const WriteFn& write, const ProgressFn& progress) {
        cuda::Options co;
        co.devices = opt.gpus;
        co.chunk_bytes = opt.gpu_chunk_bytes;
        co.streams = opt.gpu_streams;
        co.io_threads = opt.io_threads;
        const cuda::Stats cs = cuda::run(jobs, co, write, progress);
        AcceleratorStats as;
        as.backend = "cuda";
        for (size_t k = 0; k < cs.devices.size(); ++k) as.backend += (k ? ", " : " (") + cs.devices[k];
        if (!cs.devices.empty()) as.backend += ")";
        as.read_s = cs.read_s, as.h2d_s = cs.h2d_s, as.kernel_s = cs.kernel_s;
        as.d2h_s = cs.d2h_s, as.write_s = cs.write_s;
        return as;
    };
#else
    (void)opt;
    throw Error("this build has no CUDA support (nvcc was not found when it was built)");
#endif
}

}  // namespace

PipelineStats run_pipeline(const gguf::Model& in, const std::vector<OutputFile>& outputs,
                           const PipelineOptions& opt, const std::function<void(const std::string&)>& log) {
    // Every output is laid out (and its space reserved) before any tensor work starts.
    std::vector<std::unique_ptr<gguf::Writer>> writers;
    for (const OutputFile& o : outputs) {
        std::vector<gguf::Writer::TensorSpec> specs;
        specs.reserve(o.tensors.size());
        for (const PlannedTensor& p : o.tensors) specs.push_back({p.name, gguf::written_shape(p.src->ne), p.dst});
        writers.push_back(std::make_unique<gguf::Writer>(o.path, o.kvs, specs, output_alignment(o.kvs)));
    }

    PipelineStats st;
    const auto t0 = std::chrono::steady_clock::now();

    struct Target {
        size_t file, index;  // writer and tensor index in it
    };
    std::vector<QuantJob> jobs;
    std::vector<Target> targets;  // per job
    std::unordered_set<const gguf::TensorInfo*> read;  // sources counted in bytes_in (once each)
    for (size_t f = 0; f < outputs.size(); ++f) {
        for (size_t i = 0; i < outputs[f].tensors.size(); ++i) {
            const PlannedTensor& p = outputs[f].tensors[i];
            ++st.tensors;
            if (read.insert(p.src).second) st.bytes_in += p.src->nbytes;
            if (p.action != TensorAction::Quantize) {
                convert_tensor(in, p, *writers[f], i, log);
                continue;
            }
            // A tensor with a zero-sized dimension has no bytes to write: no job (the backends divide
            // by the row length).
            if (p.src->nelements() == 0) continue;
            QuantJob j;
            j.name = p.name;
            j.file = in.file_of(p.input).path();
            j.src_type = p.src->type;
            j.src = in.tensor_data(p.input);
            j.n_per_row = p.src->ne_at(0);
            j.nrows = p.src->nrows();
            j.rows_per_slice = p.src->ne_at(1);
            j.dst_type = p.dst;
            j.qw = p.qw;
            jobs.push_back(std::move(j));
            targets.push_back({f, i});
        }
    }
    st.quantized = jobs.size();
    std::atomic<uint64_t> quant_bytes_written{0};
    const WriteFn write = [&](size_t job, uint64_t off, const void* data, size_t n) {
        validate_quantized(jobs[job], off, data, n);
        writers[targets[job].file]->write_tensor(targets[job].index, off, data, n);
        quant_bytes_written.fetch_add(n, std::memory_order_relaxed);
    };
    ProgressLine bar(opt.progress, jobs.size());
    uint64_t quant_src_bytes = 0;  // each source once, however many outputs read it
    for (const std::vector<size_t>& g : jobs_by_source(jobs))
        quant_src_bytes += static_cast<uint64_t>(jobs[g.front()].nrows) * row_bytes(jobs[g.front()].src_type, jobs[g.front()].n_per_row);
    bar.set_total(quant_src_bytes);
    const ProgressFn progress = [&](size_t, uint64_t src_bytes) { bar.advance(src_bytes); };
    bool on_cpu = opt.device == DeviceKind::Cpu;
    if (!on_cpu) {
        const AcceleratorFn accelerator = opt.accelerator ? opt.accelerator : cuda_accelerator(opt);
        try {
            const AcceleratorStats as = accelerator(jobs, write, progress);
            st.backend = as.backend;
            st.read_s = as.read_s, st.h2d_s = as.h2d_s, st.kernel_s = as.kernel_s;
            st.d2h_s = as.d2h_s, st.write_s = as.write_s;
        } catch (const InvalidQuantizedData&) {
            throw;  // the data, not the GPU: the CPU would make the same bytes
        } catch (const Error& e) {
            if (!opt.allow_cpu_fallback || quant_bytes_written.load() != 0) throw;
            if (log) log(std::string("GPU failed before writing any quantized data (") + e.what() +
                         "); falling back to the CPU");
            on_cpu = true;
        }
    }
    if (on_cpu) {
        run_cpu_jobs(jobs, opt.threads, write, progress, opt.cpu_isa);
        st.backend = std::string("cpu (") + cpu_isa_name(opt.cpu_isa) + ", " +
                     std::to_string(resolve_threads(opt.threads)) + " threads)";
    }
    bar.finish();
    // All files complete before the first one appears under its name; a failed rename takes back the
    // ones renamed before it, so no partial set of shards is left.
    for (auto& w : writers) w->finish(opt.fsync);
    if (opt.before_publish) {
        std::vector<std::string> readable;
        for (auto& w : writers) readable.push_back(w->readable_path());
        opt.before_publish(readable);
    }
    for (size_t f = 0; f < writers.size(); ++f) {
        try {
            writers[f]->publish(opt.fsync);
        } catch (...) {
            for (size_t g = 0; g < f; ++g) ::unlink(outputs[g].path.c_str());
            throw;
        }
    }
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (auto& w : writers) {
        st.output_bytes.push_back(w->total_size());
        st.bytes_out += w->total_size();
    }
    return st;
}

PipelineStats run_pipeline(const gguf::Model& in, const std::vector<gguf::KV>& kvs,
                           const std::vector<PlannedTensor>& plan, const std::string& out_path,
                           const PipelineOptions& opt, const std::function<void(const std::string&)>& log) {
    return run_pipeline(in, std::vector<OutputFile>{{out_path, kvs, plan}}, opt, log);
}

}  // namespace kquant
