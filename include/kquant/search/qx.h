// The symmetric scale searches (spec §10.1, §10.2): fit x ≈ scale·l with l in [-nmax, nmax-1], stored as
// codes L = l + nmax. make_qx (ggml's make_qx_quants with rmse_type 1) serves Q3_K's weighted path, Q3_K's
// block scales and Q6_K; make_q3 (make_q3_quants) serves Q3_K's plain path.
//
// make_qx shape (the CUDA kernel runs the same functions):
//   abs_argmax  max = the signed value of largest |x| (first index wins)
//   qx_eval     ONE candidate iscale: levels, Σ(w·x)·l and Σ(w·l)·l in element order
//   make_qx     initial guess (is = 0), then candidates is = -9..9 (0 skipped) in order
// State that flows between candidates: (scale, best, L). A candidate's evaluation does not depend on the
// state (the candidates are independent); only the acceptance test reads `best`.
//
// make_q3 is a coordinate descent over elements (each accepted change moves the sums every later element
// reads): inherently sequential, one thread runs it.
//
// Every function is a template over the lane value type (simd/lanes.h): V = float is the scalar search.
//
// Numeric contract: float32, sums in element order, C's left-to-right evaluation, no contraction.
#pragma once
#include <cstdint>

#include "kquant/hd.h"
#include "kquant/numeric.h"
#include "kquant/simd/lanes.h"

namespace kquant::search {

// Groups whose largest magnitude is below this are all-zero to the searches (ggml's GROUP_MAX_EPS).
inline constexpr float kGroupMaxEps = 1e-15f;

template <class V>
struct AbsArgmaxT {
    V max;   // signed value at the first index of largest |x|
    V amax;  // its magnitude (0 if every |x| is 0)
};
using AbsArgmax = AbsArgmaxT<float>;

template <class V>
KQ_HD AbsArgmaxT<V> abs_argmax(int n, const V* x) {
    AbsArgmaxT<V> r{V(0.0f), V(0.0f)};
    for (int i = 0; i < n; ++i) {
        const V ax = kq_fabs(x[i]);
        const LaneMask<V> larger = ax > r.amax;
        r.amax = select(larger, ax, r.amax);
        r.max = select(larger, x[i], r.max);
    }
    return r;
}

// The imatrix paths' weights: w = qw·sqrt(σ² + x²), element by element (σ² is the super-block's or the
// row's, as each format defines it).
template <class V>
KQ_HD void imatrix_weights(int n, const V* x, const NoDeduce<V>* qw, NoDeduce<V> sigma2, NoDeduce<V>* w) {
    for (int i = 0; i < n; ++i) w[i] = qw[i] * kq_sqrt(sigma2 + x[i] * x[i]);
}

// Weight of element i: the importance weight if given, else x².
template <class V>
KQ_HD V qx_weight(const V* x, const NoDeduce<V>* qw, int i) {
    return qw != nullptr ? qw[i] : x[i] * x[i];
}

// iscale of candidate `is`; is = 0 is the initial guess -nmax/max (the same bits either way).
template <class V>
KQ_HD V qx_iscale(int nmax, V max, int is) {
    return V(-(static_cast<float>(nmax) + 0.1f * static_cast<float>(is))) / max;
}

template <class V>
KQ_HD LaneInt<V> qx_level(V iscale, V xi, int nmax) {
    return kq_clamp(nint(iscale * xi), -nmax, nmax - 1);
}

template <class V>
struct QxCandidateT {
    V sumlx;  // Σ (w·x)·l
    V suml2;  // Σ (w·l)·l
};
using QxCandidate = QxCandidateT<float>;

// Evaluates one iscale. L (may be null) receives the codes l + nmax.
template <class V>
KQ_HD QxCandidateT<V> qx_eval(int n, int nmax, const V* x, const NoDeduce<V>* qw, NoDeduce<V> iscale,
                              LaneCode<V>* L) {
    QxCandidateT<V> c{V(0.0f), V(0.0f)};
    for (int i = 0; i < n; ++i) {
        const LaneInt<V> l = qx_level(iscale, x[i], nmax);
        if (L != nullptr) L[i] = to_code(l + nmax);
        const V w = qx_weight(x, qw, i);
        const V fl = to_float(l);
        c.sumlx += w * x[i] * fl;
        c.suml2 += w * fl * fl;
    }
    return c;
}

// Better iff sumlx²/suml2 > best, compared without dividing. Strict: ties keep the earlier candidate.
template <class V>
KQ_HD LaneMask<V> qx_accepts(const QxCandidateT<V>& c, NoDeduce<V> best) {
    return (c.suml2 > V(0.0f)) & (c.sumlx * c.sumlx > best * c.suml2);
}

template <class V>
KQ_HD void qx_levels(int n, int nmax, const V* x, NoDeduce<V> iscale, LaneCode<V>* L) {
    for (int i = 0; i < n; ++i) L[i] = to_code(qx_level(iscale, x[i], nmax) + nmax);
}

// Returns the scale (usually negative: the largest |x| maps to l = -nmax); L receives n codes in
// [0, 2·nmax-1]. An all-zero group gets scale 0 and codes 0 (not nmax). qw may be null (weights x²).
template <class V>
KQ_HD V make_qx(int n, int nmax, const V* x, const NoDeduce<V>* qw, LaneCode<V>* L) {
    const AbsArgmaxT<V> a = abs_argmax(n, x);
    const LaneMask<V> zero = a.amax < V(kGroupMaxEps);
    if (all(zero)) {
        for (int i = 0; i < n; ++i) L[i] = LaneCode<V>(0);
        return V(0.0f);
    }
    const QxCandidateT<V> c0 = qx_eval(n, nmax, x, qw, qx_iscale(nmax, a.max, 0), L);
    V scale = select(c0.suml2 != V(0.0f), c0.sumlx / c0.suml2, V(0.0f));
    V best = scale * c0.sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        const V iscale = qx_iscale(nmax, a.max, is);
        const QxCandidateT<V> c = qx_eval(n, nmax, x, qw, iscale, nullptr);
        const LaneMask<V> accept = qx_accepts(c, best);
        if (!any(accept)) continue;
        for (int i = 0; i < n; ++i) L[i] = select(accept, to_code(qx_level(iscale, x[i], nmax) + nmax), L[i]);
        const V s = c.sumlx / c.suml2;
        scale = select(accept, s, scale);
        best = select(accept, s * c.sumlx, best);
    }
    if (any(zero)) {  // lanes the scalar search returns from early
        for (int i = 0; i < n; ++i) L[i] = select(zero, LaneCode<V>(0), L[i]);
        scale = select(zero, V(0.0f), scale);
    }
    return scale;
}

// Q3_K's plain search (weights x²): start from iscale = -nmax/max, then up to 5 passes of moving single
// elements to their least-squares level while that improves sumlx²/suml2. n <= 32; L receives codes
// l + nmax in [0, 2·nmax-1]; an all-zero group gets scale 0 and codes 0. Lanes: a pass that changes no
// lane ends the search; a lane whose pass changed nothing stays unchanged in later passes.
template <class V>
KQ_HD V make_q3(int n, int nmax, const V* x, LaneCode<V>* L) {
    const AbsArgmaxT<V> a = abs_argmax(n, x);
    const LaneMask<V> zero = a.amax < V(kGroupMaxEps);
    if (all(zero)) {
        for (int i = 0; i < n; ++i) L[i] = LaneCode<V>(0);
        return V(0.0f);
    }
    const V iscale = V(static_cast<float>(-nmax)) / a.max;
    LaneInt<V> lv[32];  // signed levels while searching
    V sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
        lv[i] = qx_level(iscale, x[i], nmax);
        const V w = x[i] * x[i];
        const V fl = to_float(lv[i]);
        sumlx += w * x[i] * fl;
        suml2 += w * fl * fl;
    }
    for (int pass = 0; pass < 5; ++pass) {
        LaneMask<V> changed(false);
        for (int i = 0; i < n; ++i) {
            const V w = x[i] * x[i];
            const V fl = to_float(lv[i]);
            V slx = sumlx - w * x[i] * fl;
            LaneMask<V> take = slx > V(0.0f);
            if (!any(take)) continue;
            V sl2 = suml2 - w * fl * fl;
            const LaneInt<V> nl = kq_clamp(nint(x[i] * sl2 / slx), -nmax, nmax - 1);
            take = take & (nl != lv[i]);
            if (!any(take)) continue;
            const V fn = to_float(nl);
            slx += w * x[i] * fn;
            sl2 += w * fn * fn;
            take = take & (sl2 > V(0.0f)) & (slx * slx * suml2 > sumlx * sumlx * sl2);
            if (!any(take)) continue;
            lv[i] = select(take, nl, lv[i]);
            sumlx = select(take, slx, sumlx);
            suml2 = select(take, sl2, suml2);
            changed = changed | take;
        }
        if (!any(changed)) break;
    }
    for (int i = 0; i < n; ++i) L[i] = select(zero, LaneCode<V>(0), to_code(lv[i] + nmax));
    return select(zero | !(suml2 > V(0.0f)), V(0.0f), sumlx / suml2);
}

}  // namespace kquant::search
