// The neighbour-list rule of ggml's iq2xs_init_impl and iq3xs_init_impl, shared by the IQ1/IQ2 grids
// (iq_grid.cpp) and the IQ3 grids (iq3_grid.cpp).
#pragma once
#include <cstdint>
#include <vector>

namespace kquant::iq::detail {

// Appends to `out` the neighbour list of one off-grid key, given the squared distance d2[j] (0..max_d2) of
// its point to every grid point j: the list's length, then every point whose distance is among the nwant
// smallest distinct distances, ordered by (distance, index) — the order ggml's qsort leaves, its
// comparator being a total order. Returns the list's offset in `out`; `hist` is scratch.
inline size_t append_neighbours(const int* d2, int grid_size, int nwant, int max_d2, std::vector<int>& hist,
                                std::vector<uint16_t>& out) {
    hist.assign(static_cast<size_t>(max_d2) + 1, 0);
    for (int j = 0; j < grid_size; ++j) ++hist[d2[j]];
    const size_t start = out.size();
    out.push_back(0);
    int kept = 0;
    for (int d = 0; d <= max_d2 && kept < nwant; ++d) {
        if (hist[d] == 0) continue;
        ++kept;
        for (int j = 0; j < grid_size; ++j)
            if (d2[j] == d) out.push_back(static_cast<uint16_t>(j));
    }
    out[start] = static_cast<uint16_t>(out.size() - start - 1);
    return start;
}

}  // namespace kquant::iq::detail
