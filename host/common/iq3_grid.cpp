// Derivation of the IQ3 grid tables (kquant/formats/iq3_grid.h) from the packed points, with the same
// content and order as ggml's iq3xs_init_impl: grid points, the level-code map, and for every code off
// the grid the list of its nearest grid points.
#include "kquant/formats/iq3_grid.h"

#include <string>
#include <vector>

#include "common/grid_neighbours.h"
#include "common/iq3_grid_data.h"
#include "kquant/error.h"

namespace kquant::iq {
namespace {

constexpr int kMapSize = 4096;  // 4 levels of 3 bits

struct Grid4Tables {
    std::vector<uint32_t> grid;
    std::vector<int32_t> map;
    std::vector<uint16_t> neighbours;
    Grid4View view{};
    Grid4Tables(const uint16_t* packed, int grid_size, int n_distances);
};

// The 4 odd values 2*level+1 of a 12-bit level code, one per byte.
uint32_t point_of_code(int code) {
    uint32_t p = 0;
    for (int k = 0; k < 4; ++k) p |= static_cast<uint32_t>(2 * ((code >> (3 * k)) & 7) + 1) << (8 * k);
    return p;
}

int dist2(uint32_t a, uint32_t b) {
    int d2 = 0;
    for (int k = 0; k < 4; ++k) {
        const int d = static_cast<int>((a >> (8 * k)) & 0xff) - static_cast<int>((b >> (8 * k)) & 0xff);
        d2 += d * d;
    }
    return d2;
}

// n_distances: how many of the smallest distinct distances a neighbour list covers (2 for grid 256,
// 3 for grid 512, as ggml's nwant).
Grid4Tables::Grid4Tables(const uint16_t* packed, int grid_size, int n_distances) {
    Grid4Tables& t = *this;
    t.grid.resize(grid_size);
    t.map.assign(kMapSize, -1);
    for (int i = 0; i < grid_size; ++i) {
        t.grid[i] = point_of_code(packed[i]);
        t.map[packed[i]] = i;
    }
    // Neighbour lists in increasing code order (grid_neighbours.h).
    constexpr int kMaxDist2 = 4 * 14 * 14;  // values 1..15
    std::vector<int> d2(grid_size), hist;
    for (int code = 0; code < kMapSize; ++code) {
        if (t.map[code] >= 0) continue;
        const uint32_t p = point_of_code(code);
        for (int j = 0; j < grid_size; ++j) d2[j] = dist2(t.grid[j], p);
        const size_t at = detail::append_neighbours(d2.data(), grid_size, n_distances, kMaxDist2, hist, t.neighbours);
        t.map[code] = -static_cast<int32_t>(at) - 1;
    }
    t.view = Grid4View{t.grid.data(),       t.map.data(), kMapSize, t.neighbours.data(),
                       static_cast<int32_t>(t.neighbours.size()), grid_size};
}

}  // namespace

const Grid4View& grid4(int grid_size) {
    // Function-local statics: built on first use, thread-safe (C++11 static initialization).
    if (grid_size == 256) {
        static const Grid4Tables t(kIq3PackedGrid256, 256, 2);
        return t.view;
    }
    if (grid_size == 512) {
        static const Grid4Tables t(kIq3PackedGrid512, 512, 3);
        return t.view;
    }
    throw Error("IQ3 grid: no grid of size " + std::to_string(grid_size) + " (256 or 512)");
}

}  // namespace kquant::iq
