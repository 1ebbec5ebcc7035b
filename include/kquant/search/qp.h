// The positive-level search (spec §10.4, ggml's make_qp_quants): fit non-negative x ≈ scale·L with
// L in [0, nmax], under importance weights. It quantizes the per-sub-block scales and mins of the
// weighted Q2_K/Q4_K/Q5_K paths into the block's 4- or 6-bit codes.
//
// Shape (the CUDA kernel runs the same functions):
//   qp_eval   ONE candidate `is` (0 = the initial guess, then -4..4 without 0): its weighted squared error
//   qp_refine the levels of the chosen candidate, then a coordinate descent over elements
//   make_qp   the candidates in order, then qp_refine
// State that flows between candidates: (best error, iscale). A candidate's evaluation does not depend on
// the state; only the acceptance test reads `best`. The coordinate descent that follows is sequential:
// each accepted change moves the sums every later element reads.
//
// Byte-level detail kept from ggml: levels are stored as uint8 without a lower clamp, so a negative
// input (possible only for a degenerate sub-block fit) wraps, and the later arithmetic reads the wrapped
// byte exactly where ggml reads L[i].
//
// Every function is a template over the lane value type (simd/lanes.h): V = float is the scalar search.
//
// Numeric contract: float32, sums in element order, C's left-to-right evaluation, no contraction.
#pragma once
#include <cstdint>

#include "kquant/hd.h"
#include "kquant/numeric.h"
#include "kquant/simd/lanes.h"
#include "kquant/search/qx.h"

namespace kquant::search {

template <class V>
KQ_HD V qp_iscale(int nmax, V max, NoDeduce<LaneInt<V>> is) {
    return (V(0.1f) * to_float(is) + V(static_cast<float>(nmax))) / max;
}

// Weighted squared error Σ (w·diff)·diff of candidate `is`, diff = x - scale·l. The initial guess (is = 0)
// takes the stored byte of nint(iscale·x) unclamped; the other candidates clamp the level to nmax.
template <class V>
KQ_HD V qp_eval(int n, int nmax, const V* x, const NoDeduce<V>* qw, NoDeduce<V> max, int is) {
    const V iscale = qp_iscale(nmax, max, is);
    const V scale = V(1.0f) / iscale;
    V mse = 0.0f;
    for (int i = 0; i < n; ++i) {
        const LaneInt<V> raw = nint(iscale * x[i]);
        const LaneInt<V> l = is == 0 ? from_code(to_code(raw)) : select(raw < nmax, raw, LaneInt<V>(nmax));
        const V diff = x[i] - scale * to_float(l);
        mse += qw[i] * diff * diff;
    }
    return mse;
}

// Levels from the chosen iscale, then up to 5 passes of moving single elements to their least-squares
// level while that improves sumlx²/suml2. Returns the scale; L receives n levels. Lanes: a pass that
// changes no lane ends the search; a lane whose pass changed nothing stays unchanged in later passes.
template <class V>
KQ_HD V qp_refine(int n, int nmax, const V* x, const NoDeduce<V>* qw, NoDeduce<V> iscale, LaneCode<V>* L) {
    V sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
        const LaneInt<V> raw = nint(iscale * x[i]);
        const LaneInt<V> l = select(raw < nmax, raw, LaneInt<V>(nmax));
        L[i] = to_code(l);
        const V fl = to_float(l);
        sumlx += qw[i] * x[i] * fl;
        suml2 += qw[i] * fl * fl;
    }
    for (int pass = 0; pass < 5; ++pass) {
        LaneMask<V> changed(false);
        for (int i = 0; i < n; ++i) {
            const V w = qw[i];
            const V fl = to_float(from_code(L[i]));
            V slx = sumlx - w * x[i] * fl;
            V sl2 = suml2 - w * fl * fl;
            LaneMask<V> take = (slx > V(0.0f)) & (sl2 > V(0.0f));
            if (!any(take)) continue;
            const LaneInt<V> raw = nint(x[i] * sl2 / slx);
            const LaneInt<V> nl = select(raw < nmax, raw, LaneInt<V>(nmax));
            take = take & (nl != from_code(L[i]));
            if (!any(take)) continue;
            const V fn = to_float(nl);
            slx += w * x[i] * fn;
            sl2 += w * fn * fn;
            take = take & (slx * slx * suml2 > sumlx * sumlx * sl2);
            if (!any(take)) continue;
            L[i] = select(take, to_code(nl), L[i]);
            sumlx = select(take, slx, sumlx);
            suml2 = select(take, sl2, suml2);
            changed = changed | take;
        }
        if (!any(changed)) break;
    }
    return select(suml2 > V(0.0f), sumlx / suml2, V(0.0f));
}

// max(0, x_i...): the candidates' denominator.
template <class V>
KQ_HD V qp_max(int n, const V* x) {
    V max = 0.0f;
    for (int i = 0; i < n; ++i) max = kq_max(max, x[i]);
    return max;
}

// Returns the scale; L receives n levels. All-zero (max < 1e-15) input gives scale 0 and levels 0.
template <class V>
KQ_HD V make_qp(int n, int nmax, const V* x, const NoDeduce<V>* qw, LaneCode<V>* L) {
    const V max = qp_max(n, x);
    const LaneMask<V> zero = max < V(kGroupMaxEps);
    if (all(zero)) {
        for (int i = 0; i < n; ++i) L[i] = LaneCode<V>(0);
        return V(0.0f);
    }
    V best = qp_eval(n, nmax, x, qw, max, 0);
    LaneInt<V> chosen = 0;
    for (int is = -4; is <= 4; ++is) {
        if (is == 0) continue;
        const V mse = qp_eval(n, nmax, x, qw, max, is);
        const LaneMask<V> better = mse < best;
        best = select(better, mse, best);
        chosen = select(better, LaneInt<V>(is), chosen);
    }
    V scale = qp_refine(n, nmax, x, qw, qp_iscale(nmax, max, chosen), L);
    if (any(zero)) {  // lanes the scalar search returns from early
        for (int i = 0; i < n; ++i) L[i] = select(zero, LaneCode<V>(0), L[i]);
        scale = select(zero, V(0.0f), scale);
    }
    return scale;
}

}  // namespace kquant::search
