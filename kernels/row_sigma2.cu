// Pre-pass of the legacy imatrix paths (Q4_0, Q4_1, Q5_0, Q5_1): sigma2 of each whole row. The sum must
// run in index order (a tree reduction gives other bytes), so one thread walks one row; it converts the
// source on the fly and evaluates exactly kquant::row_sigma2 (codec.h): a float sum of x*x, then / n.
#include "check.cuh"
#include "launch.cuh"
#include "source.cuh"

namespace kquant::cuda::detail {
namespace {

template <class Src>
__global__ void row_sigma2_kernel(const typename Src::T* src, int64_t nrows, int64_t n, float* out) {
    const int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (r >= nrows) return;
    const typename Src::T* p = src + r * n;
    float sum_x2 = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
        const float x = Src::to_f32(p[j]);
        sum_x2 += x * x;
    }
    out[r] = sum_x2 / static_cast<float>(n);
}

}  // namespace

void launch_row_sigma2(const Launch& l, float* d_out) {
    if (l.nrows == 0) return;
    visit_source(l.src, [&]<class Src>() {
        constexpr int kThreads = 64;
        const auto grid = static_cast<unsigned>((l.nrows + kThreads - 1) / kThreads);
        row_sigma2_kernel<Src><<<grid, kThreads, 0, l.stream>>>(static_cast<const typename Src::T*>(l.d_src),
                                                                 l.nrows, l.n_per_row, d_out);
        check(cudaGetLastError(), "row sigma2 kernel launch");
    });
}

}  // namespace kquant::cuda::detail
