// The tiled kernels of the phased codecs (the k-quants, IQ4_XS): one CTA runs each phase of the codec (formats/kquant_scales.h)
// over a tile of 32 super-blocks, with a barrier between phases. The sub-block phases (search,
// requantization) give every thread sub-blocks; the block phases (the weighted paths' sigma2, the block
// scales: make_qp / make_qx over the sub-block scales, which are sequential) give one thread a whole
// super-block, so a full warp runs them while the other warps of the CTA wait at the barrier and
// other CTAs use the SM. (The SubBlock kernels run a block phase on one lane of kSubblocks, which
// idles the rest of the warp; that costs most on the weighted paths of the 16-group types.)
#include "check.cuh"
#include "codecs.cuh"
#include "launch.cuh"
#include "primitives.cuh"
#include "source.cuh"

namespace kquant::cuda::detail {
namespace {

using TiledPolicy = KernelPolicy<128, 32>;  // 32 super-blocks per CTA: one warp's worth of block-phase threads
constexpr int kThreads = TiledPolicy::kThreads, kTile = TiledPolicy::kBlocksPerCta;

template <class C>
struct TileLayout {
    static constexpr int kLen = C::kSubblockElems, kSub = C::kSubblocks;
    static constexpr size_t xs_floats = kTile * QK_K + kTile * QK_K / kLen;  // padded sub-blocks
    static constexpr size_t xs_off = 0;
    static constexpr size_t L_off = xs_off + xs_floats * sizeof(float);
    static constexpr size_t fits_off = L_off + kTile * QK_K;
    static constexpr size_t sig_off = fits_off + kTile * kSub * sizeof(kq::SubblockFit);
    static constexpr size_t bs_off = sig_off + kTile * sizeof(float);
    static constexpr size_t ys_off = (bs_off + kTile * sizeof(kq::BlockScales) + 15) / 16 * 16;
    static constexpr size_t bytes = ys_off + kTile * sizeof(typename C::Block);
};

template <class C, class Src, bool kWeighted>
__global__ void __launch_bounds__(kThreads) tiled_kernel(Launch l) {
    using Lay = TileLayout<C>;
    constexpr int kSub = Lay::kSub, kLen = Lay::kLen;
    using Block = typename C::Block;
    extern __shared__ __align__(16) uint8_t smem[];
    float* xs = reinterpret_cast<float*>(smem + Lay::xs_off);
    uint8_t* Ls = smem + Lay::L_off;
    auto* fits = reinterpret_cast<kq::SubblockFit*>(smem + Lay::fits_off);
    float* sig = reinterpret_cast<float*>(smem + Lay::sig_off);
    auto* bs = reinterpret_cast<kq::BlockScales*>(smem + Lay::bs_off);
    Block* ys = reinterpret_cast<Block*>(smem + Lay::ys_off);

    const CtaBlocks cta = stage_cta<Src, kLen>(l, QK_K, kTile, xs);
    const int64_t nb_row = cta.per_row, b0 = cta.first;
    const int nblk = cta.count;

    const int t = threadIdx.x;
    auto sub_x = [&](int b, int j) { return xs + padded<kLen>(b * QK_K + j * kLen); };
    auto block_qw = [&](int b) {
        const int64_t g = b0 + b;
        return l.block_qw(g / nb_row, (g % nb_row) * QK_K);
    };

    if constexpr (kWeighted) {  // block phase: the super-block sigma2 (one sequential sum)
        if (t < nblk) sig[t] = staged_block_sigma2<C, kLen>(xs, t);
        __syncthreads();
    }
    for (int task = t; task < nblk * kSub; task += kThreads) {  // sub-block phase: the searches
        const int b = task / kSub, j = task % kSub;
        fits[task] = C::fit_subblock(sub_x(b, j), kWeighted ? block_qw(b) + j * kLen : nullptr,
                                     kWeighted ? sig[b] : 0.0f, Ls + b * QK_K + j * kLen);
    }
    __syncthreads();
    if (t < nblk) bs[t] = C::set_block_scales(fits + t * kSub, kWeighted, ys + t);  // block phase
    __syncthreads();
    for (int task = t; task < nblk * kSub; task += kThreads) {  // sub-block phase: requantization
        const int b = task / kSub, j = task % kSub;
        if (bs[b].ok) kq::requantize_subblock<C>(sub_x(b, j), j, ys[b], bs[b], fits[task], Ls + b * QK_K + j * kLen);
    }
    __syncthreads();
    for (int task = t; task < nblk * 32; task += kThreads) {  // column phase: packing
        const int b = task / 32, col = task % 32;
        if (bs[b].ok) C::pack_column(Ls + b * QK_K, col, ys + b);
    }
    __syncthreads();
    store_bytes(reinterpret_cast<const uint8_t*>(ys), static_cast<uint8_t*>(l.d_dst) + b0 * sizeof(Block),
                nblk * static_cast<int>(sizeof(Block)));
}

template <class C, class Src, bool kWeighted>
void launch_one(const Launch& l, unsigned grid) {
    constexpr size_t bytes = TileLayout<C>::bytes;
    auto* k = tiled_kernel<C, Src, kWeighted>;
    // More than 48 KB of dynamic shared memory must be allowed per kernel (per device; cheap to repeat).
    check(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)),
          "cudaFuncSetAttribute (tiled kernel shared memory)");
    k<<<grid, kThreads, bytes, l.stream>>>(l);
}

}  // namespace

bool tiled_supports(Type t) {
    bool ok = false;
    visit_codec(t, [&]<class C>(Tag<C>) { ok = PhasedCodec<C>; });
    return ok;
}

bool launch_tiled(const Launch& l) {
    bool launched = false;
    visit_codec(l.dst, [&]<class C>(Tag<C>) {
        if constexpr (PhasedCodec<C>) {
            visit_source(l.src, [&]<class Src>() {
                const int64_t grid = TiledPolicy::grid(l, QK_K);
                launched = true;
                if (grid == 0) return;
                with_weighted(l, [&]<bool kWeighted>() { launch_one<C, Src, kWeighted>(l, static_cast<unsigned>(grid)); });
                check(cudaGetLastError(), "tiled kernel launch");
            });
        }
    });
    return launched;
}

}  // namespace kquant::cuda::detail
