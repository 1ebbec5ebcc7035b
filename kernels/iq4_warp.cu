// IQ4_NL / IQ4_XS warp kernels: the table search of one 32-element sub-block is spread over 16 lanes.
// Lane 15 evaluates the starting inverse scale, lanes 0..14 the candidates itry = -7..7, all with
// search/iq4.h's functions. The candidates' sums do not depend on the search state, so nothing is
// re-evaluated; only the folding into the state is sequential: the first lane (in candidate order) whose
// accept() changes the state wins, then the next one after it, until none does (hand-written ballot loop:
// the order of the fold decides the bytes). A warp runs two sub-blocks at once: IQ4_NL two blocks,
// IQ4_XS two sub-blocks of its super-block at a time, then the codec's phases 2 and 3.
#include "check.cuh"
#include "codecs.cuh"
#include "launch.cuh"
#include "primitives.cuh"
#include "source.cuh"

namespace kquant::cuda::detail {
namespace {

using Iq4WarpPolicy = KernelPolicy<128, 4>;  // four warps; IQ4_NL: two blocks per warp, IQ4_XS: one
constexpr int kWarps = Iq4WarpPolicy::kBlocksPerCta;
constexpr int G = 16;  // lanes per sub-block: 15 candidates + the starting point
constexpr int kLen = iq4::kSubBlock;

__device__ bool same_state(iq4::ScaleState a, iq4::ScaleState b) {
    return f32_bits(a.d) == f32_bits(b.d) && f32_bits(a.best) == f32_bits(b.best);
}

// The float scale of the sub-block x (weights w in shared memory), computed by the 16 lanes of group
// grp; every lane of the group returns it.
__device__ float group_scale(const float* x, const float* w, int grp, int k) {
    constexpr iq4::Table T = iq4::table();
    const search::AbsArgmax m = search::abs_argmax(iq4::kSubBlock, x);
    const bool zero = m.amax < search::kGroupMaxEps;  // identical in every lane of the group
    iq4::Sums s{0.0f, 0.0f};
    iq4::ScaleState cur{0.0f, 0.0f};
    if (!zero) {
        if (k == G - 1)
            cur = iq4::initial_state(x, w, m.max, T.v);
        else
            s = iq4::candidate_sums(x, w, iq4::candidate_id(k - iq4::kNTry, m.max, T.v), T.v);
    }
    cur = warp_broadcast(cur, grp * G + G - 1);
    int start = 0;
    bool over = zero;
    while (__any_sync(kFullMask, !over)) {
        const iq4::ScaleState next = iq4::accept(s, cur);
        const bool changes = !over && k < G - 1 && k >= start && !same_state(next, cur);
        const int hit = first_lane_in_group<G>(changes, grp);
        const iq4::ScaleState won = warp_broadcast(next, grp * G + (hit >= 0 ? hit : 0));
        if (over) continue;
        if (hit < 0) {
            over = true;
        } else {
            cur = won;
            start = hit + 1;
        }
    }
    return zero ? 0.0f : cur.d;
}

template <class Src, bool kWeighted>
__global__ void __launch_bounds__(Iq4WarpPolicy::kThreads) iq4nl_warp_kernel(Launch l) {
    constexpr int kBlocks = kWarps * 2;  // two blocks per warp
    constexpr iq4::Table T = iq4::table();
    __shared__ float xs[kBlocks * (kLen + 1)];
    __shared__ float ws[kBlocks][kLen];
    __shared__ __align__(16) uint8_t ys[kBlocks * sizeof(block_iq4_nl)];

    const CtaBlocks cta = stage_cta<Src, kLen>(l, kLen, kBlocks, xs);
    const int64_t nb_row = cta.per_row, b0 = cta.first;
    const int nblk = cta.count;

    const int lane = threadIdx.x % 32, grp = lane / G, k = lane % G;
    const int b = (threadIdx.x / 32) * 2 + grp;
    const bool active = b < nblk;  // uniform per group
    const int64_t g = b0 + b;
    const float* x = xs + b * (kLen + 1);
    float* w = ws[b];
    auto* y = reinterpret_cast<block_iq4_nl*>(ys) + b;
    if (active && k == 0) {
        // IQ4_NL's super-block is its one block: sigma2 over these 32 elements.
        const float* qw = kWeighted ? l.block_qw(g / nb_row, (g % nb_row) * kLen) : nullptr;
        const float sigma2 = kWeighted ? iq4::superblock_sigma2(x, QK4_NL) : 0.0f;
        iq4::subblock_weights(x, qw, sigma2, w);
    }
    __syncwarp();
    // Inactive groups search unstaged (but allocated) memory: every lane must take part in the shuffles.
    const float scale = group_scale(x, w, grp, k);
    if (active && k == 0) {
        y->d = fp32_to_fp16(scale);
        const float id = scale != 0.0f ? 1.0f / scale : 0.0f;
        iq4::pack_subblock(x, id, T.v, y->qs);
    }
    __syncthreads();
    store_bytes(ys, static_cast<uint8_t*>(l.d_dst) + b0 * sizeof(block_iq4_nl),
                nblk * static_cast<int>(sizeof(block_iq4_nl)));
}

template <class Src, bool kWeighted>
__global__ void __launch_bounds__(Iq4WarpPolicy::kThreads) iq4xs_warp_kernel(Launch l) {
    using C = codec::IQ4_XS;
    constexpr int kSub = C::kSubblocks;
    __shared__ float xs[kWarps * (QK_K + QK_K / kLen)];
    __shared__ float ws[kWarps][2][kLen];
    __shared__ kq::SubblockFit fits[kWarps][kSub];
    __shared__ uint8_t Ls[kWarps][QK_K];
    __shared__ __align__(16) uint8_t ys[kWarps * sizeof(block_iq4_xs)];

    const CtaBlocks cta = stage_cta<Src, kLen>(l, QK_K, kWarps, xs);
    const int64_t nb_row = cta.per_row, b0 = cta.first;
    const int nblk = cta.count;

    const int wi = threadIdx.x / 32, lane = threadIdx.x % 32, grp = lane / G, k = lane % G;
    if (wi < nblk) {  // warp-uniform
        const int64_t g = b0 + wi;
        const float* qwb = kWeighted ? l.block_qw(g / nb_row, (g % nb_row) * QK_K) : nullptr;
        auto* y = reinterpret_cast<block_iq4_xs*>(ys) + wi;
        uint8_t* L = Ls[wi];
        auto sub_x = [&](int j) { return xs + padded<kLen>(wi * QK_K + j * kLen); };
        float sigma2 = 0.0f;
        if constexpr (kWeighted) {
            if (lane == 0) sigma2 = staged_block_sigma2<C, kLen>(xs, wi);
            sigma2 = __shfl_sync(kFullMask, sigma2, 0);
        }
        // Phase 1, two sub-blocks at a time (one per 16-lane group).
        for (int j0 = 0; j0 < kSub; j0 += 2) {
            const int j = j0 + grp;
            float* w = ws[wi][grp];
            if (k == 0) iq4::subblock_weights(sub_x(j), kWeighted ? qwb + j * kLen : nullptr, sigma2, w);
            __syncwarp();
            const float s = group_scale(sub_x(j), w, grp, k);
            if (k == 0) fits[wi][j] = kq::SubblockFit{s, 0.0f, 0.0f};
            __syncwarp();
        }
        // Phases 2 and 3 of the codec.
        kq::BlockScales bs{false, 0.0f};
        if (lane == 0) bs = C::set_block_scales(fits[wi], kWeighted, y);
        bs = warp_broadcast(bs, 0);
        if (lane < kSub) kq::requantize_subblock<C>(sub_x(lane), lane, *y, bs, fits[wi][lane], L + lane * kLen);
        __syncwarp();
        C::pack_column(L, lane, y);
    }
    __syncthreads();
    store_bytes(ys, static_cast<uint8_t*>(l.d_dst) + b0 * sizeof(block_iq4_xs),
                nblk * static_cast<int>(sizeof(block_iq4_xs)));
}

}  // namespace

bool launch_iq4_warp(const Launch& l) {
    if (l.dst != Type::IQ4_NL && l.dst != Type::IQ4_XS) return false;
    return visit_source(l.src, [&]<class Src>() {
        const bool nl = l.dst == Type::IQ4_NL;
        const int64_t per_cta = nl ? kWarps * 2 : kWarps;
        const int64_t grid = (l.nblocks(nl ? kLen : QK_K) + per_cta - 1) / per_cta;
        if (grid == 0) return;
        const auto gx = static_cast<unsigned>(grid);
        constexpr int kThreads = Iq4WarpPolicy::kThreads;
        with_weighted(l, [&]<bool kWeighted>() {
            if (nl)
                iq4nl_warp_kernel<Src, kWeighted><<<gx, kThreads, 0, l.stream>>>(l);
            else
                iq4xs_warp_kernel<Src, kWeighted><<<gx, kThreads, 0, l.stream>>>(l);
        });
        check(cudaGetLastError(), "IQ4 warp kernel launch");
    });
}

}  // namespace kquant::cuda::detail
