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
#include "kquant/numeric.h"

namespace kquant {
namespace {

constexpr size_t kGoldenCases = 18;

const gguf::Reader& golden() {
    static const std::unique_ptr<gguf::Reader> reader = gguf::Reader::open(KQ_EXTRA_GOLDEN_PATH);
    return *reader;
}

std::vector<std::string> golden_cases() {
    std::vector<std::string> cases;
    const gguf::KV* kv = golden().find_kv("golden.cases");
    if (kv == nullptr || kv->value.type != gguf::ValueType::ARRAY) return cases;
    for (const gguf::Value& v : kv->value.arr) cases.push_back(v.str);
    return cases;
}

std::vector<float> f32_tensor(const gguf::TensorInfo& t) {
    std::vector<float> v(static_cast<size_t>(t.nelements()));
    std::memcpy(v.data(), golden().tensor_data(t), v.size() * sizeof(float));
    return v;
}

// One block through the codec; qw null = plain path (only codecs that have one).
template <class C>
void quantize_block(const float* x, const float* qw, typename C::Block* y) {
    if constexpr (C::kRequiresImatrix) {
        C::quantize_weighted(x, qw, 0.0f, y);
    } else {
        if (qw == nullptr)
            C::quantize(x, y);
        else
            C::quantize_weighted(x, qw, 0.0f, y);
    }
}

struct Outcome {
    size_t cases = 0, blocks = 0, mismatched = 0;
};

// Quantizes every row of `<case>.input` and compares with `<case>.<name>[.imat]`, block by block.
template <class C>
void check_case(const std::string& name, const char* type_name, bool imat, Outcome& out) {
    const gguf::Reader& r = golden();
    const std::string want_name = name + "." + type_name + (imat ? ".imat" : "");
    const gguf::TensorInfo* input = r.find_tensor(name + ".input");
    const gguf::TensorInfo* imatrix = r.find_tensor(name + ".imatrix");
    const gguf::TensorInfo* want = r.find_tensor(want_name);
    ASSERT_NE(input, nullptr) << name;
    ASSERT_NE(want, nullptr) << want_name;
    ASSERT_TRUE(!imat || imatrix != nullptr) << name;
    ASSERT_EQ(want->type, C::type) << want_name;
    const int64_t ncols = input->ne_at(0), nrows = input->nrows();
    ASSERT_EQ(want->ne_at(0), ncols);
    ASSERT_EQ(want->nrows(), nrows);
    ASSERT_EQ(ncols % C::kBlockElems, 0);
    const std::vector<float> x = f32_tensor(*input);
    const std::vector<float> qw = imat ? f32_tensor(*imatrix) : std::vector<float>{};
    const int64_t nb = ncols / C::kBlockElems;
    const auto* expected = reinterpret_cast<const typename C::Block*>(r.tensor_data(*want));
    int reported = 0;
    for (int64_t row = 0; row < nrows; ++row) {
        for (int64_t b = 0; b < nb; ++b) {
            typename C::Block got;
            std::memset(&got, 0xA5, sizeof(got));
            quantize_block<C>(x.data() + row * ncols + b * C::kBlockElems,
                              imat ? qw.data() + b * C::kBlockElems : nullptr, &got);
            ++out.blocks;
            const auto* gb = reinterpret_cast<const uint8_t*>(&got);
            const auto* eb = reinterpret_cast<const uint8_t*>(expected + row * nb + b);
            if (std::memcmp(gb, eb, sizeof(got)) == 0) continue;
            ++out.mismatched;
            if (++reported > 4) continue;
            size_t k = 0;
            while (gb[k] == eb[k]) ++k;
            ADD_FAILURE() << want_name << ": row " << row << " block " << b << ": first differing byte " << k
                          << " (got " << int(gb[k]) << ", want " << int(eb[k]) << ")";
        }
    }
    ++out.cases;
}

template <class C>
void check_variant(const char* type_name, bool imat) {
    Outcome out;
    const std::vector<std::string> cases = golden_cases();
    ASSERT_EQ(cases.size(), kGoldenCases);
    for (const std::string& c : cases) check_case<C>(c, type_name, imat, out);
    EXPECT_EQ(out.cases, kGoldenCases);
    EXPECT_EQ(out.mismatched, 0u) << out.mismatched << " of " << out.blocks << " blocks differ";
    std::cout << "[ golden   ] " << type_name << (imat ? ".imat" : "") << ": " << out.cases << " cases, "
              << out.blocks << " blocks, " << out.mismatched << " mismatched\n";
}

TEST(Iq2Golden, Iq2XxsImatrix) { check_variant<codec::IQ2_XXS>("iq2_xxs", true); }
TEST(Iq2Golden, Iq2XsImatrix) { check_variant<codec::IQ2_XS>("iq2_xs", true); }
TEST(Iq2Golden, Iq2SPlain) { check_variant<codec::IQ2_S>("iq2_s", false); }
TEST(Iq2Golden, Iq2SImatrix) { check_variant<codec::IQ2_S>("iq2_s", true); }

// The golden file has no plain tensor for XXS and XS (ggml requires an imatrix for them).
TEST(Iq2Golden, NoPlainXxsOrXs) {
    for (const std::string& c : golden_cases()) {
        EXPECT_EQ(golden().find_tensor(c + ".iq2_xxs"), nullptr) << c;
        EXPECT_EQ(golden().find_tensor(c + ".iq2_xs"), nullptr) << c;
    }
}

// The generic row driver gives the same bytes as the block loop (IQ2_S, the type with both paths).
TEST(Iq2Golden, RowDriverMatchesForIq2S) {
    const gguf::TensorInfo* input = golden().find_tensor("realistic.input");
    const gguf::TensorInfo* want = golden().find_tensor("realistic.iq2_s");
    ASSERT_NE(input, nullptr);
    ASSERT_NE(want, nullptr);
    const std::vector<float> x = f32_tensor(*input);
    const int64_t ncols = input->ne_at(0);
    std::vector<uint8_t> got(static_cast<size_t>(ncols / QK_K) * sizeof(block_iq2_s));
    quantize_row<codec::IQ2_S>(x.data(), got.data(), ncols, nullptr);
    EXPECT_EQ(std::memcmp(got.data(), golden().tensor_data(*want), got.size()), 0);
}

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
            C::dequantize(b + i, got);
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
        codec::IQ2_S::quantize(x.data() + b, &q);
        float y[QK_K];
        codec::IQ2_S::dequantize(&q, y);
        for (int j = 0; j < QK_K; ++j) {
            e2 += (double(y[j]) - x[b + j]) * (double(y[j]) - x[b + j]);
            x2 += double(x[b + j]) * x[b + j];
        }
    }
    EXPECT_LT(std::sqrt(e2 / x2), 0.5);
}

}  // namespace
}  // namespace kquant
