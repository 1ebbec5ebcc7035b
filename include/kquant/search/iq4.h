// The IQ4 table search: nearest entry of the non-linear 4-bit table, and the per-sub-block scale search
// that IQ4_NL and IQ4_XS share (spec §10.5, §11.3 step 2).
//
// The scale search is split so that a CUDA kernel can spread it over lanes and still produce ggml's
// bytes: candidate() evaluates ONE candidate inverse scale (codes by best_index_int8, sums in element
// order) and folds it into the running state with accept(); subblock_scale() is the CPU loop that
// calls the same two functions for every candidate in ggml's order. Acceptance is strictly-better, so the
// state must be folded candidate by candidate in that order; the sums of different candidates are
// independent and may be computed in parallel.
//
// Every function is a template over the lane value type (simd/lanes.h): V = float is the scalar search.
//
// Numeric contract: float32 only, no contraction; products are evaluated as (w*q)*x and (w*q)*q.
#pragma once
#include <cmath>
#include <cstdint>

#include "kquant/blocks.h"
#include "kquant/hd.h"
#include "kquant/numeric.h"
#include "kquant/search/qx.h"  // abs_argmax, kGroupMaxEps
#include "kquant/simd/lanes.h"

namespace kquant::iq4 {

inline constexpr int kSubBlock = 32;       // elements per scale (both IQ4 types)
inline constexpr int kNTry = 7;            // ggml's search depth: candidates itry = -7..7

// The table by value. Device code cannot index a namespace-scope constexpr array at run time, so callers
// take a local constexpr copy: `constexpr iq4::Table T = iq4::table();` (built from blocks.h's one copy).
struct Table {
    int8_t v[16];
};
KQ_HD constexpr Table table() {
    Table t{};
    for (int i = 0; i < 16; ++i) t.v[i] = kIQ4NLValues[i];
    return t;
}

// Index of the table entry nearest to v over a sorted table of n values; on an exact midpoint the upper
// index wins (strict < on the lower distance), below/above the ends it clamps. Lanes: the bisection runs
// until every lane's interval is one entry wide (a narrowed lane no longer moves).
template <class V>
KQ_HD LaneInt<V> best_index_int8(int n, const int8_t* values, V v) {
    using I = LaneInt<V>;
    const LaneMask<V> below = v <= V(static_cast<float>(values[0]));
    const LaneMask<V> above = v >= V(static_cast<float>(values[n - 1]));
    if (all(below)) return I(0);
    if (all(below | above)) return select(below, I(0), I(n - 1));
    const auto T = LaneTraits<V>::table(values);
    I lo = 0, hi = n - 1;
    for (LaneMask<V> open = hi - lo > I(1); any(open); open = hi - lo > I(1)) {
        const I mid = (lo + hi) >> 1;
        const LaneMask<V> lower = v < lookup(T, mid);
        hi = select(open & lower, mid, hi);
        lo = select(open & !lower, mid, lo);
    }
    const I nearest = select(v - lookup(T, hi - 1) < lookup(T, hi) - v, hi - 1, hi);
    return select(below, I(0), select(above, I(n - 1), nearest));
}

template <class V>
KQ_HD LaneInt<V> best_index(const int8_t* values, V v) {
    return best_index_int8(16, values, v);
}

// Super-block sigma2 of the imatrix weights: 2 * mean(x^2), computed as sum * (2/S) like the reference.
template <class V>
KQ_HD V superblock_sigma2(const V* x, int super_block) {
    V s = 0.0f;
    for (int j = 0; j < super_block; ++j) s += x[j] * x[j];
    return s * V(2.0f / static_cast<float>(super_block));
}

// Weights of one sub-block: qw*sqrt(sigma2 + x^2) with an imatrix, x^2 without.
template <class V>
KQ_HD void subblock_weights(const V* x, const NoDeduce<V>* qw, NoDeduce<V> sigma2, NoDeduce<V>* w) {
    if (qw != nullptr) {
        search::imatrix_weights(kSubBlock, x, qw, sigma2, w);
    } else {
        for (int j = 0; j < kSubBlock; ++j) w[j] = x[j] * x[j];
    }
}

// Weighted sums of one candidate inverse scale id: codes by nearest table entry, sums in element order.
template <class V>
struct SumsT {
    V sumqx;
    V sumq2;
};
using Sums = SumsT<float>;
template <class V>
KQ_HD SumsT<V> candidate_sums(const V* x, const NoDeduce<V>* w, NoDeduce<V> id, const int8_t* values) {
    const auto T = LaneTraits<V>::table(values);
    SumsT<V> s{V(0.0f), V(0.0f)};
    for (int j = 0; j < kSubBlock; ++j) {
        const V q = lookup(T, best_index(values, id * x[j]));
        s.sumqx += w[j] * q * x[j];
        s.sumq2 += w[j] * q * q;
    }
    return s;
}

// Running state of the scale search: the scale d and its score best = d*sumqx.
template <class V>
struct ScaleStateT {
    V d;
    V best;
};
using ScaleState = ScaleStateT<float>;

// The starting state: id = 1/d with d = max/127 (= -max/T[0]); its least-squares scale is taken
// unconditionally (0 when sumq2 is not positive).
template <class V>
KQ_HD ScaleStateT<V> initial_state(const V* x, const NoDeduce<V>* w, NoDeduce<V> max, const int8_t* values) {
    const V d0 = -max / V(static_cast<float>(values[0]));
    const SumsT<V> s = candidate_sums(x, w, V(1.0f) / d0, values);
    const V d = select(s.sumq2 > V(0.0f), s.sumqx / s.sumq2, V(0.0f));
    return ScaleStateT<V>{d, d * s.sumqx};
}

// Inverse scale of candidate itry (-kNTry..kNTry): (itry + T[0]) / max, the integer sum made first.
template <class V>
KQ_HD V candidate_id(int itry, V max, const int8_t* values) {
    return V(static_cast<float>(itry + values[0])) / max;
}

// Folds one candidate's sums into the state: taken only when strictly better.
template <class V>
KQ_HD ScaleStateT<V> accept(SumsT<V> s, NoDeduce<ScaleStateT<V>> cur) {
    const LaneMask<V> better = (s.sumq2 > V(0.0f)) & (s.sumqx * s.sumqx > cur.best * s.sumq2);
    if (!any(better)) return cur;
    const V d = s.sumqx / s.sumq2;
    return ScaleStateT<V>{select(better, d, cur.d), select(better, d * s.sumqx, cur.best)};
}

// ONE candidate of the search: evaluate itry and fold it into the current state.
template <class V>
KQ_HD ScaleStateT<V> candidate(const V* x, const NoDeduce<V>* w, NoDeduce<V> max, int itry, const int8_t* values,
                               NoDeduce<ScaleStateT<V>> cur) {
    return accept(candidate_sums(x, w, candidate_id(itry, max, values), values), cur);
}

// The float scale of one 32-element sub-block (0 for a sub-block with amax < 1e-15).
template <class V>
KQ_HD V subblock_scale(const V* x, const NoDeduce<V>* w, const int8_t* values) {
    const search::AbsArgmaxT<V> m = search::abs_argmax(kSubBlock, x);
    const LaneMask<V> zero = m.amax < V(search::kGroupMaxEps);
    if (all(zero)) return V(0.0f);
    ScaleStateT<V> st = initial_state(x, w, m.max, values);
    for (int itry = -kNTry; itry <= kNTry; ++itry) st = candidate(x, w, m.max, itry, values, st);
    return select(zero, V(0.0f), st.d);
}

// Codes of one sub-block for the inverse scale id: the nearest table entry of id·x, element by element.
template <class V>
KQ_HD void subblock_codes(const V* x, NoDeduce<V> id, const int8_t* values, LaneCode<V>* L) {
    for (int j = 0; j < kSubBlock; ++j) L[j] = to_code(best_index(values, id * x[j]));
}

// Packs 32 codes as ggml does: byte j holds element j (low nibble) and element j+16 (high nibble).
KQ_HD void pack_codes(const uint8_t* L, uint8_t* qs) {
    for (int j = 0; j < kSubBlock / 2; ++j) qs[j] = static_cast<uint8_t>(L[j] | (L[j + kSubBlock / 2] << 4));
}

KQ_HD void pack_subblock(const float* x, float id, const int8_t* values, uint8_t* qs) {
    uint8_t L[kSubBlock];
    subblock_codes(x, id, values, L);
    pack_codes(L, qs);
}

}  // namespace kquant::iq4
