// Builds the IQ1/IQ2 grids and their lookup tables (iq_grid.h) from the packed source points, with the
// same content and order as ggml's iq2xs_init_impl.
#include "kquant/formats/iq_grid.h"

#include <string>
#include <vector>

#include "common/grid_neighbours.h"
#include "kquant/error.h"

namespace kquant::iq {

namespace data {
extern const uint16_t kGrid256[256];
extern const uint16_t kGrid512[512];
extern const uint16_t kGrid1024[1024];
extern const uint16_t kGrid2048[2048];
}  // namespace data

namespace {

struct Grid8Tables {
    std::vector<uint64_t> grid;
    std::vector<int32_t> map;
    std::vector<uint16_t> neighbours;
    Grid8View view{};
};

// Largest squared distance between a key's point (values 1..7) and a grid point (values 1..5): 8 * 6^2.
constexpr int kMaxDist2 = 8 * 36;

// nwant: how many distinct nearest distances a neighbour list keeps.
Grid8Tables build(const uint16_t* packed, int grid_size, int nwant) {
    Grid8Tables t;
    t.grid.resize(grid_size);
    // Columns of the grid values, so the distance loop over all points vectorizes.
    std::vector<int16_t> cols(static_cast<size_t>(8) * grid_size);
    for (int j = 0; j < grid_size; ++j) {
        uint64_t p = 0;
        for (int i = 0; i < 8; ++i) {
            const int v = 2 * ((packed[j] >> (2 * i)) & 3) + 1;
            p |= static_cast<uint64_t>(v) << (8 * i);
            cols[static_cast<size_t>(i) * grid_size + j] = static_cast<int16_t>(v);
        }
        t.grid[j] = p;
    }
    t.map.assign(kGrid8MapSize, -1);
    for (int j = 0; j < grid_size; ++j) {
        int key = 0;
        for (int i = 0; i < 8; ++i) key |= grid8_level(t.grid[j], i) << (2 * i);
        t.map[key] = j;
    }

    // Off-grid keys in key order, each with its neighbour list (grid_neighbours.h).
    std::vector<int> d2(grid_size), hist;
    for (int key = 0; key < kGrid8MapSize; ++key) {
        if (t.map[key] >= 0) continue;
        for (int j = 0; j < grid_size; ++j) d2[j] = 0;
        for (int i = 0; i < 8; ++i) {
            const int16_t v = static_cast<int16_t>(2 * ((key >> (2 * i)) & 3) + 1);
            const int16_t* c = cols.data() + static_cast<size_t>(i) * grid_size;
            for (int j = 0; j < grid_size; ++j) d2[j] += (c[j] - v) * (c[j] - v);
        }
        const size_t at = detail::append_neighbours(d2.data(), grid_size, nwant, kMaxDist2, hist, t.neighbours);
        t.map[key] = -(static_cast<int32_t>(at) + 1);
    }

    t.view.grid = t.grid.data();
    t.view.map = t.map.data();
    t.view.map_size = kGrid8MapSize;
    t.view.neighbours = t.neighbours.data();
    t.view.neighbours_size = static_cast<int32_t>(t.neighbours.size());
    t.view.grid_size = grid_size;
    return t;
}

}  // namespace

const Grid8View& grid8(int grid_size) {
    switch (grid_size) {
        case 256: {
            static const Grid8Tables t = build(data::kGrid256, 256, 2);
            return t.view;
        }
        case 512: {
            static const Grid8Tables t = build(data::kGrid512, 512, 2);
            return t.view;
        }
        case 1024: {
            static const Grid8Tables t = build(data::kGrid1024, 1024, 1);
            return t.view;
        }
        case 2048: {
            static const Grid8Tables t = build(data::kGrid2048, 2048, 3);
            return t.view;
        }
        default:
            throw Error("IQ grid: no 8-value grid of size " + std::to_string(grid_size) + " (256, 512, 1024 or 2048)");
    }
}

}  // namespace kquant::iq
