// The min/scale search of the asymmetric k-quants (Q2_K, Q4_K, Q5_K; spec §10.3): fit x ≈ scale·L + min
// with L in [0, nmax] and min <= 0, minimizing Σ w·e(diff), e = diff² or |diff|.
//
// ggml has two copies of this search (make_qkx2_quants, make_qkx3_quants) that differ only in the
// degenerate-range test; here it is one search parameterized by QkxParams.
//
// Shape (the CUDA warp kernel runs the same functions):
//   qkx_setup    one pass over x: min (clamped to <= 0), max, Σw, Σw·x
//   qkx_initial  levels for iscale = nmax/(max-min) and their error: the starting state
//   qkx_eval     ONE candidate `is` (0..nstep) evaluated under the current min: levels, sums in element
//                order, least-squares (scale, min), error
//   make_qkx     the sequential loop: accept a candidate iff it is valid and strictly better
//
// State that flows between candidates: (scale, min, best error, L). A candidate's levels and its
// iscale's denominator depend on the CURRENT min, so an accepted candidate changes every later
// evaluation (spec §10.3, the easy thing to miss). The best error only decides acceptance.
//
// Every function is a template over the lane value type (simd/lanes.h): V = float is the scalar search;
// a vector V runs one independent search per lane, each with exactly the scalar arithmetic.
//
// Numeric contract: float32, sums in element order, C's left-to-right evaluation, no contraction.
#pragma once
#include <cstdint>

#include "kquant/hd.h"
#include "kquant/numeric.h"
#include "kquant/simd/lanes.h"

namespace kquant::search {

// Longest vector any k-quant search runs on (a Q4_K/Q5_K sub-block).
inline constexpr int kMaxSearchLen = 32;

// qkx2 gives up on max == min, qkx3 on max <= min; they differ only for NaN input.
enum class QkxDegenerate : uint8_t { kMaxEqualsMin, kMaxAtMostMin };

struct QkxParams {
    int nmax;    // largest level
    float rmin;  // candidate is: iscale = (rmin + rdelta·is + nmax) / (max - min)
    float rdelta;
    int nstep;     // candidates is = 0..nstep (none when nstep < 1)
    bool use_mad;  // error term |diff| instead of diff²
    QkxDegenerate degenerate;
};

KQ_HD constexpr QkxParams qkx2_params(int nmax, float rmin, float rdelta, int nstep, bool use_mad) {
    return QkxParams{nmax, rmin, rdelta, nstep, use_mad, QkxDegenerate::kMaxEqualsMin};
}
KQ_HD constexpr QkxParams qkx3_params(int nmax, float rmin, float rdelta, int nstep, bool use_mad) {
    return QkxParams{nmax, rmin, rdelta, nstep, use_mad, QkxDegenerate::kMaxAtMostMin};
}

// Number of candidates the search evaluates.
KQ_HD constexpr int qkx_candidate_count(const QkxParams& p) { return p.nstep < 1 ? 0 : p.nstep + 1; }

// Result of a search: dequantization is scale·L - min, so `min` here is ggml's the_min (>= 0 normally).
template <class V>
struct QkxFitT {
    V scale;
    V min;
};
using QkxFit = QkxFitT<float>;

// Statistics of the init pass; fixed for the whole search.
template <class V>
struct QkxSetupT {
    V min;  // min(x), clamped to <= 0: the starting offset
    V max;
    V sum_w;  // w0 + w1 + ... (starts at w0, not 0 + w0)
    V sum_x;  // Σ w·x, starting at w0·x0
};
using QkxSetup = QkxSetupT<float>;

// The search state between candidates.
template <class V>
struct QkxStateT {
    V scale;
    V min;   // the current offset (<= 0); candidates are evaluated under it
    V best;  // error of the current levels
};
using QkxState = QkxStateT<float>;

template <class V>
struct QkxCandidateT {
    V scale;
    V min;
    V err;
    LaneMask<V> valid;  // false when the normal equations are singular (D <= 0): never accepted
};
using QkxCandidate = QkxCandidateT<float>;

template <class V>
KQ_HD QkxSetupT<V> qkx_setup(int n, const V* x, const NoDeduce<V>* w) {
    QkxSetupT<V> s{x[0], x[0], w[0], w[0] * x[0]};
    for (int i = 1; i < n; ++i) {
        s.min = select(x[i] < s.min, x[i], s.min);
        s.max = select(x[i] > s.max, x[i], s.max);
        s.sum_w += w[i];
        s.sum_x += w[i] * x[i];
    }
    s.min = select(s.min > V(0.0f), V(0.0f), s.min);
    return s;
}

template <class V>
KQ_HD LaneMask<V> qkx_degenerate(const QkxParams& p, const QkxSetupT<V>& s) {
    return p.degenerate == QkxDegenerate::kMaxEqualsMin ? s.max == s.min : s.max <= s.min;
}

template <class V>
KQ_HD LaneInt<V> qkx_level(V iscale, V xi, V min, int nmax) {
    return kq_clamp(nint(iscale * (xi - min)), 0, nmax);
}

// One element's error term, before the weight: ((scale·l) + min) - x, squared or absolute.
template <class V>
KQ_HD V qkx_error_term(bool use_mad, V scale, V min, NoDeduce<LaneInt<V>> l, V xi) {
    const V diff = scale * to_float(l) + min - xi;
    return use_mad ? kq_fabs(diff) : diff * diff;
}

// Starting state: levels for iscale = nmax/(max - min) and their weighted error.
template <class V>
KQ_HD QkxStateT<V> qkx_initial(const QkxParams& p, int n, const V* x, const NoDeduce<V>* w,
                               const QkxSetupT<V>& s, LaneCode<V>* L) {
    const V iscale = V(static_cast<float>(p.nmax)) / (s.max - s.min);
    QkxStateT<V> st{V(1.0f) / iscale, s.min, V(0.0f)};
    for (int i = 0; i < n; ++i) {
        const LaneInt<V> l = qkx_level(iscale, x[i], s.min, p.nmax);
        L[i] = to_code(l);
        st.best += w[i] * qkx_error_term(p.use_mad, st.scale, st.min, l, x[i]);
    }
    return st;
}

template <class V>
KQ_HD V qkx_candidate_iscale(const QkxParams& p, V max, NoDeduce<V> cur_min, int is) {
    return V(p.rmin + p.rdelta * static_cast<float>(is) + static_cast<float>(p.nmax)) / (max - cur_min);
}

// Levels of candidate `is` under offset cur_min (what an accepted candidate adopts).
template <class V>
KQ_HD void qkx_levels(const QkxParams& p, int n, const V* x, const QkxSetupT<V>& s, NoDeduce<V> cur_min, int is,
                      LaneCode<V>* L) {
    const V iscale = qkx_candidate_iscale(p, s.max, cur_min, is);
    for (int i = 0; i < n; ++i) L[i] = to_code(qkx_level(iscale, x[i], cur_min, p.nmax));
}

// Evaluates candidate `is` under the current offset cur_min. Laux (may be null) receives its levels.
template <class V>
KQ_HD QkxCandidateT<V> qkx_eval(const QkxParams& p, int n, const V* x, const NoDeduce<V>* w,
                                const QkxSetupT<V>& s, NoDeduce<V> cur_min, int is, LaneCode<V>* Laux) {
    const V iscale = qkx_candidate_iscale(p, s.max, cur_min, is);
    V sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
    for (int i = 0; i < n; ++i) {
        const LaneInt<V> l = qkx_level(iscale, x[i], cur_min, p.nmax);
        if (Laux != nullptr) Laux[i] = to_code(l);
        const V fl = to_float(l);
        sum_l += w[i] * fl;
        sum_l2 += w[i] * fl * fl;
        sum_xl += w[i] * fl * x[i];
    }
    QkxCandidateT<V> c{V(0.0f), V(0.0f), V(0.0f), LaneMask<V>(false)};
    const V D = s.sum_w * sum_l2 - sum_l * sum_l;
    const LaneMask<V> valid = D > V(0.0f);
    if (!any(valid)) return c;
    V scale = (s.sum_w * sum_xl - s.sum_x * sum_l) / D;
    V min = (sum_l2 * s.sum_x - sum_l * sum_xl) / D;
    const LaneMask<V> positive = min > V(0.0f);
    if (any(positive)) {  // the offset may only lower values: refit the scale alone
        min = select(positive, V(0.0f), min);
        scale = select(positive, sum_xl / sum_l2, scale);
    }
    V err = 0.0f;
    for (int i = 0; i < n; ++i) {
        const LaneInt<V> l = Laux != nullptr ? from_code(Laux[i]) : qkx_level(iscale, x[i], cur_min, p.nmax);
        err += w[i] * qkx_error_term(p.use_mad, scale, min, l, x[i]);
    }
    // Lanes with a singular system report (0, 0, 0) and are never accepted.
    c.scale = select(valid, scale, c.scale);
    c.min = select(valid, min, c.min);
    c.err = select(valid, err, c.err);
    c.valid = valid;
    return c;
}

// Strictly better only: on a tie the earlier candidate stays.
template <class V>
KQ_HD LaneMask<V> qkx_accepts(const QkxCandidateT<V>& c, NoDeduce<V> best) {
    return c.valid & (c.err < best);
}

// The sequential search (ggml's order). n <= kMaxSearchLen; L receives n levels. Per lane for a vector V:
// an accepted candidate replaces that lane's levels and state only.
template <class V>
KQ_HD QkxFitT<V> make_qkx(const QkxParams& p, int n, const V* x, const NoDeduce<V>* w, LaneCode<V>* L) {
    const QkxSetupT<V> s = qkx_setup(n, x, w);
    const LaneMask<V> degenerate = qkx_degenerate(p, s);
    if (all(degenerate)) {
        for (int i = 0; i < n; ++i) L[i] = LaneCode<V>(0);
        return QkxFitT<V>{V(0.0f), -s.min};
    }
    QkxStateT<V> st = qkx_initial(p, n, x, w, s, L);
    LaneCode<V> Laux[kMaxSearchLen];
    const int count = qkx_candidate_count(p);
    for (int is = 0; is < count; ++is) {
        const QkxCandidateT<V> c = qkx_eval(p, n, x, w, s, st.min, is, Laux);
        const LaneMask<V> accept = qkx_accepts(c, st.best);
        if (!any(accept)) continue;
        for (int i = 0; i < n; ++i) L[i] = select(accept, Laux[i], L[i]);
        st = QkxStateT<V>{select(accept, c.scale, st.scale), select(accept, c.min, st.min),
                          select(accept, c.err, st.best)};
    }
    if (any(degenerate)) {  // lanes the scalar search returns from early
        for (int i = 0; i < n; ++i) L[i] = select(degenerate, LaneCode<V>(0), L[i]);
        st.scale = select(degenerate, V(0.0f), st.scale);
        st.min = select(degenerate, s.min, st.min);
    }
    return QkxFitT<V>{st.scale, -st.min};
}

// Counters of the speculative driver (how much re-evaluation the warp does).
struct QkxSpeculativeStats {
    int rounds = 0;       // evaluation rounds (one candidate per lane per round)
    int evaluations = 0;  // candidate evaluations, re-evaluations included
    int accepts = 0;
};

// The warp algorithm, simulated: each round, lane k evaluates candidate next+k under the current state;
// the rounds' results are resolved in candidate order. Up to the first accepted candidate every
// evaluation saw the right state, so those decisions are final. An acceptance that moves `min`
// invalidates the later lanes' evaluations: the next round starts after the accepted candidate. An
// acceptance that leaves min's bits unchanged only lowers `best`, so the same round keeps resolving.
// Gives exactly make_qkx's result for any kLanes >= 1 (tests/search_candidate_test.cpp).
template <int kLanes>
KQ_HD QkxFit make_qkx_speculative(const QkxParams& p, int n, const float* x, const float* w, uint8_t* L,
                                  QkxSpeculativeStats* stats = nullptr) {
    static_assert(kLanes >= 1);
    const QkxSetup s = qkx_setup(n, x, w);
    if (qkx_degenerate(p, s)) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return QkxFit{0.0f, -s.min};
    }
    QkxState st = qkx_initial(p, n, x, w, s, L);
    const int count = qkx_candidate_count(p);
    QkxCandidate lane[kLanes];
    int next = 0;
    while (next < count) {
        const int active = count - next < kLanes ? count - next : kLanes;
        const float eval_min = st.min;
        for (int k = 0; k < active; ++k) lane[k] = qkx_eval(p, n, x, w, s, eval_min, next + k, nullptr);
        if (stats != nullptr) {
            ++stats->rounds;
            stats->evaluations += active;
        }
        int k = 0;
        while (k < active) {
            const QkxCandidate& c = lane[k++];
            if (!qkx_accepts(c, st.best)) continue;
            qkx_levels(p, n, x, s, eval_min, next + k - 1, L);
            st = QkxState{c.scale, c.min, c.err};
            if (stats != nullptr) ++stats->accepts;
            if (f32_bits(st.min) != f32_bits(eval_min)) break;  // later lanes saw a stale min
        }
        next += k;
    }
    return QkxFit{st.scale, -st.min};
}

}  // namespace kquant::search
