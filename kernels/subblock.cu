// The sub-block kernels of the k-quants: kSubblocks threads per super-block. Each thread runs its
// sub-block's whole search (phase 1) sequentially; the block's fits are gathered with shuffles into one
// lane, which runs the codec's block phase (d, dmin, packed codes); then every thread requantizes its
// sub-block and packs its share of the columns. The phases are the codec's (formats/kquant_scales.h);
// this file only decides which thread runs which.
#include "check.cuh"
#include "codecs.cuh"
#include "launch.cuh"
#include "source.cuh"

namespace kquant::cuda::detail {
namespace {

constexpr int kThreads = 128;
constexpr unsigned kFull = 0xffffffffu;

template <class C, class Src, bool kWeighted>
__global__ void __launch_bounds__(kThreads) subblock_kernel(Launch l) {
    constexpr int kSub = C::kSubblocks, kLen = C::kSubblockElems;
    constexpr int BPC = kThreads / kSub;  // super-blocks per CTA
    static_assert(32 % kSub == 0, "a super-block's threads must share one warp");
    using Block = typename C::Block;
    // Sub-blocks padded by one word: the threads of a warp read different sub-blocks at the same offset.
    __shared__ float xs[BPC * QK_K + BPC * QK_K / kLen];
    __shared__ uint8_t Ls[BPC * QK_K];
    __shared__ __align__(16) uint8_t ys[BPC * sizeof(Block)];

    const CtaBlocks cta = cta_blocks(l, QK_K, BPC);
    const int64_t nb_row = cta.per_row, b0 = cta.first;
    const int nblk = cta.count;
    stage<Src, kLen>(static_cast<const typename Src::T*>(l.d_src), b0 * QK_K, nblk * QK_K, xs, l.d_first_bad);
    __syncthreads();

    const int t = threadIdx.x, b = t / kSub, j = t % kSub;
    const int leader = (t % 32) - j;  // lane of this super-block's sub-block 0
    const bool active = b < nblk;
    constexpr bool weighted = kWeighted;
    const int64_t g = b0 + b;
    const float* qwb = weighted && active ? l.block_qw(g / nb_row, (g % nb_row) * QK_K) : nullptr;
    const float* xj = xs + padded<kLen>(b * QK_K + j * kLen);
    uint8_t* Lb = Ls + b * QK_K;
    Block* y = reinterpret_cast<Block*>(ys) + b;

    float sigma2 = 0.0f;
    if constexpr (weighted) {
        // The block sigma2 is one sequential sum over the super-block: one lane runs the codec's function
        // on a contiguous copy (the staged layout is padded).
        if (j == 0 && active) {
            float xb[QK_K];
            for (int e = 0; e < QK_K; ++e) xb[e] = xs[padded<kLen>(b * QK_K + e)];
            sigma2 = C::block_sigma2(xb);
        }
        sigma2 = __shfl_sync(kFull, sigma2, leader);
    }

    kq::SubblockFit fit{0.0f, 0.0f, 0.0f};
    if (active) fit = C::fit_subblock(xj, weighted ? qwb + j * kLen : nullptr, sigma2, Lb + j * kLen);

    kq::SubblockFit fits[kSub];
#pragma unroll
    for (int i = 0; i < kSub; ++i) {
        fits[i].scale = __shfl_sync(kFull, fit.scale, leader + i);
        fits[i].min = __shfl_sync(kFull, fit.min, leader + i);
        fits[i].sum_w = __shfl_sync(kFull, fit.sum_w, leader + i);
    }
    int ok = 0;
    if (j == 0 && active) ok = C::set_block_scales(fits, weighted, y) ? 1 : 0;
    ok = __shfl_sync(kFull, ok, leader);
    __syncwarp();
    if (active && ok) C::requantize_subblock(xj, j, *y, Lb + j * kLen);
    __syncwarp();
    if (active && ok)
        for (int col = j; col < 32; col += kSub) C::pack_column(Lb, col, y);
    __syncthreads();
    store_bytes(ys, static_cast<uint8_t*>(l.d_dst) + b0 * sizeof(Block), nblk * static_cast<int>(sizeof(Block)));
}

}  // namespace

bool subblock_supports(Type t) {
    bool ok = false;
    visit_codec(t, [&]<class C>(Tag<C>) { ok = PhasedCodec<C>; });
    return ok || t == Type::IQ4_XS;
}

bool launch_subblock(const Launch& l) {
    if (l.dst == Type::IQ4_XS) return launch_iq4xs_subblock(l);
    bool launched = false;
    visit_codec(l.dst, [&]<class C>(Tag<C>) {
        if constexpr (PhasedCodec<C>) {
            visit_source(l.src, [&]<class Src>() {
                constexpr int BPC = kThreads / C::kSubblocks;
                const int64_t grid = (l.nblocks(QK_K) + BPC - 1) / BPC;
                launched = true;
                if (grid == 0) return;
                if (l.d_qw != nullptr)
                    subblock_kernel<C, Src, true><<<static_cast<unsigned>(grid), kThreads, 0, l.stream>>>(l);
                else
                    subblock_kernel<C, Src, false><<<static_cast<unsigned>(grid), kThreads, 0, l.stream>>>(l);
                check(cudaGetLastError(), "sub-block kernel launch");
            });
        }
    });
    return launched;
}

}  // namespace kquant::cuda::detail
