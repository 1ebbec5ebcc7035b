// The CUDA job runner. Jobs that read the same source tensor (jobs_by_source: one read, several output
// types) form a group; each group's tensor is cut into chunks of whole rows. Every device runs `streams`
// slots, and each slot loops: read a chunk from the memory-mapped source into its pinned buffer (spread
// over the io pool: parallel page-cache reads), H2D once, one kernel per job of the group into
// consecutive ranges of the output buffer, one D2H, then hand each job's bytes to the writer (again on
// the io pool). Slots are independent, so while one slot reads, another's chunk is on the GPU and a
// third one's bytes are being written: all five stages overlap. Device memory per slot is bounded by
// chunk_bytes (source + every job's quantized rows of one chunk, so independent of the number of
// outputs), plus the current tensor's importance weights.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "check.cuh"
#include "kquant/cuda_backend.h"
#include "kquant/error.h"
#include "kquant/job.h"
#include "kquant/quantize.h"
#include "common/parallel.h"

namespace kquant::cuda {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool device_readable(Type t) { return t == Type::F32 || t == Type::F16 || t == Type::BF16; }

// Per-job facts the runner needs.
struct JobPlan {
    size_t dst_row = 0;     // quantized bytes per row
    int64_t rows_per_slice = 1;
    size_t qw_floats = 0;   // n_per_row * slices, when weighted
};

// Per-group facts: the shared source and the chunking.
struct GroupPlan {
    std::vector<size_t> jobs;   // indices into the job list, in order (a group of jobs_by_source)
    Type dev_src = Type::F32;   // what the kernels read: the source type, or F32 after host dequantization
    size_t src_row = 0;         // source bytes per row in the mapping
    size_t dev_row = 0;         // bytes per row the kernels read
    size_t dst_rows = 0;        // quantized bytes per row, summed over the group's jobs
    int64_t rows_per_chunk = 1;
    std::atomic<int64_t> chunks_left{0};
};

struct Chunk {
    size_t group;
    int64_t r0, r1;
};

std::string mib(size_t b) { return std::to_string((b + (1u << 20) - 1) >> 20) + " MiB"; }

class Runner {
public:
    Runner(const std::vector<QuantJob>& jobs, const Options& opt, const WriteFn& write, const ProgressFn& progress)
        : jobs_(jobs),
          opt_(opt),
          write_(write),
          progress_(progress),
          plans_(jobs.size()),
          groups_(group_plans(jobs)),
          fault_(injected_fault()) {}

    Stats run() {
        t0_ = Clock::now();
        plan();
        const DeviceStatus st = probe();
        if (st.count == 0) throw Error("CUDA: no device: " + st.reason);
        if (opt_.devices.empty()) throw Error("CUDA: no device selected");
        for (int d : opt_.devices) {
            if (d < 0 || d >= st.count)
                throw Error("CUDA: device " + std::to_string(d) + " does not exist (" + std::to_string(st.count) +
                            " found)");
            stats_.devices.push_back(st.names[static_cast<size_t>(d)]);
        }
        for (size_t g = 0; g < groups_.size(); ++g)
            if (groups_[g].chunks_left.load() == 0) finish_group(g);
        if (!chunks_.empty()) {
            TaskPool pool(std::max(1, opt_.io_threads));
            pool_ = &pool;
            const int streams = std::max(1, opt_.streams);
            std::vector<std::jthread> slots;
            for (int d : opt_.devices)
                for (int s = 0; s < streams; ++s) slots.emplace_back([this, d] { slot_main(d); });
            slots.clear();  // joins
            pool_ = nullptr;
        }
        if (error_) std::rethrow_exception(error_);
        stats_.wall_s = seconds_since(t0_);
        stats_.setup_s = std::min(stats_.wall_s, setup_s_);
        return stats_;
    }

private:
    // One plan per group of jobs_by_source, holding its job indices; plan() fills in the rest.
    static std::vector<GroupPlan> group_plans(const std::vector<QuantJob>& jobs) {
        std::vector<std::vector<size_t>> by_source = jobs_by_source(jobs);
        std::vector<GroupPlan> groups(by_source.size());
        for (size_t g = 0; g < groups.size(); ++g) groups[g].jobs = std::move(by_source[g]);
        return groups;
    }

    void plan() {
        for (size_t j = 0; j < jobs_.size(); ++j) {
            const QuantJob& job = jobs_[j];
            JobPlan& p = plans_[j];
            if (!is_block_quantized(job.dst_type) || variants_for(job.dst_type).empty())
                fail(job.file, job.name, "no CUDA kernel for type " + std::string(type_info(job.dst_type).name));
            const int64_t be = type_info(job.dst_type).block_elems;
            if (job.n_per_row <= 0 || job.n_per_row % be != 0)
                fail(job.file, job.name, "row length " + std::to_string(job.n_per_row) + " is not a multiple of " +
                                       std::to_string(be) + " (" + std::string(type_info(job.dst_type).name) + ")");
            if (!device_readable(job.src_type) && scalar_codec(job.src_type) == nullptr)
                fail(job.file, job.name, "cannot read source type " + std::string(type_info(job.src_type).name));
            p.dst_row = row_bytes(job.dst_type, job.n_per_row);
            p.rows_per_slice = job.rows_per_slice > 0 ? job.rows_per_slice : std::max<int64_t>(1, job.nrows);
            if (job.qw != nullptr) {
                const int64_t slices = (job.nrows + p.rows_per_slice - 1) / p.rows_per_slice;
                p.qw_floats = static_cast<size_t>(slices * job.n_per_row);
            }
            qw_cap_ = std::max(qw_cap_, p.qw_floats);
        }
        size_t total_chunks = 0;
        for (size_t gi = 0; gi < groups_.size(); ++gi) {
            GroupPlan& g = groups_[gi];
            const QuantJob& job = jobs_[g.jobs.front()];  // the group's source (jobs_by_source: all the same)
            // F32, F16 and BF16 are converted by the kernels; other types are dequantized on the host
            // (requantization).
            g.dev_src = device_readable(job.src_type) ? job.src_type : Type::F32;
            g.src_row = row_bytes(job.src_type, job.n_per_row);
            g.dev_row = row_bytes(g.dev_src, job.n_per_row);
            for (size_t j : g.jobs) g.dst_rows += plans_[j].dst_row;
            g.rows_per_chunk = std::max<int64_t>(1, static_cast<int64_t>(opt_.chunk_bytes / (g.dev_row + g.dst_rows)));
            int64_t n = 0;
            for (int64_t r0 = 0; r0 < job.nrows; r0 += g.rows_per_chunk, ++n)
                chunks_.push_back(Chunk{gi, r0, std::min(job.nrows, r0 + g.rows_per_chunk)});
            g.chunks_left.store(n);
            total_chunks += static_cast<size_t>(n);
            const size_t rows = static_cast<size_t>(std::min(g.rows_per_chunk, job.nrows));
            if (rows * g.dev_row > in_cap_) in_cap_ = rows * g.dev_row, in_cap_job_ = g.jobs.front();
            out_cap_ = std::max(out_cap_, rows * g.dst_rows);
        }
        stats_.chunks = total_chunks;
    }

    bool failed() const { return failed_.load(std::memory_order_relaxed); }

    void record_error(std::exception_ptr e) {
        std::lock_guard lk(m_);
        if (!error_) error_ = e;
        failed_.store(true);
    }

    // Every job of the group is done. The source was read once: its bytes count for the first job.
    void finish_group(size_t gi) {
        const GroupPlan& g = groups_[gi];
        if (!progress_) return;
        std::lock_guard lk(progress_m_);
        for (size_t k = 0; k < g.jobs.size(); ++k)
            progress_(g.jobs[k], k == 0 ? static_cast<uint64_t>(jobs_[g.jobs[k]].nrows) * g.src_row : 0);
    }

    // The slot's resources on one device; freed by the destructor on the slot's thread.
    struct Slot {
        cudaStream_t stream = nullptr;
        cudaEvent_t ev[4] = {};
        uint8_t *h_in = nullptr, *h_out = nullptr, *d_in = nullptr, *d_out = nullptr;
        unsigned long long *d_bad = nullptr, *h_bad = nullptr;
        float* d_qw = nullptr;
        const float* qw_host = nullptr;  // the weights d_qw holds (jobs of a group share theirs)
        size_t qw_floats = 0;
        ~Slot() {
            if (stream) cudaStreamSynchronize(stream);
            for (cudaEvent_t e : ev)
                if (e) cudaEventDestroy(e);
            if (stream) cudaStreamDestroy(stream);
            cudaFreeHost(h_in);
            cudaFreeHost(h_out);
            cudaFreeHost(h_bad);
            cudaFree(d_in);
            cudaFree(d_out);
            cudaFree(d_bad);
            cudaFree(d_qw);
        }
    };

    // KQUANT_CUDA_FAULT makes a real GPU run fail the way a CUDA error would, so that the tests can
    // check what a user sees: "alloc" fails every slot's device allocation (out of memory) before any
    // chunk is read; "after-write" fails a chunk right after its bytes were written.
    enum class Fault { None, Alloc, AfterWrite };
    static Fault injected_fault() {
        const char* f = std::getenv("KQUANT_CUDA_FAULT");
        if (f == nullptr || *f == 0) return Fault::None;
        if (std::string_view(f) == "alloc") return Fault::Alloc;
        if (std::string_view(f) == "after-write") return Fault::AfterWrite;
        throw Error(std::string("KQUANT_CUDA_FAULT=") + f + ": unknown fault (alloc or after-write)");
    }

    void alloc(Slot& s, int device) {
        const std::string who = "CUDA device " + std::to_string(device) + ": ";
        const std::string need = " (" + mib(in_cap_ + out_cap_) + " staging for tensor '" +
                                 jobs_[in_cap_job_].name + "', chunk_bytes " + std::to_string(opt_.chunk_bytes) + ")";
        auto ck = [&](cudaError_t e, const char* what) {
            if (e != cudaSuccess) throw Error(who + what + ": " + cudaGetErrorString(e) + need);
        };
        if (fault_ == Fault::Alloc) ck(cudaErrorMemoryAllocation, "device allocation (KQUANT_CUDA_FAULT=alloc)");
        ck(cudaSetDevice(device), "cudaSetDevice");
        ck(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "stream creation");
        for (cudaEvent_t& e : s.ev) ck(cudaEventCreate(&e), "event creation");
        ck(cudaHostAlloc(reinterpret_cast<void**>(&s.h_in), in_cap_, cudaHostAllocPortable), "pinned allocation");
        ck(cudaHostAlloc(reinterpret_cast<void**>(&s.h_out), out_cap_, cudaHostAllocPortable), "pinned allocation");
        ck(cudaHostAlloc(reinterpret_cast<void**>(&s.h_bad), sizeof(unsigned long long), cudaHostAllocPortable),
           "pinned allocation");
        ck(cudaMalloc(reinterpret_cast<void**>(&s.d_in), in_cap_), "device allocation");
        ck(cudaMalloc(reinterpret_cast<void**>(&s.d_out), out_cap_), "device allocation");
        ck(cudaMalloc(reinterpret_cast<void**>(&s.d_bad), sizeof(unsigned long long)), "device allocation");
        if (qw_cap_ > 0) ck(cudaMalloc(reinterpret_cast<void**>(&s.d_qw), qw_cap_ * sizeof(float)), "device allocation");
    }

    void slot_main(int device) {
        try {
            Slot s;
            alloc(s, device);
            {
                std::lock_guard lk(m_);
                setup_s_ = std::max(setup_s_, seconds_since(t0_));
            }
            for (;;) {
                if (failed()) return;
                const size_t ci = next_chunk_.fetch_add(1);
                if (ci >= chunks_.size()) return;
                const Chunk& c = chunks_[ci];
                try {
                    process(s, c);
                } catch (const Error& e) {
                    const QuantJob& job = jobs_[groups_[c.group].jobs.front()];
                    throw Error(context(job.file, job.name, e.what()));
                }
            }
        } catch (...) {
            record_error(std::current_exception());
        }
    }

    // Splits [0, n) into at most io_threads pieces of at least `min_piece` units.
    int pieces(int64_t n, int64_t min_piece) const {
        const int64_t p = std::min<int64_t>(std::max(1, opt_.io_threads), (n + min_piece - 1) / min_piece);
        return static_cast<int>(std::max<int64_t>(1, p));
    }

    void read_chunk(const Slot& s, const Chunk& c) {
        const GroupPlan& g = groups_[c.group];
        const QuantJob& job = jobs_[g.jobs.front()];
        const auto* src = static_cast<const uint8_t*>(job.src);
        const int64_t rows = c.r1 - c.r0;
        if (g.dev_src == job.src_type) {
            const size_t bytes = static_cast<size_t>(rows) * g.src_row;
            const size_t base = static_cast<size_t>(c.r0) * g.src_row;
            const int np = pieces(static_cast<int64_t>(bytes), 1 << 20);
            pool_->parallel_for(np, [&](int i) {
                const size_t a = bytes * static_cast<size_t>(i) / static_cast<size_t>(np);
                const size_t b = bytes * static_cast<size_t>(i + 1) / static_cast<size_t>(np);
                std::memcpy(s.h_in + a, src + base + a, b - a);
            });
            return;
        }
        const int np = pieces(rows, 1);
        pool_->parallel_for(np, [&](int i) {
            for (int64_t r = c.r0 + rows * i / np; r < c.r0 + rows * (i + 1) / np; ++r)
                convert_to_f32(job.src_type, src + static_cast<size_t>(r) * g.src_row,
                               reinterpret_cast<float*>(s.h_in + static_cast<size_t>(r - c.r0) * g.dev_row),
                               job.n_per_row);
        });
    }

    // One chunk of a group: read and uploaded once, then every job's kernel writes its rows to its own
    // range of d_out (job k after the rows of jobs 0..k-1), one D2H, and each job's bytes to its output.
    void process(Slot& s, const Chunk& c) {
        using detail::check;
        const GroupPlan& g = groups_[c.group];
        const int64_t n_per_row = jobs_[g.jobs.front()].n_per_row;
        const int64_t rows = c.r1 - c.r0;
        const size_t in_bytes = static_cast<size_t>(rows) * g.dev_row;
        const size_t out_bytes = static_cast<size_t>(rows) * g.dst_rows;

        auto t = Clock::now();
        read_chunk(s, c);
        const double read_s = seconds_since(t);

        check(cudaMemsetAsync(s.d_bad, 0xff, sizeof(unsigned long long), s.stream), "cudaMemsetAsync");
        check(cudaEventRecord(s.ev[0], s.stream), "cudaEventRecord");
        check(cudaMemcpyAsync(s.d_in, s.h_in, in_bytes, cudaMemcpyHostToDevice, s.stream), "H2D copy");
        check(cudaEventRecord(s.ev[1], s.stream), "cudaEventRecord");
        size_t off = 0;
        for (size_t j : g.jobs) {
            const QuantJob& job = jobs_[j];
            const JobPlan& p = plans_[j];
            if (job.qw != nullptr && (s.qw_host != job.qw || s.qw_floats != p.qw_floats)) {
                // Ordered on the stream after the previous job's kernel, which read the old weights.
                check(cudaMemcpyAsync(s.d_qw, job.qw, p.qw_floats * sizeof(float), cudaMemcpyHostToDevice, s.stream),
                      "importance weights H2D copy");
                s.qw_host = job.qw;
                s.qw_floats = p.qw_floats;
            }
            quantize_device(job.dst_type, g.dev_src, s.d_in, s.d_out + off, rows, n_per_row, p.rows_per_slice,
                            job.qw != nullptr ? s.d_qw : nullptr, s.stream, opt_.variant, c.r0, s.d_bad);
            off += static_cast<size_t>(rows) * p.dst_row;
        }
        check(cudaEventRecord(s.ev[2], s.stream), "cudaEventRecord");
        check(cudaMemcpyAsync(s.h_out, s.d_out, out_bytes, cudaMemcpyDeviceToHost, s.stream), "D2H copy");
        check(cudaMemcpyAsync(s.h_bad, s.d_bad, sizeof(unsigned long long), cudaMemcpyDeviceToHost, s.stream),
              "D2H copy");
        check(cudaEventRecord(s.ev[3], s.stream), "cudaEventRecord");
        check(cudaEventSynchronize(s.ev[3]), "quantization on the device");
        float ms[3] = {};
        for (int i = 0; i < 3; ++i) check(cudaEventElapsedTime(&ms[i], s.ev[i], s.ev[i + 1]), "cudaEventElapsedTime");

        // Every kernel saw the same source: they agree on its first non-finite element.
        if (*s.h_bad != std::numeric_limits<unsigned long long>::max()) {
            const int64_t bad = static_cast<int64_t>(*s.h_bad);
            throw Error("non-finite value (NaN or Inf) at row " + std::to_string(c.r0 + bad / n_per_row) +
                        ", column " + std::to_string(bad % n_per_row));
        }
        if (failed()) return;

        t = Clock::now();
        off = 0;
        for (size_t j : g.jobs) {
            const size_t dst_row = plans_[j].dst_row;
            const size_t bytes = static_cast<size_t>(rows) * dst_row;
            const uint64_t file_off = static_cast<uint64_t>(c.r0) * dst_row;
            const uint8_t* h = s.h_out + off;
            const int np = pieces(static_cast<int64_t>(bytes), 4 << 20);
            pool_->parallel_for(np, [&](int i) {
                const size_t a = bytes * static_cast<size_t>(i) / static_cast<size_t>(np);
                const size_t b = bytes * static_cast<size_t>(i + 1) / static_cast<size_t>(np);
                write_(j, file_off + a, h + a, b - a);
            });
            off += bytes;
        }
        const double write_s = seconds_since(t);
        if (fault_ == Fault::AfterWrite)
            throw Error("CUDA: an error after the chunk's bytes were written (KQUANT_CUDA_FAULT=after-write)");
        {
            std::lock_guard lk(m_);
            stats_.read_s += read_s;
            stats_.h2d_s += ms[0] * 1e-3;
            stats_.kernel_s += ms[1] * 1e-3;
            stats_.d2h_s += ms[2] * 1e-3;
            stats_.write_s += write_s;
            stats_.bytes_in += static_cast<uint64_t>(rows) * g.src_row;
            stats_.bytes_out += out_bytes;
        }
        if (groups_[c.group].chunks_left.fetch_sub(1) == 1) finish_group(c.group);
    }

    const std::vector<QuantJob>& jobs_;
    const Options& opt_;
    const WriteFn& write_;
    const ProgressFn& progress_;
    std::vector<JobPlan> plans_;
    std::vector<GroupPlan> groups_;
    std::vector<Chunk> chunks_;
    std::atomic<size_t> next_chunk_{0};
    size_t in_cap_ = 0, out_cap_ = 0, qw_cap_ = 0, in_cap_job_ = 0;
    TaskPool* pool_ = nullptr;
    std::mutex m_, progress_m_;
    std::atomic<bool> failed_{false};
    std::exception_ptr error_;
    Stats stats_;
    Clock::time_point t0_;
    double setup_s_ = 0;  // when the last slot had its buffers
    Fault fault_;
};

}  // namespace

Stats run(const std::vector<QuantJob>& jobs, const Options& opt, const WriteFn& write, const ProgressFn& progress) {
    Runner r(jobs, opt, write, progress);
    return r.run();
}

}  // namespace kquant::cuda
