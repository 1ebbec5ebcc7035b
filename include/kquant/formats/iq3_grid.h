// The D4-lattice grids of the IQ3 types (4 values per point, each an odd value 1..15), with ggml's
// lookup tables: as built by ggml's iq3xs_init_impl for grid sizes 256 (IQ3_XXS) and 512 (IQ3_S).
#pragma once
#include <cstdint>

namespace kquant::iq {

// One grid of 4-value points with ggml's lookup tables, as flat arrays (a kernel can copy them to
// shared/constant memory).
//   grid[i]:  point i, its 4 values as the bytes of a little-endian uint32 (value k in byte k).
//   map[u]:   u = the point's 4 levels (value-1)/2, 3 bits each, level k at bit 3k (map_size = 4096).
//             map[u] >= 0: u is grid point map[u]. map[u] < 0: u is off the grid, and its neighbour
//             list starts at neighbours[-map[u] - 1].
//   a neighbour list: its length n, then n grid indices (the points at the nearest 2 (grid 256) or
//             3 (grid 512) distinct squared distances, by distance then index).
struct Grid4View {
    const uint32_t* grid;
    const int32_t* map;
    int32_t map_size;
    const uint16_t* neighbours;
    int32_t neighbours_size;
    int32_t grid_size;
};

// Host only; built once per process on first use, thread-safe. grid_size: 256 or 512 (else throws
// kquant::Error).
const Grid4View& grid4(int grid_size);

}  // namespace kquant::iq
