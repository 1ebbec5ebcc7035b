// IQ1_S and IQ1_M against ggml's bytes (extra-types-golden.gguf, ggml 0c1e5709): every case, IQ1_S with an
// imatrix (ggml has no plain IQ1_S), IQ1_M plain and with an imatrix, block by block, no tolerance. The
// dequantizers are checked against a reading of the block layout written here from ggml-common.h's field
// description, with the grid values spot-checked against ggml's iq1s_grid table.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kquant/codec.h"
#include "kquant/formats/iq1.h"
#include "kquant/formats/iq_grid.h"
#include "kquant/gguf.h"
#include "support/golden.h"
#include "kquant/types.h"

namespace kquant {
namespace {

const gguf::Reader& golden() { return test::extra_golden(); }
std::vector<std::string> golden_cases() { return test::golden_cases(golden()); }
std::vector<float> f32_of(const gguf::TensorInfo& t) { return test::golden_f32(golden(), t); }

constexpr size_t kGoldenCases = 18;

int grid_value(int i, int j) {
    const iq::Grid8View& g = iq::grid8(2048);
    return static_cast<int8_t>(static_cast<uint8_t>(g.grid[i] >> (8 * j))) / 2 - 1;  // bytes 1,3,5 -> -1,0,1
}

TEST(Iq1Grid, ValuesMatchGgmlIq1sGridSpotChecks) {
    // Entries of ggml-common.h's iq1s_grid (0c1e5709) as uint64 literals: 0, 1, 2, 1000, 2047.
    struct Entry {
        int index;
        uint64_t bits;
    };
    const Entry entries[] = {{0, 0xffffffffffffffffULL},
                             {1, 0xffffffffffffff01ULL},
                             {2, 0xffffffffffff0000ULL},
                             {1000, 0x00000000ffff00ffULL},
                             {2047, 0x0101010101010101ULL}};
    for (const Entry& e : entries)
        for (int j = 0; j < 8; ++j)
            EXPECT_EQ(grid_value(e.index, j), static_cast<int8_t>(static_cast<uint8_t>(e.bits >> (8 * j))))
                << "point " << e.index << " element " << j;
}

float half_to_float(uint16_t h) {
    const int e = (h >> 10) & 31, m = h & 1023;
    const double v = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
    return static_cast<float>((h & 0x8000) ? -v : v);  // no inf/NaN scales in these files
}

// IQ1_S: half d @0; qs[32] @2; qh[8] (LE u16) @34. Element 32*ib + 8*k + j.
std::vector<float> read_iq1_s(const uint8_t* b) {
    std::vector<float> y(QK_K);
    const float d = half_to_float(static_cast<uint16_t>(b[0] | (b[1] << 8)));
    for (int ib = 0; ib < 8; ++ib) {
        const unsigned qh = b[34 + 2 * ib] | (b[35 + 2 * ib] << 8);
        const float dl = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1);
        const float delta = (qh >> 15) ? -0.125f : 0.125f;
        for (int k = 0; k < 4; ++k) {
            const int idx = b[2 + 4 * ib + k] + 256 * ((qh >> (3 * k)) & 7);
            for (int j = 0; j < 8; ++j) y[32 * ib + 8 * k + j] = dl * (static_cast<float>(grid_value(idx, j)) + delta);
        }
    }
    return y;
}

// IQ1_M: qs[32] @0; qh[16] @32 (low nibble: group 0, high nibble: group 1; bit 3 of a nibble = minus);
// scales @48 as four LE u16: bits 3i..3i+2 = scale of sub-block 4w+i, top nibbles = the fp16 d, low first.
std::vector<float> read_iq1_m(const uint8_t* b) {
    std::vector<float> y(QK_K);
    unsigned sc[4];
    for (int w = 0; w < 4; ++w) sc[w] = b[48 + 2 * w] | (b[49 + 2 * w] << 8);
    const uint16_t dbits = static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 12) << 4) | ((sc[2] >> 12) << 8) |
                                                 ((sc[3] >> 12) << 12));
    const float d = half_to_float(dbits);
    for (int ib = 0; ib < 16; ++ib) {
        const float dl = d * static_cast<float>(2 * ((sc[ib / 4] >> (3 * (ib % 4))) & 7) + 1);
        for (int k = 0; k < 2; ++k) {
            const unsigned nib = (b[32 + ib] >> (4 * k)) & 15;
            const int idx = b[2 * ib + k] + 256 * (nib & 7);
            const float delta = (nib & 8) ? -0.125f : 0.125f;
            for (int j = 0; j < 8; ++j) y[16 * ib + 8 * k + j] = dl * (static_cast<float>(grid_value(idx, j)) + delta);
        }
    }
    return y;
}

// Dequantizes every golden block of the tensor with codec C and compares with the reading above
// (bitwise: same float expression per element).
template <class C>
void check_dequantize(const std::string& suffix, std::vector<float> (*read)(const uint8_t*)) {
    size_t blocks = 0;
    for (const std::string& c : golden_cases()) {
        const gguf::TensorInfo* t = golden().find_tensor(c + "." + std::string(type_info(C::type).name) + suffix);
        ASSERT_NE(t, nullptr) << c;
        const int64_t n = t->nelements();
        const auto* raw = golden().tensor_data(*t);
        std::vector<float> y(static_cast<size_t>(n));
        dequantize_row<C>(raw, y.data(), n);
        for (int64_t ib = 0; ib < n / QK_K; ++ib, ++blocks) {
            const std::vector<float> want = read(raw + ib * sizeof(typename C::Block));
            ASSERT_EQ(std::memcmp(want.data(), y.data() + ib * QK_K, QK_K * sizeof(float)), 0)
                << c << suffix << " block " << ib;
        }
    }
    EXPECT_GT(blocks, 0u);
}

TEST(Iq1Dequantize, Iq1SMatchesLayoutReading) { check_dequantize<codec::IQ1_S>(".imat", read_iq1_s); }
TEST(Iq1Dequantize, Iq1MMatchesLayoutReading) {
    check_dequantize<codec::IQ1_M>("", read_iq1_m);
    check_dequantize<codec::IQ1_M>(".imat", read_iq1_m);
}

// The reconstruction is close to the input on LLM-like rows (a sanity bound, not a ggml property).
TEST(Iq1Dequantize, RealisticRowsReconstructWithBoundedError) {
    const gguf::TensorInfo* in = golden().find_tensor("realistic.input");
    ASSERT_NE(in, nullptr);
    const std::vector<float> x = f32_of(*in);
    for (const char* name : {"realistic.iq1_s.imat", "realistic.iq1_m", "realistic.iq1_m.imat"}) {
        const gguf::TensorInfo* t = golden().find_tensor(name);
        ASSERT_NE(t, nullptr) << name;
        std::vector<float> y(x.size());
        if (t->type == Type::IQ1_S)
            dequantize_row<codec::IQ1_S>(golden().tensor_data(*t), y.data(), static_cast<int64_t>(y.size()));
        else
            dequantize_row<codec::IQ1_M>(golden().tensor_data(*t), y.data(), static_cast<int64_t>(y.size()));
        double err = 0, ref = 0;
        for (size_t i = 0; i < x.size(); ++i) {
            err += (x[i] - y[i]) * static_cast<double>(x[i] - y[i]);
            ref += x[i] * static_cast<double>(x[i]);
        }
        EXPECT_LT(std::sqrt(err / ref), 0.8) << name;
    }
}

// ---- search pieces --------------------------------------------------------------------------------

// ggml's qsort over (value, index) pairs is glibc's stable merge sort: ties (and +0/-0) keep index order.
TEST(Iq1Search, SortKeepsIndexOrderOnTies) {
    const float x[8] = {0.5f, -0.0f, 0.5f, 0.0f, -1.0f, 0.5f, -0.0f, -1.0f};
    int order[8];
    iq1::sort_by_value(8, x, order);
    const int want[8] = {4, 7, 1, 3, 6, 0, 2, 5};
    for (int i = 0; i < 8; ++i) EXPECT_EQ(order[i], want[i]) << i;
}

TEST(Iq1Search, ZeroSuperBlockIsAllZeroBytes) {
    const std::vector<float> x(QK_K, 0.0f), qw(QK_K, 1.0f);
    block_iq1_s s;
    std::memset(&s, 0xAB, sizeof s);
    quantize_row<codec::IQ1_S>(x.data(), &s, QK_K, qw.data());
    const std::vector<uint8_t> zs(sizeof s, 0);
    EXPECT_EQ(std::memcmp(&s, zs.data(), sizeof s), 0);
    block_iq1_m m;
    std::memset(&m, 0xAB, sizeof m);
    quantize_row<codec::IQ1_M>(x.data(), &m, QK_K, nullptr);
    const std::vector<uint8_t> zm(sizeof m, 0);
    EXPECT_EQ(std::memcmp(&m, zm.data(), sizeof m), 0);
}

}  // namespace
}  // namespace kquant
