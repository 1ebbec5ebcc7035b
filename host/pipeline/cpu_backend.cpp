// The CPU backend: threads take chunks of rows, convert them to f32, check them for NaN/Inf, quantize
// them with the codec of the chosen instruction set and hand the bytes to the writer. Jobs that read the
// same source tensor (one read, several output types) share each chunk: it is read, checked and converted
// once and quantized once per job. Row chunks are independent, so the bytes never depend on the thread
// count.
#include <algorithm>
#include <atomic>
#include <limits>
#include <vector>

#include "common/parallel.h"
#include "kquant/error.h"
#include "kquant/pipeline.h"
#include "kquant/quantize.h"

namespace kquant {

void run_cpu_jobs(const std::vector<QuantJob>& jobs, int threads, const WriteFn& write, const ProgressFn& progress,
                  CpuIsa isa) {
    if (!cpu_isa_supported(isa))
        throw Error(std::string("CPU instruction set ") + cpu_isa_name(isa) + " is not supported by this CPU");
    for (const std::vector<size_t>& group : jobs_by_source(jobs)) {
        const QuantJob& src_job = jobs[group.front()];
        std::vector<const RowCodec*> codecs;
        for (size_t ji : group) {
            const QuantJob& job = jobs[ji];
            codecs.push_back(cpu_codec(job.dst_type, isa));
            if (codecs.back() == nullptr)
                fail(job.file, job.name, "no quantizer for type " + std::string(type_info(job.dst_type).name));
        }
        const int64_t n_per_row = src_job.n_per_row, nrows = src_job.nrows;
        const size_t src_row = row_bytes(src_job.src_type, n_per_row);
        size_t max_dst_row = 0;
        for (size_t ji : group) max_dst_row = std::max(max_dst_row, row_bytes(jobs[ji].dst_type, n_per_row));
        const int64_t rows_per_chunk = std::max<int64_t>(1, (1 << 16) / n_per_row);
        const int64_t nchunks = (nrows + rows_per_chunk - 1) / rows_per_chunk;
        std::atomic<int64_t> first_bad{std::numeric_limits<int64_t>::max()};
        run_chunked(nchunks, threads, [&](const auto& next) {
            std::vector<float> f32(static_cast<size_t>(rows_per_chunk * n_per_row));
            std::vector<uint8_t> out(static_cast<size_t>(rows_per_chunk) * max_dst_row);
            for (int64_t c; (c = next()) >= 0;) {
                const int64_t r0 = c * rows_per_chunk, r1 = std::min(nrows, r0 + rows_per_chunk);
                const int64_t n = (r1 - r0) * n_per_row;
                const auto* src = static_cast<const uint8_t*>(src_job.src) + r0 * src_row;
                const int64_t bad = find_non_finite(src_job.src_type, src, n);
                if (bad >= 0) {
                    int64_t want = r0 * n_per_row + bad, cur = first_bad.load();
                    while (want < cur && !first_bad.compare_exchange_weak(cur, want)) {}
                    continue;
                }
                if (first_bad.load() != std::numeric_limits<int64_t>::max()) continue;
                convert_to_f32(src_job.src_type, src, f32.data(), n);
                for (size_t k = 0; k < group.size(); ++k) {
                    const QuantJob& job = jobs[group[k]];
                    const size_t dst_row = row_bytes(job.dst_type, n_per_row);
                    for (int64_t r = r0; r < r1; ++r) {
                        const float* qw = job.qw ? job.qw + (r / job.rows_per_slice) * n_per_row : nullptr;
                        codecs[k]->quantize_row(f32.data() + (r - r0) * n_per_row, out.data() + (r - r0) * dst_row,
                                                n_per_row, qw);
                    }
                    write(group[k], static_cast<uint64_t>(r0) * dst_row, out.data(),
                          static_cast<size_t>(r1 - r0) * dst_row);
                }
            }
        });
        const int64_t bad = first_bad.load();
        if (bad != std::numeric_limits<int64_t>::max())
            fail(src_job.file, src_job.name,
                 "non-finite value (NaN or Inf) at row " + std::to_string(bad / n_per_row) + ", column " +
                     std::to_string(bad % n_per_row));
        // The source was read once: its bytes count for the group's first job.
        if (progress)
            for (size_t k = 0; k < group.size(); ++k)
                progress(group[k], k == 0 ? static_cast<uint64_t>(nrows) * src_row : 0);
    }
}

}  // namespace kquant
