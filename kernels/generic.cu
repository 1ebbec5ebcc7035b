// The generic kernel: one thread per block, running the codec's whole quantize / quantize_weighted
// through quantize_block (the same calls kquant::quantize_row makes on the CPU; grid codecs read the
// launch's device grid). It covers every type at once and is the
// correctness baseline that the specialised kernels are measured against.
#include "check.cuh"
#include "codecs.cuh"
#include "launch.cuh"
#include "primitives.cuh"
#include "source.cuh"

namespace kquant::cuda::detail {
namespace {

// Threads (= blocks) per CTA: at most 128, and 8192 elements, so the staged inputs of a CTA stay under
// 48 KB of shared memory (256-element blocks: 32 threads; 128: 64; 64 and 32: 128).
template <class C>
constexpr int kGenericThreads = 8192 / C::kBlockElems < 128 ? 8192 / C::kBlockElems : 128;
template <class C>
using GenericPolicy = KernelPolicy<kGenericThreads<C>, kGenericThreads<C>>;

template <class C, class Src>
__global__ void __launch_bounds__(GenericPolicy<C>::kThreads) generic_kernel(Launch l) {
    constexpr int TPB = GenericPolicy<C>::kThreads;
    constexpr int BE = C::kBlockElems;
    using Block = typename C::Block;
    // Each block's elements are contiguous and followed by one pad word (no bank conflicts when every
    // thread walks its own block).
    __shared__ float xs[TPB * (BE + 1)];
    __shared__ __align__(16) uint8_t ys[TPB * sizeof(Block)];

    const CtaBlocks cta = stage_cta<Src, BE>(l, BE, TPB, xs);
    const int64_t nb_row = cta.per_row, b0 = cta.first;
    const int nblk = cta.count;

    const int t = threadIdx.x;
    if (t < nblk) {
        const int64_t g = b0 + t;
        const int64_t row = g / nb_row, col = (g % nb_row) * BE;
        const float* x = xs + t * (BE + 1);
        Block* y = reinterpret_cast<Block*>(ys) + t;
        const float s2 = l.d_qw != nullptr && C::kRowSigma2 ? l.d_row_sigma2[row] : 0.0f;
        quantize_block<C>(grid_of<C>(l.grids), x, l.block_qw(row, col), s2, y);
    }
    __syncthreads();
    store_bytes(ys, static_cast<uint8_t*>(l.d_dst) + b0 * sizeof(Block), nblk * static_cast<int>(sizeof(Block)));
}

}  // namespace

bool generic_supports(Type t) {
    bool ok = false;
    visit_codec(t, [&]<class C>(Tag<C>) { ok = DeviceCodec<C>; });
    return ok;
}

bool needs_row_sigma2(Type t) {
    bool ok = false;
    visit_codec(t, [&]<class C>(Tag<C>) { ok = C::kRowSigma2; });
    return ok;
}

bool launch_generic(const Launch& l) {
    bool launched = false;
    visit_codec(l.dst, [&]<class C>(Tag<C>) {
        if constexpr (DeviceCodec<C>) {
            visit_source(l.src, [&]<class Src>() {
                using P = GenericPolicy<C>;
                const int64_t grid = P::grid(l, C::kBlockElems);
                launched = true;
                if (grid == 0) return;
                generic_kernel<C, Src><<<static_cast<unsigned>(grid), P::kThreads, 0, l.stream>>>(l);
                check(cudaGetLastError(), "generic kernel launch");
            });
        }
    });
    return launched;
}

}  // namespace kquant::cuda::detail
