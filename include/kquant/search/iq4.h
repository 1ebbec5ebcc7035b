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
// Numeric contract: float32 only, no contraction; products are evaluated as (w*q)*x and (w*q)*q.
#pragma once
#include <cmath>
#include <cstdint>

#include "kquant/blocks.h"
#include "kquant/hd.h"
#include "kquant/numeric.h"

namespace kquant::iq4 {

inline constexpr int kSubBlock = 32;       // elements per scale (both IQ4 types)
inline constexpr int kNTry = 7;            // ggml's search depth: candidates itry = -7..7
inline constexpr float kGroupMaxEps = 1e-15f;

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
// index wins (strict < on the lower distance), below/above the ends it clamps.
KQ_HD int best_index_int8(int n, const int8_t* values, float v) {
    if (v <= static_cast<float>(values[0])) return 0;
    if (v >= static_cast<float>(values[n - 1])) return n - 1;
    int lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (v < static_cast<float>(values[mid]))
            hi = mid;
        else
            lo = mid;
    }
    return v - static_cast<float>(values[hi - 1]) < static_cast<float>(values[hi]) - v ? hi - 1 : hi;
}

KQ_HD int best_index(const int8_t* values, float v) { return best_index_int8(16, values, v); }

// Super-block sigma2 of the imatrix weights: 2 * mean(x^2), computed as sum * (2/S) like the reference.
KQ_HD float superblock_sigma2(const float* x, int super_block) {
    float s = 0.0f;
    for (int j = 0; j < super_block; ++j) s += x[j] * x[j];
    return s * (2.0f / static_cast<float>(super_block));
}

// Weights of one sub-block: qw*sqrt(sigma2 + x^2) with an imatrix, x^2 without.
KQ_HD void subblock_weights(const float* x, const float* qw, float sigma2, float* w) {
    if (qw != nullptr) {
        for (int j = 0; j < kSubBlock; ++j) w[j] = qw[j] * sqrtf(sigma2 + x[j] * x[j]);
    } else {
        for (int j = 0; j < kSubBlock; ++j) w[j] = x[j] * x[j];
    }
}

// Signed value of the first element with the largest |x| (strict >), and that |x|.
struct SubMax {
    float max;
    float amax;
};
KQ_HD SubMax subblock_max(const float* x) {
    SubMax m{0.0f, 0.0f};
    for (int j = 0; j < kSubBlock; ++j) {
        const float ax = kq_fabs(x[j]);
        if (ax > m.amax) {
            m.amax = ax;
            m.max = x[j];
        }
    }
    return m;
}

// Weighted sums of one candidate inverse scale id: codes by nearest table entry, sums in element order.
struct Sums {
    float sumqx;
    float sumq2;
};
KQ_HD Sums candidate_sums(const float* x, const float* w, float id, const int8_t* values) {
    Sums s{0.0f, 0.0f};
    for (int j = 0; j < kSubBlock; ++j) {
        const float q = static_cast<float>(values[best_index(values, id * x[j])]);
        s.sumqx += w[j] * q * x[j];
        s.sumq2 += w[j] * q * q;
    }
    return s;
}

// Running state of the scale search: the scale d and its score best = d*sumqx.
struct ScaleState {
    float d;
    float best;
};

// The starting state: id = 1/d with d = max/127 (= -max/T[0]); its least-squares scale is taken
// unconditionally (0 when sumq2 is not positive).
KQ_HD ScaleState initial_state(const float* x, const float* w, float max, const int8_t* values) {
    const float d0 = -max / static_cast<float>(values[0]);
    const Sums s = candidate_sums(x, w, 1.0f / d0, values);
    const float d = s.sumq2 > 0.0f ? s.sumqx / s.sumq2 : 0.0f;
    return ScaleState{d, d * s.sumqx};
}

// Inverse scale of candidate itry (-kNTry..kNTry): (itry + T[0]) / max, the integer sum made first.
KQ_HD float candidate_id(int itry, float max, const int8_t* values) {
    return static_cast<float>(itry + values[0]) / max;
}

// Folds one candidate's sums into the state: taken only when strictly better.
KQ_HD ScaleState accept(Sums s, ScaleState cur) {
    if (s.sumq2 > 0.0f && s.sumqx * s.sumqx > cur.best * s.sumq2) {
        const float d = s.sumqx / s.sumq2;
        return ScaleState{d, d * s.sumqx};
    }
    return cur;
}

// ONE candidate of the search: evaluate itry and fold it into the current state.
KQ_HD ScaleState candidate(const float* x, const float* w, float max, int itry, const int8_t* values,
                               ScaleState cur) {
    return accept(candidate_sums(x, w, candidate_id(itry, max, values), values), cur);
}

// The float scale of one 32-element sub-block (0 for a sub-block with amax < 1e-15).
KQ_HD float subblock_scale(const float* x, const float* w, const int8_t* values) {
    const SubMax m = subblock_max(x);
    if (m.amax < kGroupMaxEps) return 0.0f;
    ScaleState st = initial_state(x, w, m.max, values);
    for (int itry = -kNTry; itry <= kNTry; ++itry) st = candidate(x, w, m.max, itry, values, st);
    return st.d;
}

// Codes of one sub-block for the inverse scale id, packed as ggml does: byte j holds element j (low
// nibble) and element j+16 (high nibble).
KQ_HD void pack_subblock(const float* x, float id, const int8_t* values, uint8_t* qs) {
    for (int j = 0; j < kSubBlock / 2; ++j) {
        const int lo = best_index(values, id * x[j]);
        const int hi = best_index(values, id * x[j + kSubBlock / 2]);
        qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
}

}  // namespace kquant::iq4
