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
// Numeric contract: float32, sums in element order, C's left-to-right evaluation, no contraction.
#pragma once
#include <cstdint>

#include "kquant/hd.h"
#include "kquant/numeric.h"
#include "kquant/search/qx.h"

namespace kquant::search {

KQ_HD float qp_iscale(int nmax, float max, int is) {
    return (0.1f * static_cast<float>(is) + static_cast<float>(nmax)) / max;
}

// Weighted squared error Σ (w·diff)·diff of candidate `is`, diff = x - scale·l. The initial guess (is = 0)
// takes the stored byte of nint(iscale·x) unclamped; the other candidates clamp the level to nmax.
KQ_HD float qp_eval(int n, int nmax, const float* x, const float* qw, float max, int is) {
    const float iscale = qp_iscale(nmax, max, is);
    const float scale = 1.0f / iscale;
    float mse = 0.0f;
    for (int i = 0; i < n; ++i) {
        const int raw = nint(iscale * x[i]);
        const int l = is == 0 ? static_cast<int>(static_cast<uint8_t>(raw)) : (raw < nmax ? raw : nmax);
        const float diff = x[i] - scale * static_cast<float>(l);
        mse += qw[i] * diff * diff;
    }
    return mse;
}

// Levels from the chosen iscale, then up to 5 passes of moving single elements to their least-squares
// level while that improves sumlx²/suml2. Returns the scale; L receives n levels.
KQ_HD float qp_refine(int n, int nmax, const float* x, const float* qw, float iscale, uint8_t* L) {
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
        const int raw = nint(iscale * x[i]);
        const int l = raw < nmax ? raw : nmax;
        L[i] = static_cast<uint8_t>(l);
        const float fl = static_cast<float>(l);
        sumlx += qw[i] * x[i] * fl;
        suml2 += qw[i] * fl * fl;
    }
    for (int pass = 0; pass < 5; ++pass) {
        bool changed = false;
        for (int i = 0; i < n; ++i) {
            const float w = qw[i];
            const float fl = static_cast<float>(L[i]);
            float slx = sumlx - w * x[i] * fl;
            float sl2 = suml2 - w * fl * fl;
            if (!(slx > 0 && sl2 > 0)) continue;
            const int raw = nint(x[i] * sl2 / slx);
            const int nl = raw < nmax ? raw : nmax;
            if (nl == static_cast<int>(L[i])) continue;
            const float fn = static_cast<float>(nl);
            slx += w * x[i] * fn;
            sl2 += w * fn * fn;
            if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = static_cast<uint8_t>(nl);
                sumlx = slx;
                suml2 = sl2;
                changed = true;
            }
        }
        if (!changed) break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// max(0, x_i...): the candidates' denominator.
KQ_HD float qp_max(int n, const float* x) {
    float max = 0.0f;
    for (int i = 0; i < n; ++i) max = kq_max(max, x[i]);
    return max;
}

// Returns the scale; L receives n levels. All-zero (max < 1e-15) input gives scale 0 and levels 0.
KQ_HD float make_qp(int n, int nmax, const float* x, const float* qw, uint8_t* L) {
    const float max = qp_max(n, x);
    if (max < kGroupMaxEps) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.0f;
    }
    float best = qp_eval(n, nmax, x, qw, max, 0);
    int chosen = 0;
    for (int is = -4; is <= 4; ++is) {
        if (is == 0) continue;
        const float mse = qp_eval(n, nmax, x, qw, max, is);
        if (mse < best) {
            best = mse;
            chosen = is;
        }
    }
    return qp_refine(n, nmax, x, qw, qp_iscale(nmax, max, chosen), L);
}

}  // namespace kquant::search
