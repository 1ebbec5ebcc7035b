// IQ2_XXS, IQ2_XS, IQ2_S (formats/iq2.h) against ggml's golden bytes (extra-types-golden.gguf): every case,
// every variant the file holds (XXS and XS only with an imatrix: ggml has no plain path for them), block
// for block; and the dequantizers against an independent reading of the formats' bits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "kquant/codec.h"
#include "kquant/formats/iq2.h"
#include "kquant/formats/iq_grid.h"
#include "kquant/gguf.h"
#include "support/golden.h"
#include "kquant/numeric.h"

namespace kquant {
namespace {

const gguf::Reader& golden() { return test::extra_golden(); }
std::vector<std::string> golden_cases() { return test::golden_cases(golden()); }
std::vector<float> f32_tensor(const gguf::TensorInfo& t) { return test::golden_f32(golden(), t); }

constexpr size_t kGoldenCases = 18;

// ---- dequantizers: an independent reading of the bits, on every golden block --------------------

uint16_t u16le(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t u32le(const uint8_t* p) { return u16le(p) | (static_cast<uint32_t>(u16le(p + 2)) << 16); }

// Element j of the grid point `index` as its dequantized magnitude (8, 25, 43).
float magnitude(const iq::Grid8View& g, int index, int j) {
    const int v = static_cast<int8_t>(g.grid[index] >> (8 * j));
    return v == 1 ? 8.0f : (v == 3 ? 25.0f : 43.0f);
}

float sign_of(int sign_bits7or8, int j, bool parity) {
    int s = sign_bits7or8;
    if (parity) {
        int n = 0;
        for (int b = 0; b < 7; ++b) n += (s >> b) & 1;
        if (n % 2 != 0) s |= 128;
    }
    return ((s >> j) & 1) != 0 ? -1.0f : 1.0f;
}

// Values of one block read straight from its bytes: d, per 8-element group its index, signs and scale code.
std::vector<float> reference_dequant(Type t, const uint8_t* blk) {
    std::vector<float> y(QK_K);
    const float d = fp16_to_fp32(u16le(blk));
    for (int group = 0; group < QK_K / 8; ++group) {
        const int ib32 = group / 4, l = group % 4;
        int index = 0, signs = 0, code = 0;
        bool parity = true;
        if (t == Type::IQ2_XXS) {
            const uint32_t idx = u32le(blk + 2 + 8 * ib32), aux = u32le(blk + 2 + 8 * ib32 + 4);
            index = (idx >> (8 * l)) & 255;
            signs = (aux >> (7 * l)) & 127;
            code = aux >> 28;
        } else if (t == Type::IQ2_XS) {
            const uint16_t q = u16le(blk + 2 + 2 * group);
            index = q & 511;
            signs = q >> 9;
            code = (blk[2 + 64 + ib32] >> (4 * (l / 2))) & 15;
        } else {
            index = blk[2 + group] + (((blk[2 + 64 + ib32] >> (2 * l)) & 3) << 8);
            signs = blk[2 + 32 + group];
            code = (blk[2 + 64 + 8 + ib32] >> (4 * (l / 2))) & 15;
            parity = false;
        }
        const int grid_size = t == Type::IQ2_XXS ? 256 : (t == Type::IQ2_XS ? 512 : 1024);
        const float db = d * (0.5f + static_cast<float>(code)) * 0.25f;
        for (int j = 0; j < 8; ++j)
            y[8 * group + j] = db * magnitude(iq::grid8(grid_size), index, j) * sign_of(signs, j, parity);
    }
    return y;
}

template <class C>
void check_dequant(const char* tensor_suffix) {
    size_t blocks = 0;
    for (const std::string& c : golden_cases()) {
        const gguf::TensorInfo* t = golden().find_tensor(c + "." + tensor_suffix);
        ASSERT_NE(t, nullptr) << c << "." << tensor_suffix;
        const auto* b = reinterpret_cast<const typename C::Block*>(golden().tensor_data(*t));
        const int64_t n = t->nelements() / QK_K;
        for (int64_t i = 0; i < n; ++i, ++blocks) {
            float got[QK_K];
            dequantize_block<C>(host_grid<C>(), b + i, got);
            const std::vector<float> want = reference_dequant(C::type, reinterpret_cast<const uint8_t*>(b + i));
            for (int j = 0; j < QK_K; ++j)
                ASSERT_EQ(f32_bits(got[j]), f32_bits(want[j])) << c << " block " << i << " element " << j;
        }
    }
    EXPECT_GT(blocks, 0u);
}

TEST(Iq2Dequant, Iq2XxsMatchesBitReading) { check_dequant<codec::IQ2_XXS>("iq2_xxs.imat"); }
TEST(Iq2Dequant, Iq2XsMatchesBitReading) { check_dequant<codec::IQ2_XS>("iq2_xs.imat"); }
TEST(Iq2Dequant, Iq2SMatchesBitReading) {
    check_dequant<codec::IQ2_S>("iq2_s");
    check_dequant<codec::IQ2_S>("iq2_s.imat");
}

// The quantized blocks reproduce the input roughly (a sanity bound, not a byte check): on the realistic
// case the relative RMS error of IQ2_S stays well under 1.
TEST(Iq2Dequant, RoundTripIsClose) {
    const gguf::TensorInfo* input = golden().find_tensor("realistic.input");
    ASSERT_NE(input, nullptr);
    const std::vector<float> x = f32_tensor(*input);
    double e2 = 0, x2 = 0;
    for (size_t b = 0; b + QK_K <= x.size(); b += QK_K) {
        block_iq2_s q;
        quantize_row<codec::IQ2_S>(x.data() + b, &q, QK_K, nullptr);
        float y[QK_K];
        dequantize_row<codec::IQ2_S>(&q, y, QK_K);
        for (int j = 0; j < QK_K; ++j) {
            e2 += (double(y[j]) - x[b + j]) * (double(y[j]) - x[b + j]);
            x2 += double(x[b + j]) * x[b + j];
        }
    }
    EXPECT_LT(std::sqrt(e2 / x2), 0.5);
}

}  // namespace
}  // namespace kquant
