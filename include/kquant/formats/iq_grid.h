// The 8-element lattice grids of IQ2_XXS (256 points), IQ2_XS (512), IQ2_S (1024) and IQ1_S/IQ1_M (2048),
// with the lookup tables ggml's iq2xs_init_impl builds for the quantizers' nearest-point search.
//
// A grid point packs eight int8 values 2l+1 (l = level 0..2) little-endian in a uint64. Every key
// k = sum l_i << 2i below kGrid8MapSize maps either to its grid index (>= 0) or, for an off-grid key, to
// -(offset+1): neighbours[offset] is the count n, then the n indices of the grid points nearest to the key's
// point (squared distance over the values 2l+1), all points of the nearest few distinct distances, in
// (distance, index) order as ggml's qsort leaves them. The number of distinct distances kept is ggml's
// nwant: 2 for the 256 and 512 grids, 1 for 1024, 3 for 2048.
#pragma once
#include <cstdint>

#include "kquant/hd.h"

namespace kquant::iq {

// Keys are 16-bit; ggml's map covers 0..43691, enough for every key whose levels stay in 0..2 (max 0xAAAA).
constexpr int kGrid8MapSize = 43692;

// One grid with its tables as flat arrays (a kernel can copy them to shared or constant memory).
struct Grid8View {
    const uint64_t* grid;         // grid_size points, 8 int8 values each
    const int32_t* map;           // key -> index >= 0, or -(offset+1) into neighbours
    int32_t map_size;             // kGrid8MapSize
    const uint16_t* neighbours;   // count-prefixed lists
    int32_t neighbours_size;
    int32_t grid_size;
};

// Host only. Built once per process on first use (thread-safe); grid_size in {256, 512, 1024, 2048}.
// Throws kquant::Error for any other size.
const Grid8View& grid8(int grid_size);

// Value i (0..7) of a grid point: the int8 2l+1.
KQ_HD int grid8_value(uint64_t point, int i) { return static_cast<int8_t>((point >> (8 * i)) & 0xffu); }

// Level i of a grid point: (value - 1) / 2.
KQ_HD int grid8_level(uint64_t point, int i) { return (grid8_value(point, i) - 1) / 2; }

// The map key of eight levels (each 0..3).
KQ_HD int grid8_key(const int8_t* L) {
    int key = 0;
    for (int i = 0; i < 8; ++i) key |= L[i] << (2 * i);
    return key;
}

// The neighbour list (count first) of an off-grid key, i.e. one whose map entry is negative.
KQ_HD const uint16_t* grid8_neighbours(const Grid8View& g, int key) { return g.neighbours - g.map[key] - 1; }

// The weighted squared distance of a group of 8 to a grid point, sum w_i*(scale*q(l_i) - x_i)^2 over the
// point's levels l_i, as ggml's neighbour searches form it: float32, terms in element order, (w*diff)*diff,
// no contraction. An element takes one of three levels, so its three possible terms are formed once per
// search (the same floats the reference forms for every point) and a point's distance is their sum.
// The terms are indexed by the point's raw value byte 2l+1 (1, 3 or 5: its low three bits), so a point's
// distance reads eight bytes and adds eight table entries.
struct Grid8Terms {
    float t[8][8];  // t[i][2l+1]; the even slots are unused
};
// q: the value of each level (the IQ2 grids: 2l+1; IQ1: its shifted values).
KQ_HD Grid8Terms grid8_terms(const float* x, const float* w, float scale, const float* q) {
    Grid8Terms T;
    for (int i = 0; i < 8; ++i)
        for (int l = 0; l < 3; ++l) {
            const float diff = scale * q[l] - x[i];
            T.t[i][2 * l + 1] = w[i] * diff * diff;
        }
    return T;
}
KQ_HD float grid8_d2(const Grid8Terms& T, uint64_t point) {
    float d2 = 0.0f;
    for (int i = 0; i < 8; ++i) d2 += T.t[i][(point >> (8 * i)) & 7u];
    return d2;
}

// As ggml's iq2_find_best_neighbour: among the listed points, the one of least distance (grid8_d2 with
// q = 2l+1; first wins on ties). Writes its eight levels to L, returns its index.
KQ_HD int grid8_best_neighbour(const Grid8View& g, const uint16_t* list, const float* x, const float* w,
                               float scale, int8_t* L) {
    constexpr float kValues[3] = {1.0f, 3.0f, 5.0f};
    const Grid8Terms T = grid8_terms(x, w, scale, kValues);
    const int n = list[0];
    float best_d2 = 3.40282347e+38f;  // FLT_MAX
    int best = -1;
    for (int j = 1; j <= n; ++j) {
        const float d2 = grid8_d2(T, g.grid[list[j]]);
        if (d2 < best_d2) {
            best_d2 = d2;
            best = list[j];
        }
    }
    // ggml asserts best >= 0; it fails only when every d2 is NaN or >= FLT_MAX, where we take the first point.
    if (best < 0) best = list[1];
    const uint64_t p = g.grid[best];
    for (int i = 0; i < 8; ++i) L[i] = static_cast<int8_t>(grid8_level(p, i));
    return best;
}

}  // namespace kquant::iq
