// The warp-per-block speculative kernels of the min/scale searches (Q2_K, Q4_K, Q5_K, plain and
// weighted). The candidates of a sub-block's search are spread over the lanes of a group (32 lanes, or
// 16 when a search has at most 16 candidates, so two sub-blocks run at once) and evaluated with the
// same search/qkx.h functions as the CPU. ggml accepts candidates in order, strictly better only, and an
// accepted candidate's min changes how every later candidate is evaluated (spec §10.3). So each round
// every lane evaluates one candidate under the current state, and the round is resolved in candidate
// order: the first lane that would be accepted wins; if its min has other bits than the state the round
// was evaluated under, the lanes after it are stale and the next round starts right after it; if not,
// only `best` moved and resolution goes on in the same round. This is search::make_qkx_speculative,
// with lanes for its loop.
#include "check.cuh"
#include "codecs.cuh"
#include "launch.cuh"
#include "primitives.cuh"
#include "source.cuh"

namespace kquant::cuda::detail {
namespace {

using WarpPolicy = KernelPolicy<128, 4>;  // one super-block per warp
constexpr int kWarps = WarpPolicy::kBlocksPerCta;

// The state of one group's search; identical in every lane of the group.
struct GroupSearch {
    search::QkxState st;
    int next = 0;         // first candidate not yet resolved
    int acc_is = -1;      // last accepted candidate
    float acc_min = 0.0f; // the min it was evaluated under (its levels are recomputed at the end)
    bool done = false;
};

// Resolves one round. c: this lane's candidate (valid only where evaluated), evaluated under eval_min.
// Hand-written ballot loop rather than a CUB reduction: the winner must be the first accepting lane in
// candidate order under a `best` that moves as lanes are accepted.
template <int G>
__device__ void resolve_round(GroupSearch& gs, const search::QkxCandidate& c, bool evaluated, float eval_min,
                              int count, int grp, int k) {
    int start = 0, advance = 0;
    bool over = gs.done;
    while (__any_sync(kFullMask, !over)) {
        const bool accepts = !over && evaluated && k >= start && search::qkx_accepts(c, gs.st.best);
        const int hit = first_lane_in_group<G>(accepts, grp);
        const int first = hit >= 0 ? hit : 0;
        const int src = grp * G + first;  // (the candidate's accepted flag is not needed: three words)
        const float scale = __shfl_sync(kFullMask, c.scale, src);
        const float min = __shfl_sync(kFullMask, c.min, src);
        const float err = __shfl_sync(kFullMask, c.err, src);
        if (over) continue;
        if (hit < 0) {
            advance = count - gs.next < G ? count - gs.next : G;
            over = true;
            continue;
        }
        gs.st = search::QkxState{scale, min, err};
        gs.acc_is = gs.next + first;
        gs.acc_min = eval_min;
        if (f32_bits(min) != f32_bits(eval_min)) {
            advance = first + 1;
            over = true;
        } else {
            start = first + 1;
        }
    }
    if (!gs.done) {
        gs.next += advance;
        gs.done = gs.next >= count;
    }
}

template <class C, class Src, bool kWeighted>
__global__ void __launch_bounds__(WarpPolicy::kThreads) warp_kernel(Launch l) {
    constexpr search::QkxParams P = C::search_params(kWeighted);
    constexpr int kSub = C::kSubblocks, kLen = C::kSubblockElems;
    constexpr int kCount = search::qkx_candidate_count(P);
    constexpr int G = kCount <= 16 ? 16 : 32;  // lanes per sub-block search
    constexpr int kGroups = 32 / G;
    static_assert(kSub % kGroups == 0);
    using Block = typename C::Block;
    __shared__ float xs[kWarps * (QK_K + QK_K / kLen)];
    __shared__ float ws[kWarps][kGroups][kLen];
    __shared__ uint8_t Ls[kWarps][QK_K];
    __shared__ kq::SubblockFit fits[kWarps][kSub];
    __shared__ __align__(16) uint8_t ys[kWarps * sizeof(Block)];

    const CtaBlocks cta = stage_cta<Src, kLen>(l, QK_K, kWarps, xs);
    const int64_t nb_row = cta.per_row, b0 = cta.first;
    const int nblk = cta.count;

    const int wi = threadIdx.x / 32, lane = threadIdx.x % 32, grp = lane / G, k = lane % G;
    if (wi < nblk) {  // warp-uniform
        const int64_t g = b0 + wi;
        const float* qwb = kWeighted ? l.block_qw(g / nb_row, (g % nb_row) * QK_K) : nullptr;
        uint8_t* L = Ls[wi];
        Block* y = reinterpret_cast<Block*>(ys) + wi;
        auto sub_x = [&](int j) { return xs + padded<kLen>(wi * QK_K + j * kLen); };

        float sigma2 = 0.0f;
        if constexpr (kWeighted) {
            if (lane == 0) sigma2 = staged_block_sigma2<C, kLen>(xs, wi);
            sigma2 = __shfl_sync(kFullMask, sigma2, 0);
        }

        for (int j0 = 0; j0 < kSub; j0 += kGroups) {
            const int j = j0 + grp;
            const float* xj = sub_x(j);
            float* w = ws[wi][grp];
            if (k == 0) C::subblock_weights(xj, kWeighted ? qwb + j * kLen : nullptr, sigma2, w);
            __syncwarp();
            const search::QkxSetup s = search::qkx_setup(kLen, xj, w);
            GroupSearch gs;
            gs.st = search::QkxState{0.0f, s.min, 0.0f};
            const bool degenerate = search::qkx_degenerate(P, s);
            if (degenerate) {
                if (k == 0)
                    for (int i = 0; i < kLen; ++i) L[j * kLen + i] = 0;
                gs.done = true;
            } else {
                if (k == 0) gs.st = search::qkx_initial(P, kLen, xj, w, s, L + j * kLen);
                gs.done = kCount == 0;
            }
            gs.st = warp_broadcast(gs.st, grp * G);

            while (__any_sync(kFullMask, !gs.done)) {
                const int is = gs.next + k;
                const bool evaluated = !gs.done && is < kCount;
                const float eval_min = gs.st.min;
                search::QkxCandidate c{0.0f, 0.0f, 0.0f, false};
                if (evaluated) c = search::qkx_eval(P, kLen, xj, w, s, eval_min, is, nullptr);
                resolve_round<G>(gs, c, evaluated, eval_min, kCount, grp, k);
            }
            if (k == 0) {
                if (gs.acc_is >= 0) search::qkx_levels(P, kLen, xj, s, gs.acc_min, gs.acc_is, L + j * kLen);
                // make_qkx returns (scale, -min); the codec's fit adds the weight sum of the weighted paths.
                fits[wi][j] = kq::SubblockFit{gs.st.scale, -gs.st.min, kWeighted ? kq::sum_in_order(kLen, w) : 0.0f};
            }
            __syncwarp();
        }

        kq::BlockScales bs{false, 0.0f};
        if (lane == 0) bs = C::set_block_scales(fits[wi], kWeighted, y);
        bs = warp_broadcast(bs, 0);
        __syncwarp();
        if (bs.ok && lane < kSub) kq::requantize_subblock<C>(sub_x(lane), lane, *y, bs, fits[wi][lane], L + lane * kLen);
        __syncwarp();
        if (bs.ok) C::pack_column(L, lane, y);
    }
    __syncthreads();
    store_bytes(ys, static_cast<uint8_t*>(l.d_dst) + b0 * sizeof(Block), nblk * static_cast<int>(sizeof(Block)));
}

}  // namespace

bool warp_supports(Type t) {
    bool ok = false;
    visit_codec(t, [&]<class C>(Tag<C>) { ok = QkxCodec<C> || Iq4TableCodec<C>; });
    return ok;
}

bool launch_warp(const Launch& l) {
    bool launched = false;
    visit_codec(l.dst, [&]<class C>(Tag<C>) {
        if constexpr (QkxCodec<C>) {
            visit_source(l.src, [&]<class Src>() {
                const int64_t grid = WarpPolicy::grid(l, QK_K);
                launched = true;
                if (grid == 0) return;
                with_weighted(l, [&]<bool kWeighted>() {
                    warp_kernel<C, Src, kWeighted><<<static_cast<unsigned>(grid), WarpPolicy::kThreads, 0, l.stream>>>(l);
                });
                check(cudaGetLastError(), "warp kernel launch");
            });
        } else if constexpr (Iq4TableCodec<C>) {
            launched = launch_iq4_warp(l);
        }
    });
    return launched;
}

}  // namespace kquant::cuda::detail
