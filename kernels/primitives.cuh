// Small composable pieces the kernels are built from (the way CUB builds WarpReduce): the CTA prologue,
// warp broadcasts of small structs, the one-lane super-block σ², the ordered first-lane search of the
// sequential folds, and the plain/weighted launch switch. Each kernel file only decides which thread
// runs which phase of a codec.
#pragma once
#include <cstdint>
#include <type_traits>

#include <cub/util_ptx.cuh>

#include "launch.cuh"
#include "source.cuh"

namespace kquant::cuda::detail {

inline constexpr unsigned kFullMask = 0xffffffffu;

// A kernel family's shape: threads per CTA and quantization blocks per CTA.
template <int kThreadsT, int kBlocksPerCtaT>
struct KernelPolicy {
    static constexpr int kThreads = kThreadsT;
    static constexpr int kBlocksPerCta = kBlocksPerCtaT;
    // CTAs for a launch of l over blocks of block_elems elements.
    static int64_t grid(const Launch& l, int64_t block_elems) {
        return (l.nblocks(block_elems) + kBlocksPerCta - 1) / kBlocksPerCta;
    }
};

#if defined(__CUDACC__)
// The CTA prologue: which blocks this CTA quantizes, their source elements staged into xs as f32 (padded
// every SEG floats, non-finite values reported), and a barrier. All threads of the CTA call it.
template <class Src, int SEG>
__device__ CtaBlocks stage_cta(const Launch& l, int64_t block_elems, int per_cta, float* xs) {
    const CtaBlocks cta = cta_blocks(l, block_elems, per_cta);
    stage<Src, SEG>(static_cast<const typename Src::T*>(l.d_src), cta.first * block_elems,
                    cta.count * static_cast<int>(block_elems), xs, l.d_first_bad);
    __syncthreads();
    return cta;
}

// v as held by lane src, in every lane of the warp (all lanes call it): CUB's word-by-word shuffle, exact
// for any trivially copyable T.
template <class T>
__device__ T warp_broadcast(const T& v, int src) {
    static_assert(std::is_trivially_copyable_v<T>);
    return cub::ShuffleIndex<32>(v, src, kFullMask);
}

// out[i] = v of lane first + i, i < N (all lanes call it): a block's per-sub-block values in one lane.
template <int N, class T>
__device__ void warp_gather(const T& v, int first, T* out) {
#pragma unroll
    for (int i = 0; i < N; ++i) out[i] = warp_broadcast(v, first + i);
}

// The first lane k (0 <= k < G) of lane group grp (lanes grp·G .. grp·G + G - 1) whose pred holds, or -1.
// The sequential folds of the searches (accept in candidate order) are built on it; the order is what
// decides the bytes, so this is a ballot, not a reduction. All lanes of the warp call it.
template <int G>
__device__ int first_lane_in_group(bool pred, int grp) {
    static_assert(G == 16 || G == 32);
    constexpr unsigned kGroupMask = G == 32 ? kFullMask : ((1u << G) - 1u);
    const unsigned m = (__ballot_sync(kFullMask, pred) >> (grp * G)) & kGroupMask;
    return m != 0 ? __ffs(static_cast<int>(m)) - 1 : -1;
}

// The weighted paths' super-block σ² of staged block b (sub-blocks of kLen padded by one word): one
// sequential sum, as C::block_sigma2 makes it, so one lane runs it on a contiguous copy.
template <class C, int kLen>
__device__ float staged_block_sigma2(const float* xs, int b) {
    float xb[QK_K];
    for (int e = 0; e < QK_K; ++e) xb[e] = xs[padded<kLen>(b * QK_K + e)];
    return C::block_sigma2(xb);
}
#endif

// Calls f.template operator()<true>() when the launch has importance weights, <false>() otherwise: the
// weighted flag is a template parameter of every kernel.
template <class F>
void with_weighted(const Launch& l, F&& f) {
    if (l.d_qw != nullptr)
        f.template operator()<true>();
    else
        f.template operator()<false>();
}

}  // namespace kquant::cuda::detail
