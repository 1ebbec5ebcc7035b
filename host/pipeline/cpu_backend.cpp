// The CPU backend: threads take chunks of rows, convert them to f32, check them for NaN/Inf, quantize
// them with the codec of the chosen instruction set and hand the bytes to the writer. Row chunks are independent, so the bytes
// never depend on the thread count.
#include <algorithm>
#include <atomic>
#include <limits>
#include <thread>
#include <vector>

#include "kquant/error.h"
#include "kquant/pipeline.h"
#include "kquant/quantize.h"
#include "common/parallel.h"

namespace kquant {

void run_cpu_jobs(const std::vector<QuantJob>& jobs, int threads, const WriteFn& write, const ProgressFn& progress,
                  CpuIsa isa) {
    if (!cpu_isa_supported(isa))
        throw Error(std::string("CPU instruction set ") + cpu_isa_name(isa) + " is not supported by this CPU");
    for (size_t ji = 0; ji < jobs.size(); ++ji) {
        const QuantJob& job = jobs[ji];
        const RowCodec* codec = cpu_codec(job.dst_type, isa);
        if (codec == nullptr)
            fail(job.file, job.name, "no quantizer for type " + std::string(type_info(job.dst_type).name));
        const size_t src_row = row_bytes(job.src_type, job.n_per_row);
        const size_t dst_row = row_bytes(job.dst_type, job.n_per_row);
        const int64_t rows_per_chunk = std::max<int64_t>(1, (1 << 16) / job.n_per_row);
        const int64_t nchunks = (job.nrows + rows_per_chunk - 1) / rows_per_chunk;
        std::atomic<int64_t> first_bad{std::numeric_limits<int64_t>::max()};
        run_chunked(nchunks, threads, [&](const auto& next) {
            std::vector<float> f32(static_cast<size_t>(rows_per_chunk * job.n_per_row));
            std::vector<uint8_t> out(static_cast<size_t>(rows_per_chunk) * dst_row);
            for (int64_t c; (c = next()) >= 0;) {
                const int64_t r0 = c * rows_per_chunk, r1 = std::min(job.nrows, r0 + rows_per_chunk);
                const int64_t n = (r1 - r0) * job.n_per_row;
                const auto* src = static_cast<const uint8_t*>(job.src) + r0 * src_row;
                const int64_t bad = find_non_finite(job.src_type, src, n);
                if (bad >= 0) {
                    int64_t want = r0 * job.n_per_row + bad, cur = first_bad.load();
                    while (want < cur && !first_bad.compare_exchange_weak(cur, want)) {}
                    continue;
                }
                if (first_bad.load() != std::numeric_limits<int64_t>::max()) continue;
                convert_to_f32(job.src_type, src, f32.data(), n);
                for (int64_t r = r0; r < r1; ++r) {
                    const float* qw = job.qw ? job.qw + (r / job.rows_per_slice) * job.n_per_row : nullptr;
                    codec->quantize_row(f32.data() + (r - r0) * job.n_per_row, out.data() + (r - r0) * dst_row,
                                        job.n_per_row, qw);
                }
                write(ji, static_cast<uint64_t>(r0) * dst_row, out.data(), static_cast<size_t>(r1 - r0) * dst_row);
            }
        });
        const int64_t bad = first_bad.load();
        if (bad != std::numeric_limits<int64_t>::max())
            fail(job.file, job.name,
                 "non-finite value (NaN or Inf) at row " + std::to_string(bad / job.n_per_row) + ", column " +
                     std::to_string(bad % job.n_per_row));
        if (progress) progress(ji, static_cast<uint64_t>(job.nrows) * src_row);
    }
}

}  // namespace kquant
