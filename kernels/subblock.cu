// The sub-block kernels of the phased codecs (the k-quants and IQ4_XS): kSubblocks threads per
// super-block. Each thread runs its sub-block's whole search (phase 1) sequentially; the block's fits are
// gathered into one lane, which runs the codec's block phase (d, dmin, packed codes); its BlockScales
// are broadcast, then every thread requantizes its sub-block and packs its share of the columns. The
// phases are the codec's (formats/kquant_scales.h); this file only decides which thread runs which.
#include "check.cuh"
#include "codecs.cuh"
#include "launch.cuh"
#include "primitives.cuh"
#include "source.cuh"

namespace kquant::cuda::detail {
namespace {

template <class C>
using SubblockPolicy = KernelPolicy<128, 128 / C::kSubblocks>;

template <class C, class Src, bool kWeighted>
__global__ void __launch_bounds__(SubblockPolicy<C>::kThreads) subblock_kernel(Launch l) {
    constexpr int kSub = C::kSubblocks, kLen = C::kSubblockElems;
    constexpr int BPC = SubblockPolicy<C>::kBlocksPerCta;
    static_assert(32 % kSub == 0, "a super-block's threads must share one warp");
    using Block = typename C::Block;
    // Sub-blocks padded by one word: the threads of a warp read different sub-blocks at the same offset.
    __shared__ float xs[BPC * QK_K + BPC * QK_K / kLen];
    __shared__ uint8_t Ls[BPC * QK_K];
    __shared__ __align__(16) uint8_t ys[BPC * sizeof(Block)];

    const CtaBlocks cta = stage_cta<Src, kLen>(l, QK_K, BPC, xs);
    const int64_t nb_row = cta.per_row, b0 = cta.first;
    const int nblk = cta.count;

    const int t = threadIdx.x, b = t / kSub, j = t % kSub;
    const int leader = (t % 32) - j;  // lane of this super-block's sub-block 0
    const bool active = b < nblk;
    const int64_t g = b0 + b;
    const float* qwb = kWeighted && active ? l.block_qw(g / nb_row, (g % nb_row) * QK_K) : nullptr;
    const float* xj = xs + padded<kLen>(b * QK_K + j * kLen);
    uint8_t* Lb = Ls + b * QK_K;
    Block* y = reinterpret_cast<Block*>(ys) + b;

    float sigma2 = 0.0f;
    if constexpr (kWeighted) {
        if (j == 0 && active) sigma2 = staged_block_sigma2<C, kLen>(xs, b);
        sigma2 = __shfl_sync(kFullMask, sigma2, leader);
    }

    kq::SubblockFit fit{0.0f, 0.0f, 0.0f};
    if (active) fit = C::fit_subblock(xj, kWeighted ? qwb + j * kLen : nullptr, sigma2, Lb + j * kLen);

    kq::SubblockFit fits[kSub];
    warp_gather<kSub>(fit, leader, fits);
    kq::BlockScales bs{false, 0.0f};
    if (j == 0 && active) bs = C::set_block_scales(fits, kWeighted, y);
    bs = warp_broadcast(bs, leader);
    __syncwarp();
    if (active && bs.ok) kq::requantize_subblock<C>(xj, j, *y, bs, fit, Lb + j * kLen);
    __syncwarp();
    if (active && bs.ok)
        for (int col = j; col < 32; col += kSub) C::pack_column(Lb, col, y);
    __syncthreads();
    store_bytes(ys, static_cast<uint8_t*>(l.d_dst) + b0 * sizeof(Block), nblk * static_cast<int>(sizeof(Block)));
}

}  // namespace

bool subblock_supports(Type t) {
    bool ok = false;
    visit_codec(t, [&]<class C>(Tag<C>) { ok = PhasedCodec<C>; });
    return ok;
}

bool launch_subblock(const Launch& l) {
    bool launched = false;
    visit_codec(l.dst, [&]<class C>(Tag<C>) {
        if constexpr (PhasedCodec<C>) {
            visit_source(l.src, [&]<class Src>() {
                using P = SubblockPolicy<C>;
                const int64_t grid = P::grid(l, QK_K);
                launched = true;
                if (grid == 0) return;
                with_weighted(l, [&]<bool kWeighted>() {
                    subblock_kernel<C, Src, kWeighted><<<static_cast<unsigned>(grid), P::kThreads, 0, l.stream>>>(l);
                });
                check(cudaGetLastError(), "sub-block kernel launch");
            });
        }
    });
    return launched;
}

}  // namespace kquant::cuda::detail
