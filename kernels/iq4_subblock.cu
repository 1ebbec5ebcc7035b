// IQ4_XS sub-block kernel: eight threads per super-block, one per 32-element sub-block. Each thread
// runs its sub-block's table search (search/iq4.h); one lane derives the super-block scale from the
// eight scales (gathered with shuffles); each thread then writes its own indices; one lane packs the
// eight 6-bit codes. The same phases, in the same order, as codec::IQ4_XS::encode (formats/iq4.h).
#include "check.cuh"
#include "codecs.cuh"
#include "launch.cuh"
#include "source.cuh"

namespace kquant::cuda::detail {
namespace {

constexpr int kThreads = 128;
constexpr unsigned kFull = 0xffffffffu;
constexpr int kSub = QK_K / iq4::kSubBlock;  // 8
constexpr int BPC = kThreads / kSub;         // super-blocks per CTA

template <class Src, bool kWeighted>
__global__ void __launch_bounds__(kThreads) iq4xs_subblock_kernel(Launch l) {
    constexpr int kLen = iq4::kSubBlock;
    constexpr iq4::Table T = iq4::table();
    __shared__ float xs[BPC * QK_K + BPC * QK_K / kLen];
    __shared__ __align__(16) uint8_t ys[BPC * sizeof(block_iq4_xs)];

    const CtaBlocks cta = cta_blocks(l, QK_K, BPC);
    const int64_t nb_row = cta.per_row, b0 = cta.first;
    const int nblk = cta.count;
    stage<Src, kLen>(static_cast<const typename Src::T*>(l.d_src), b0 * QK_K, nblk * QK_K, xs, l.d_first_bad);
    __syncthreads();

    const int t = threadIdx.x, b = t / kSub, j = t % kSub;
    const int leader = (t % 32) - j;
    const bool active = b < nblk;
    const int64_t g = b0 + b;
    const float* qwb = kWeighted && active ? l.block_qw(g / nb_row, (g % nb_row) * QK_K) : nullptr;
    const float* xj = xs + padded<kLen>(b * QK_K + j * kLen);
    auto* y = reinterpret_cast<block_iq4_xs*>(ys) + b;

    float sigma2 = 0.0f;
    if constexpr (kWeighted) {
        if (j == 0 && active) {  // one sequential sum over the super-block, on a contiguous copy
            float xb[QK_K];
            for (int e = 0; e < QK_K; ++e) xb[e] = xs[padded<kLen>(b * QK_K + e)];
            sigma2 = iq4::superblock_sigma2(xb, QK_K);
        }
        sigma2 = __shfl_sync(kFull, sigma2, leader);
    }
    float scale = 0.0f;
    if (active) {
        float w[kLen];
        iq4::subblock_weights(xj, kWeighted ? qwb + j * kLen : nullptr, sigma2, w);
        scale = iq4::subblock_scale(xj, w, T.v);
    }
    float scales[kSub];
#pragma unroll
    for (int i = 0; i < kSub; ++i) scales[i] = __shfl_sync(kFull, scale, leader + i);
    float d = 0.0f;
    if (j == 0 && active) {
        d = iq4::xs_block_scale(scales);
        y->d = fp32_to_fp16(d);
    }
    d = __shfl_sync(kFull, d, leader);
    int code = 0;
    if (active) code = iq4::xs_requantize_subblock(xj, d, scale, y->qs + j * 16);
    int codes[kSub];
#pragma unroll
    for (int i = 0; i < kSub; ++i) codes[i] = __shfl_sync(kFull, code, leader + i);
    if (j == 0 && active) iq4::xs_pack_scale_codes(codes, y);
    __syncthreads();
    store_bytes(ys, static_cast<uint8_t*>(l.d_dst) + b0 * sizeof(block_iq4_xs),
                nblk * static_cast<int>(sizeof(block_iq4_xs)));
}

}  // namespace

bool launch_iq4xs_subblock(const Launch& l) {
    if (l.dst != Type::IQ4_XS) return false;
    return visit_source(l.src, [&]<class Src>() {
        const int64_t grid = (l.nblocks(QK_K) + BPC - 1) / BPC;
        if (grid == 0) return;
        if (l.d_qw != nullptr)
            iq4xs_subblock_kernel<Src, true><<<static_cast<unsigned>(grid), kThreads, 0, l.stream>>>(l);
        else
            iq4xs_subblock_kernel<Src, false><<<static_cast<unsigned>(grid), kThreads, 0, l.stream>>>(l);
        check(cudaGetLastError(), "IQ4_XS sub-block kernel launch");
    });
}

}  // namespace kquant::cuda::detail
