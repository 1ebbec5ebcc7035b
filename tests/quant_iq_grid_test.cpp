// The IQ1/IQ2 grids and their lookup tables (formats/iq_grid.h): the expanded points equal ggml-common.h's
// iq2xxs_grid / iq2xs_grid / iq2s_grid / iq1s_grid, and the key map and neighbour lists equal what ggml's
// iq2xs_init_impl builds (hashes of its arrays), and hold their invariants.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

#include "kquant/formats/iq_grid.h"

namespace kquant::iq {
namespace {

// ---- test data: ggml-common.h's grid tables (llama.cpp format data, commit 0c1e5709): a sample of
// entries and the FNV-1a 64 hash of the whole table (entries as little-endian uint64).
// iq2xxs_grid: every 4th entry
constexpr uint64_t kXxsSample[64] = {
    0x0808080808080808, 0x0808080808082b2b, 0x08080808082b082b, 0x0808080819081908,
    0x08080808192b1908, 0x080808082b2b082b, 0x0808081908191919, 0x0808082b08080808,
    0x0808190808080819, 0x08081908082b1908, 0x08081908192b0808, 0x080819082b2b1908,
    0x08081919082b0808, 0x080819192b190819, 0x0808192b2b081908, 0x08082b0808082b08,
    0x08082b0819081908, 0x08082b1908081908, 0x0819080808080819, 0x0819080819080808,
    0x081908082b191919, 0x0819081919190808, 0x0819082b19081919, 0x08191908082b1919,
    0x08191919192b082b, 0x08192b0808081908, 0x08192b1908080808, 0x082b080808080808,
    0x082b0808192b0819, 0x082b081919082b08, 0x082b190808081908, 0x082b191908080808,
    0x082b2b0808082b08, 0x1908080808080819, 0x19080808082b0819, 0x190808081919192b,
    0x190808082b190808, 0x190808192b080808, 0x1908082b19082b08, 0x1908190808082b08,
    0x190819190819082b, 0x19082b0808081908, 0x19082b1908080808, 0x19082b2b19081919,
    0x1919080808190819, 0x191908082b082b08, 0x1919082b2b190819, 0x1919192b08080819,
    0x19192b0808192b19, 0x192b080808081908, 0x192b081908080808, 0x192b190808080808,
    0x192b19192b081908, 0x2b08080808082b2b, 0x2b08081908192b08, 0x2b08190808081908,
    0x2b081908192b0808, 0x2b08192b08082b19, 0x2b082b1908081908, 0x2b190808082b1908,
    0x2b1908192b080808, 0x2b19190819081908, 0x2b2b08080808082b, 0x2b2b082b08080808,
};
constexpr uint64_t kXxsHash = 0x5bd45ef8a547a7e8ull;
// iq2xs_grid: every 8th entry
constexpr uint64_t kXsSample[64] = {
    0x0808080808080808, 0x0808080808192b19, 0x0808080819082b19, 0x080808082b08082b,
    0x0808081908081908, 0x08080819082b0819, 0x08080819192b0808, 0x0808082b08082b08,
    0x0808082b2b080808, 0x0808190808191919, 0x0808190819190819, 0x080819190808082b,
    0x0808191919190808, 0x0808192b1908082b, 0x08082b0808191908, 0x08082b082b2b0808,
    0x08082b2b08080808, 0x0819080808082b19, 0x081908081908082b, 0x081908082b081908,
    0x08190819082b0808, 0x0819082b08081908, 0x0819190808082b08, 0x08191908192b1908,
    0x0819192b19082b19, 0x08192b1908080808, 0x082b080808082b08, 0x082b08082b080808,
    0x082b082b08080808, 0x082b190819080808, 0x082b2b0808080808, 0x082b2b192b190808,
    0x190808080808192b, 0x1908080819080808, 0x19080808192b1919, 0x1908081908190819,
    0x190808192b2b082b, 0x190819080808082b, 0x1908190819081908, 0x1908191919080808,
    0x19082b0808190808, 0x19082b1919190808, 0x1919080808191908, 0x1919081908081908,
    0x1919190808080819, 0x1919191908080808, 0x19192b0808191908, 0x192b080808080819,
    0x192b081908080808, 0x192b191919081919, 0x2b08080808080808, 0x2b08080819080819,
    0x2b08081908081908, 0x2b08082b2b080808, 0x2b08190808191919, 0x2b08192b192b2b2b,
    0x2b082b190808192b, 0x2b19080808190808, 0x2b19082b2b082b19, 0x2b1919192b19082b,
    0x2b2b08080808082b, 0x2b2b08192b2b192b, 0x2b2b19082b191919, 0x2b2b2b082b2b2b08,
};
constexpr uint64_t kXsHash = 0xa3e52388268ca2a3ull;
// iq2s_grid: every 16th entry
constexpr uint64_t kSSample[64] = {
    0x0808080808080808, 0x0808080819082b19, 0x080808082b2b1919, 0x0808081919190819,
    0x0808082b08081919, 0x0808082b2b2b082b, 0x0808190819082b08, 0x080819082b2b0819,
    0x080819191908192b, 0x0808192b08081908, 0x08082b0808081919, 0x08082b0819192b08,
    0x08082b1919082b08, 0x081908080808192b, 0x0819080819192b19, 0x0819081908082b08,
    0x0819081919191919, 0x0819082b082b1908, 0x08191908082b0808, 0x081919082b082b08,
    0x0819191919081919, 0x0819192b19190808, 0x08192b0819191908, 0x08192b2b08081908,
    0x082b080819081908, 0x082b08191908082b, 0x082b082b2b082b2b, 0x082b190819191908,
    0x082b192b08080819, 0x082b2b1908190808, 0x19080808082b0819, 0x190808082b081908,
    0x19080819082b1919, 0x190808192b191908, 0x1908082b2b081908, 0x190819081908192b,
    0x1908191908081908, 0x19081919192b2b2b, 0x19082b0808080819, 0x19082b082b081908,
    0x19082b2b08190808, 0x191908081908192b, 0x191908190808192b, 0x191908192b081908,
    0x1919190808082b19, 0x191919082b190808, 0x1919192b19080808, 0x19192b1919080808,
    0x192b080819082b08, 0x192b08192b080808, 0x192b19082b080808, 0x192b2b19082b2b2b,
    0x2b08080819191919, 0x2b08081919080808, 0x2b08082b19081908, 0x2b08190819191908,
    0x2b0819192b082b2b, 0x2b082b1919080808, 0x2b1908081908082b, 0x2b19081919192b2b,
    0x2b1919082b080808, 0x2b192b082b2b2b19, 0x2b2b081919080808, 0x2b2b19082b2b1908,
};
constexpr uint64_t kSHash = 0xcdb5ae5bcfe7fb32ull;
// iq1s_grid: every 32th entry
constexpr uint64_t kIq1sSample[64] = {
    0xffffffffffffffff, 0xffffff00ff010000, 0xffffff0101ff01ff, 0xffff000000ff0101,
    0xffff000100010001, 0xffff0100ff0100ff, 0xffff010101ff0101, 0xff00ff00ff000000,
    0xff00ff01000100ff, 0xff0000ff010000ff, 0xff00000000000101, 0xff00000100ffffff,
    0xff0001ff000001ff, 0xff0001000100ff01, 0xff01ffffff0101ff, 0xff01ff0001ff0000,
    0xff0100ffff010000, 0xff010000010000ff, 0xff0101ff00ff0000, 0xff010101ffffff01,
    0x00ffffff00010001, 0x00ffff0001ff0001, 0x00ff00ff0001ff00, 0x00ff00000000ff00,
    0x00ff0001ff0100ff, 0x00ff01ff000001ff, 0x00ff01000001ff01, 0x0000ffffff000101,
    0x0000ff00ff01ffff, 0x0000ff0001010000, 0x000000ffff0001ff, 0x000000ff01000001,
    0x0000000000ff0100, 0x0000000001010000, 0x00000001000000ff, 0x000001ffff010101,
    0x0000010000ffff00, 0x00000101ff000101, 0x0001ffff00000000, 0x0001ff000100ff01,
    0x000100ff0000ff00, 0x0001000000ff0100, 0x0001000100ff0000, 0x000101ff00010100,
    0x0001010001010000, 0x01ffffff00000001, 0x01ffff00010000ff, 0x01ff00ff00000101,
    0x01ff00000100ff01, 0x01ff01ff00ffff00, 0x01ff010001ff0000, 0x0100ffff00ffff00,
    0x0100ff0000000001, 0x010000ffffff00ff, 0x01000000ff0000ff, 0x01000000010000ff,
    0x010000010100ff01, 0x01000100ff01ffff, 0x010001010000ffff, 0x0101ff00ffff0000,
    0x0101ff0100010000, 0x01010000ff010100, 0x010100010001ff01, 0x01010100ff000100,
};
constexpr uint64_t kIq1sHash = 0x31aaba1fc89a41d0ull;

// FNV-1a 64 hashes of the tables ggml's iq2xs_init_impl builds (grid: uint64 points, map: 43692 int32,
// neighbours: uint16 lists), computed from the reference's own function; and the neighbours' length.
struct InitHashes {
    int grid_size;
    uint64_t grid, map;
    int neighbours_size;
    uint64_t neighbours;
};
constexpr InitHashes kInit[4] = {
    {256, 0x0ca6ae414704a3cbull, 0x9c0cac1ba33a3e09ull, 417400, 0x7c720d79ef2aee15ull},
    {512, 0x2f9191195d5dfa9bull, 0x2b615902cece83b7ull, 551722, 0x5874deae18afced9ull},
    {1024, 0x5c94d4ca65a95067ull, 0x03b7d61fdeded6f5ull, 209100, 0x27696319d3e98456ull},
    {2048, 0x30e635ae94980981ull, 0xe67708600c6468e9ull, 1375339, 0x4b0077ab1a0e2454ull},
};

uint64_t fnv1a(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; ++i) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

// Our point (values 2l+1) in ggml-common.h's encoding: bytes 0x08/0x19/0x2b for the IQ2 grids, l-1 for IQ1.
uint64_t common_encoding(uint64_t point, bool iq1) {
    static constexpr uint8_t kIq2Bytes[3] = {0x08, 0x19, 0x2b};
    uint64_t r = 0;
    for (int i = 0; i < 8; ++i) {
        const int l = grid8_level(point, i);
        const uint8_t b = iq1 ? static_cast<uint8_t>(l - 1) : kIq2Bytes[l];
        r |= static_cast<uint64_t>(b) << (8 * i);
    }
    return r;
}

void expect_common_table(int grid_size, const uint64_t* sample, int n_sample, uint64_t hash) {
    const Grid8View& g = grid8(grid_size);
    ASSERT_EQ(g.grid_size, grid_size);
    const bool iq1 = grid_size == 2048;
    std::vector<uint64_t> enc(grid_size);
    for (int j = 0; j < grid_size; ++j) enc[j] = common_encoding(g.grid[j], iq1);
    const int step = grid_size / n_sample;
    for (int s = 0; s < n_sample; ++s)
        EXPECT_EQ(enc[s * step], sample[s]) << "grid " << grid_size << " entry " << s * step;
    EXPECT_EQ(fnv1a(enc.data(), enc.size() * 8), hash) << "grid " << grid_size;
}

TEST(IqGrid, PointsEqualGgmlCommonTables) {
    expect_common_table(256, kXxsSample, 64, kXxsHash);
    expect_common_table(512, kXsSample, 64, kXsHash);
    expect_common_table(1024, kSSample, 64, kSHash);
    expect_common_table(2048, kIq1sSample, 64, kIq1sHash);
}

TEST(IqGrid, TablesEqualGgmlInit) {
    for (const InitHashes& h : kInit) {
        const Grid8View& g = grid8(h.grid_size);
        EXPECT_EQ(fnv1a(g.grid, static_cast<size_t>(g.grid_size) * 8), h.grid) << h.grid_size;
        ASSERT_EQ(g.map_size, kGrid8MapSize);
        EXPECT_EQ(fnv1a(g.map, static_cast<size_t>(g.map_size) * 4), h.map) << h.grid_size;
        ASSERT_EQ(g.neighbours_size, h.neighbours_size) << h.grid_size;
        EXPECT_EQ(fnv1a(g.neighbours, static_cast<size_t>(g.neighbours_size) * 2), h.neighbours) << h.grid_size;
    }
}

int dist2(uint64_t point, int key) {
    int d = 0;
    for (int i = 0; i < 8; ++i) {
        const int diff = grid8_value(point, i) - (2 * ((key >> (2 * i)) & 3) + 1);
        d += diff * diff;
    }
    return d;
}

// Invariants, checked independently of the builder: grid keys map to their index; off-grid lists are
// contiguous in key order, and for a sample of keys equal the points of the nwant nearest distinct
// distances sorted by (distance, index).
void expect_invariants(int grid_size, int nwant) {
    const Grid8View& g = grid8(grid_size);
    int on_grid = 0;
    for (int key = 0; key < g.map_size; ++key) on_grid += g.map[key] >= 0;
    EXPECT_EQ(on_grid, grid_size);
    for (int j = 0; j < grid_size; ++j) {
        int8_t L[8];
        for (int i = 0; i < 8; ++i) {
            L[i] = static_cast<int8_t>(grid8_level(g.grid[j], i));
            ASSERT_GE(L[i], 0);
            ASSERT_LE(L[i], 2);
        }
        EXPECT_EQ(g.map[grid8_key(L)], j);
    }
    int32_t next = 0;
    for (int key = 0; key < g.map_size; ++key) {
        if (g.map[key] >= 0) continue;
        ASSERT_EQ(-g.map[key] - 1, next) << "key " << key;
        const uint16_t* list = grid8_neighbours(g, key);
        ASSERT_GE(list[0], 1);
        next += 1 + list[0];
        ASSERT_LE(next, g.neighbours_size);
        if (key % 61 != 0) continue;
        std::vector<std::pair<int, int>> all;
        for (int j = 0; j < grid_size; ++j) all.emplace_back(dist2(g.grid[j], key), j);
        std::sort(all.begin(), all.end());
        std::vector<int> want;
        int distinct = 0, last = -1;
        for (const auto& [d, j] : all) {
            if (d != last) {
                if (++distinct > nwant) break;
                last = d;
            }
            want.push_back(j);
        }
        ASSERT_EQ(static_cast<int>(list[0]), static_cast<int>(want.size())) << "key " << key;
        for (size_t k = 0; k < want.size(); ++k) EXPECT_EQ(list[1 + k], want[k]) << "key " << key;
    }
    EXPECT_EQ(next, g.neighbours_size);
}

TEST(IqGrid, MapAndNeighbourInvariants) {
    expect_invariants(256, 2);
    expect_invariants(512, 2);
    expect_invariants(1024, 1);
    expect_invariants(2048, 3);
}

TEST(IqGrid, SameViewFromConcurrentFirstUse) {
    const Grid8View* seen[4] = {};
    std::vector<std::thread> th;
    for (int t = 0; t < 4; ++t) th.emplace_back([&seen, t] { seen[t] = &grid8(512); });
    for (auto& x : th) x.join();
    for (int t = 1; t < 4; ++t) EXPECT_EQ(seen[t], seen[0]);
}

TEST(IqGrid, BestNeighbourPicksLeastWeightedError) {
    const Grid8View& g = grid8(256);
    // The first off-grid key with more than one candidate.
    int key = 0;
    while (key < g.map_size && (g.map[key] >= 0 || grid8_neighbours(g, key)[0] < 2)) ++key;
    ASSERT_LT(key, g.map_size);
    const uint16_t* list = grid8_neighbours(g, key);
    const float x[8] = {5, 5, 5, 5, 5, 5, 5, 1};
    const float w[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    int8_t L[8];
    const int idx = grid8_best_neighbour(g, list, x, w, 1.0f, L);
    float best = 1e30f;
    for (int k = 1; k <= list[0]; ++k) {
        float d = 0;
        for (int i = 0; i < 8; ++i) {
            const float diff = static_cast<float>(grid8_value(g.grid[list[k]], i)) - x[i];
            d += diff * diff;
        }
        best = std::min(best, d);
    }
    float got = 0;
    for (int i = 0; i < 8; ++i) {
        EXPECT_EQ(L[i], grid8_level(g.grid[idx], i));
        const float diff = static_cast<float>(2 * L[i] + 1) - x[i];
        got += diff * diff;
    }
    EXPECT_EQ(got, best);
}

}  // namespace
}  // namespace kquant::iq
