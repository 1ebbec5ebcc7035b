// The searches split into per-candidate functions (search/qkx.h, qx.h, qp.h) so a CUDA warp can evaluate
// candidates on different lanes. These tests check that evaluating candidates out of order, or
// speculatively under a state that later changes, gives exactly the sequential loop's result: same scale
// and min bits, same levels. Inputs are random sub-blocks from several distributions (seeds printed).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kquant/formats/q2_k.h"
#include "kquant/formats/q4_k.h"
#include "kquant/formats/q5_k.h"
#include "kquant/numeric.h"
#include "kquant/search/qkx.h"
#include "kquant/search/qp.h"
#include "kquant/search/qx.h"

namespace kquant {
namespace {

using search::QkxCandidate;
using search::QkxFit;
using search::QkxParams;

constexpr uint32_t kBaseSeed = 0x5eed1234u;
constexpr int kTrialsPerKind = 300;

enum class Dist { Gaussian, Laplace, Uniform, Sparse, HeavyTail, AllPositive, Outlier, Constant, Ties };
constexpr Dist kDists[] = {Dist::Gaussian,    Dist::Laplace, Dist::Uniform,  Dist::Sparse, Dist::HeavyTail,
                           Dist::AllPositive, Dist::Outlier, Dist::Constant, Dist::Ties};

// One random vector of n values drawn from `d`.
std::vector<float> draw(Dist d, int n, std::mt19937& rng) {
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::exponential_distribution<float> ex(1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    const float c = g(rng);
    for (int i = 0; i < n; ++i) {
        switch (d) {
            case Dist::Gaussian: x[i] = g(rng); break;
            case Dist::Laplace: x[i] = (u(rng) < 0 ? -1.0f : 1.0f) * ex(rng); break;
            case Dist::Uniform: x[i] = u(rng); break;
            case Dist::Sparse: x[i] = u(rng) < -0.8f ? g(rng) : 0.0f; break;
            case Dist::HeavyTail: {  // Student-t with 3 degrees of freedom
                const float z = g(rng), a = g(rng), b = g(rng), e = g(rng);
                x[i] = z / std::sqrt((a * a + b * b + e * e) / 3.0f);
                break;
            }
            case Dist::AllPositive: x[i] = std::fabs(g(rng)) + 0.01f; break;
            case Dist::Outlier: x[i] = i == n / 3 ? 60.0f * g(rng) : g(rng); break;
            case Dist::Constant: x[i] = c; break;
            case Dist::Ties:
                x[i] = static_cast<float>(static_cast<int>(u(rng) * 8.0f)) * 0.25f + 0.125f;
                break;
        }
    }
    return x;
}

std::vector<float> positive_weights(int n, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(0.0f, 2.0f);
    std::vector<float> w(static_cast<size_t>(n));
    for (float& v : w) v = u(rng) < 0.1f ? 0.0f : u(rng);  // some zero importance, as real imatrices have
    return w;
}

uint32_t bits(float f) { return f32_bits(f); }

// The literal speculative order: evaluate every remaining candidate under the current state, accept the
// first strictly better one, re-evaluate all later ones under the new state, repeat. Built only from the
// candidate functions; independent of make_qkx_speculative's same-min shortcut and lane windows.
QkxFit speculative_unbounded(const QkxParams& p, int n, const float* x, const float* w, uint8_t* L) {
    const search::QkxSetup s = search::qkx_setup(n, x, w);
    if (search::qkx_degenerate(p, s)) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return {0.0f, -s.min};
    }
    search::QkxState st = search::qkx_initial(p, n, x, w, s, L);
    const int count = search::qkx_candidate_count(p);
    int next = 0;
    while (next < count) {
        std::vector<QkxCandidate> c;
        for (int is = next; is < count; ++is)
            c.push_back(search::qkx_eval(p, n, x, w, s, st.min, is, nullptr));
        int first = -1;
        for (int k = 0; k < static_cast<int>(c.size()) && first < 0; ++k)
            if (search::qkx_accepts(c[k], st.best)) first = k;
        if (first < 0) break;
        search::qkx_levels(p, n, x, s, st.min, next + first, L);
        st = {c[first].scale, c[first].min, c[first].err};
        next += first + 1;
    }
    return {st.scale, -st.min};
}

struct QkxKind {
    const char* name;
    QkxParams params;
    int n;
    bool weighted;  // imatrix-style weights (else the plain weights of the format)
};

const QkxKind kQkxKinds[] = {
    {"q2_K plain", codec::Q2_K::search_params(false), 16, false},
    {"q2_K imat", codec::Q2_K::search_params(true), 16, true},
    {"q4_K plain", codec::Q4_K::search_params(false), 32, false},
    {"q4_K imat", codec::Q4_K::search_params(true), 32, true},
    {"q5_K plain", codec::Q5_K::search_params(false), 32, false},
    {"q5_K imat", codec::Q5_K::search_params(true), 32, true},
};

// Weights exactly as the formats compute them (σ² from the sub-block itself is enough for a search test).
std::vector<float> kind_weights(const QkxKind& k, const std::vector<float>& x, std::mt19937& rng) {
    std::vector<float> w(x.size());
    const std::vector<float> qw = positive_weights(k.n, rng);
    float sigma2 = 0.0f;
    for (float v : x) sigma2 += v * v;
    sigma2 = 2.0f * sigma2 / static_cast<float>(k.n);
    const float* q = k.weighted ? qw.data() : nullptr;
    if (k.n == 16)
        codec::Q2_K::subblock_weights(x.data(), q, sigma2, w.data());
    else
        codec::Q4_K::subblock_weights(x.data(), q, sigma2, w.data());
    return w;
}

void expect_same(const QkxFit& a, const uint8_t* La, const QkxFit& b, const uint8_t* Lb, int n,
                 const std::string& what) {
    EXPECT_EQ(bits(a.scale), bits(b.scale)) << what << ": scale " << a.scale << " vs " << b.scale;
    EXPECT_EQ(bits(a.min), bits(b.min)) << what << ": min " << a.min << " vs " << b.min;
    EXPECT_EQ(std::memcmp(La, Lb, static_cast<size_t>(n)), 0) << what << ": levels differ";
}

template <int kLanes>
void check_lanes(const QkxKind& k, const std::vector<float>& x, const std::vector<float>& w,
                 const QkxFit& seq, const uint8_t* Lseq, search::QkxSpeculativeStats* stats,
                 const std::string& what) {
    uint8_t L[search::kMaxSearchLen];
    const QkxFit f = search::make_qkx_speculative<kLanes>(k.params, k.n, x.data(), w.data(), L, stats);
    expect_same(seq, Lseq, f, L, k.n, what + " lanes=" + std::to_string(kLanes));
}

TEST(SearchCandidate, QkxSpeculativeOrderEqualsSequential) {
    uint64_t total_candidates = 0, warp_evaluations = 0, warp_accepts = 0, warp_rounds = 0;
    for (const QkxKind& k : kQkxKinds) {
        for (Dist d : kDists) {
            for (int t = 0; t < kTrialsPerKind; ++t) {
                const uint32_t seed =
                    kBaseSeed + 7919u * static_cast<uint32_t>(t) + 104729u * static_cast<uint32_t>(d);
                std::mt19937 rng(seed);
                const std::vector<float> x = draw(d, k.n, rng);
                const std::vector<float> w = kind_weights(k, x, rng);
                const std::string what = std::string(k.name) + " dist " +
                                         std::to_string(static_cast<int>(d)) + " seed " +
                                         std::to_string(seed);
                uint8_t Lseq[search::kMaxSearchLen], Lspec[search::kMaxSearchLen];
                const QkxFit seq = search::make_qkx(k.params, k.n, x.data(), w.data(), Lseq);
                const QkxFit spec = speculative_unbounded(k.params, k.n, x.data(), w.data(), Lspec);
                expect_same(seq, Lseq, spec, Lspec, k.n, what + " unbounded");
                search::QkxSpeculativeStats warp;
                check_lanes<32>(k, x, w, seq, Lseq, &warp, what);
                check_lanes<1>(k, x, w, seq, Lseq, nullptr, what);
                check_lanes<2>(k, x, w, seq, Lseq, nullptr, what);
                check_lanes<5>(k, x, w, seq, Lseq, nullptr, what);
                check_lanes<16>(k, x, w, seq, Lseq, nullptr, what);
                check_lanes<64>(k, x, w, seq, Lseq, nullptr, what);
                if (!search::qkx_degenerate(k.params, search::qkx_setup(k.n, x.data(), w.data())))
                    total_candidates += static_cast<uint64_t>(search::qkx_candidate_count(k.params));
                warp_evaluations += static_cast<uint64_t>(warp.evaluations);
                warp_accepts += static_cast<uint64_t>(warp.accepts);
                warp_rounds += static_cast<uint64_t>(warp.rounds);
            }
        }
    }
    // The hard path was exercised: acceptances happened and stale lanes had to be re-evaluated.
    EXPECT_GT(warp_accepts, 0u);
    EXPECT_GT(warp_evaluations, total_candidates);
    std::cout << "[ qkx warp ] " << total_candidates << " candidates, " << warp_evaluations
              << " evaluations in " << warp_rounds << " rounds, " << warp_accepts << " accepts\n";
}

// The candidate's own levels (Laux) are the levels qkx_levels adopts on acceptance, and filling Laux does
// not change the evaluation.
TEST(SearchCandidate, QkxCandidateLevelsMatchAdoptedLevels) {
    for (const QkxKind& k : kQkxKinds) {
        for (int t = 0; t < kTrialsPerKind; ++t) {
            const uint32_t seed = kBaseSeed ^ (0x9e3779b9u * static_cast<uint32_t>(t + 1));
            std::mt19937 rng(seed);
            const std::vector<float> x = draw(kDists[t % std::size(kDists)], k.n, rng);
            const std::vector<float> w = kind_weights(k, x, rng);
            const search::QkxSetup s = search::qkx_setup(k.n, x.data(), w.data());
            if (search::qkx_degenerate(k.params, s)) continue;
            const float mins[] = {s.min, 0.0f, s.min * 0.5f};
            for (float cur_min : mins) {
                for (int is = 0; is < search::qkx_candidate_count(k.params); ++is) {
                    uint8_t Laux[search::kMaxSearchLen], Ladopt[search::kMaxSearchLen];
                    const QkxCandidate a =
                        search::qkx_eval(k.params, k.n, x.data(), w.data(), s, cur_min, is, Laux);
                    const QkxCandidate b =
                        search::qkx_eval(k.params, k.n, x.data(), w.data(), s, cur_min, is, nullptr);
                    search::qkx_levels(k.params, k.n, x.data(), s, cur_min, is, Ladopt);
                    ASSERT_EQ(std::memcmp(Laux, Ladopt, static_cast<size_t>(k.n)), 0)
                        << k.name << " seed " << seed;
                    ASSERT_EQ(a.valid, b.valid);
                    ASSERT_EQ(bits(a.err), bits(b.err)) << k.name << " seed " << seed << " is " << is;
                    ASSERT_EQ(bits(a.scale), bits(b.scale));
                    ASSERT_EQ(bits(a.min), bits(b.min));
                }
            }
        }
    }
}

// make_qx: candidates are independent of the state, so evaluating them in any order (here: reversed, as
// lanes would finish) and folding the acceptance test in candidate order gives make_qx's result.
TEST(SearchCandidate, QxOutOfOrderEvaluationEqualsSequential) {
    const int configs[][2] = {{16, 4},
                              {16, 32}};  // (n, nmax): Q3_K weighted groups, Q6_K groups / Q3_K scales
    for (const auto& cfg : configs) {
        const int n = cfg[0], nmax = cfg[1];
        for (Dist d : kDists) {
            for (int t = 0; t < kTrialsPerKind; ++t) {
                const uint32_t seed = kBaseSeed + 31u * static_cast<uint32_t>(t) +
                                      1009u * static_cast<uint32_t>(d) + static_cast<uint32_t>(nmax);
                std::mt19937 rng(seed);
                const std::vector<float> x = draw(d, n, rng);
                const std::vector<float> qw = positive_weights(n, rng);
                for (const float* w : {static_cast<const float*>(nullptr), qw.data()}) {
                    uint8_t Lseq[search::kMaxSearchLen], L[search::kMaxSearchLen];
                    const float seq = search::make_qx(n, nmax, x.data(), w, Lseq);
                    const search::AbsArgmax a = search::abs_argmax(n, x.data());
                    if (a.amax < search::kGroupMaxEps) continue;
                    search::QxCandidate c[19];
                    for (int is = 9; is >= -9; --is)
                        c[is + 9] = search::qx_eval(n, nmax, x.data(), w, search::qx_iscale(nmax, a.max, is),
                                                    nullptr);
                    search::qx_levels(n, nmax, x.data(), search::qx_iscale(nmax, a.max, 0), L);
                    float scale = c[9].suml2 != 0.0f ? c[9].sumlx / c[9].suml2 : 0.0f;
                    float best = scale * c[9].sumlx;
                    for (int is = -9; is <= 9; ++is) {
                        if (is == 0 || !search::qx_accepts(c[is + 9], best)) continue;
                        search::qx_levels(n, nmax, x.data(), search::qx_iscale(nmax, a.max, is), L);
                        scale = c[is + 9].sumlx / c[is + 9].suml2;
                        best = scale * c[is + 9].sumlx;
                    }
                    ASSERT_EQ(bits(seq), bits(scale)) << "n " << n << " nmax " << nmax << " seed " << seed;
                    ASSERT_EQ(std::memcmp(Lseq, L, static_cast<size_t>(n)), 0) << "seed " << seed;
                }
            }
        }
    }
}

// make_qp: the same for its is = -4..4 candidates (is = 0 the initial guess). The chosen iscale then
// feeds the sequential refinement; the result must be make_qp's, bit for bit.
TEST(SearchCandidate, QpOutOfOrderEvaluationEqualsSequential) {
    const int configs[][2] = {{8, 63}, {16, 15}};  // Q4_K/Q5_K block scales, Q2_K block scales
    for (const auto& cfg : configs) {
        const int n = cfg[0], nmax = cfg[1];
        for (Dist d : kDists) {
            for (int t = 0; t < kTrialsPerKind; ++t) {
                const uint32_t seed = kBaseSeed + 17u * static_cast<uint32_t>(t) +
                                      613u * static_cast<uint32_t>(d) + static_cast<uint32_t>(n);
                std::mt19937 rng(seed);
                std::vector<float> x = draw(d, n, rng);
                for (float& v : x) v = std::fabs(v);  // sub-block scales and mins are non-negative
                const std::vector<float> qw = positive_weights(n, rng);
                uint8_t Lseq[32], L[32];
                const float seq = search::make_qp(n, nmax, x.data(), qw.data(), Lseq);
                const float max = search::qp_max(n, x.data());
                if (max < search::kGroupMaxEps) continue;
                float mse[9];
                for (int is = 4; is >= -4; --is)
                    mse[is + 4] = search::qp_eval(n, nmax, x.data(), qw.data(), max, is);
                float best = mse[4];
                int chosen = 0;
                for (int is = -4; is <= 4; ++is) {
                    if (is != 0 && mse[is + 4] < best) {
                        best = mse[is + 4];
                        chosen = is;
                    }
                }
                const float scale =
                    search::qp_refine(n, nmax, x.data(), qw.data(), search::qp_iscale(nmax, max, chosen), L);
                ASSERT_EQ(bits(seq), bits(scale)) << "n " << n << " seed " << seed;
                ASSERT_EQ(std::memcmp(Lseq, L, static_cast<size_t>(n)), 0) << "seed " << seed;
                for (int i = 0; i < n; ++i) ASSERT_LE(L[i], nmax) << "seed " << seed;
            }
        }
    }
}

}  // namespace
}  // namespace kquant
