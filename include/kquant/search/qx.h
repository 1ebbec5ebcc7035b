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
// Numeric contract: float32, sums in element order, C's left-to-right evaluation, no contraction.
#pragma once
#include <cstdint>

#include "kquant/hd.h"
#include "kquant/numeric.h"

namespace kquant::search {

// Groups whose largest magnitude is below this are all-zero to the searches (ggml's GROUP_MAX_EPS).
inline constexpr float kGroupMaxEps = 1e-15f;

struct AbsArgmax {
    float max;   // signed value at the first index of largest |x|
    float amax;  // its magnitude (0 if every |x| is 0)
};

KQ_HD AbsArgmax abs_argmax(int n, const float* x) {
    AbsArgmax r{0.0f, 0.0f};
    for (int i = 0; i < n; ++i) {
        const float ax = kq_fabs(x[i]);
        if (ax > r.amax) {
            r.amax = ax;
            r.max = x[i];
        }
    }
    return r;
}

// Weight of element i: the importance weight if given, else x².
KQ_HD float qx_weight(const float* x, const float* qw, int i) { return qw != nullptr ? qw[i] : x[i] * x[i]; }

// iscale of candidate `is`; is = 0 is the initial guess -nmax/max (the same bits either way).
KQ_HD float qx_iscale(int nmax, float max, int is) {
    return -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
}

KQ_HD int qx_level(float iscale, float xi, int nmax) { return kq_clamp(nint(iscale * xi), -nmax, nmax - 1); }

struct QxCandidate {
    float sumlx;  // Σ (w·x)·l
    float suml2;  // Σ (w·l)·l
};

// Evaluates one iscale. L (may be null) receives the codes l + nmax.
KQ_HD QxCandidate qx_eval(int n, int nmax, const float* x, const float* qw, float iscale, uint8_t* L) {
    QxCandidate c{0.0f, 0.0f};
    for (int i = 0; i < n; ++i) {
        const int l = qx_level(iscale, x[i], nmax);
        if (L != nullptr) L[i] = static_cast<uint8_t>(l + nmax);
        const float w = qx_weight(x, qw, i);
        const float fl = static_cast<float>(l);
        c.sumlx += w * x[i] * fl;
        c.suml2 += w * fl * fl;
    }
    return c;
}

// Better iff sumlx²/suml2 > best, compared without dividing. Strict: ties keep the earlier candidate.
KQ_HD bool qx_accepts(const QxCandidate& c, float best) {
    return c.suml2 > 0 && c.sumlx * c.sumlx > best * c.suml2;
}

KQ_HD void qx_levels(int n, int nmax, const float* x, float iscale, uint8_t* L) {
    for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(qx_level(iscale, x[i], nmax) + nmax);
}

// Returns the scale (usually negative: the largest |x| maps to l = -nmax); L receives n codes in
// [0, 2·nmax-1]. An all-zero group gets scale 0 and codes 0 (not nmax). qw may be null (weights x²).
KQ_HD float make_qx(int n, int nmax, const float* x, const float* qw, uint8_t* L) {
    const AbsArgmax a = abs_argmax(n, x);
    if (a.amax < kGroupMaxEps) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.0f;
    }
    const QxCandidate c0 = qx_eval(n, nmax, x, qw, qx_iscale(nmax, a.max, 0), L);
    float scale = c0.suml2 != 0.0f ? c0.sumlx / c0.suml2 : 0.0f;
    float best = scale * c0.sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        const float iscale = qx_iscale(nmax, a.max, is);
        const QxCandidate c = qx_eval(n, nmax, x, qw, iscale, nullptr);
        if (!qx_accepts(c, best)) continue;
        qx_levels(n, nmax, x, iscale, L);
        scale = c.sumlx / c.suml2;
        best = scale * c.sumlx;
    }
    return scale;
}

// Q3_K's plain search (weights x²): start from iscale = -nmax/max, then up to 5 passes of moving single
// elements to their least-squares level while that improves sumlx²/suml2. n <= 32; L receives codes
// l + nmax in [0, 2·nmax-1]; an all-zero group gets scale 0 and codes 0.
KQ_HD float make_q3(int n, int nmax, const float* x, uint8_t* L) {
    const AbsArgmax a = abs_argmax(n, x);
    if (a.amax < kGroupMaxEps) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.0f;
    }
    const float iscale = static_cast<float>(-nmax) / a.max;
    int lv[32];  // signed levels while searching
    float sumlx = 0.0f, suml2 = 0.0f;
    for (int i = 0; i < n; ++i) {
        lv[i] = qx_level(iscale, x[i], nmax);
        const float w = x[i] * x[i];
        const float fl = static_cast<float>(lv[i]);
        sumlx += w * x[i] * fl;
        suml2 += w * fl * fl;
    }
    for (int pass = 0; pass < 5; ++pass) {
        bool changed = false;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            const float fl = static_cast<float>(lv[i]);
            float slx = sumlx - w * x[i] * fl;
            if (!(slx > 0)) continue;
            float sl2 = suml2 - w * fl * fl;
            const int nl = kq_clamp(nint(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (nl == lv[i]) continue;
            const float fn = static_cast<float>(nl);
            slx += w * x[i] * fn;
            sl2 += w * fn * fn;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                lv[i] = nl;
                sumlx = slx;
                suml2 = sl2;
                changed = true;
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(lv[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

}  // namespace kquant::search
