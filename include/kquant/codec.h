// The codec concept: what every quantization type provides, and the generic row drivers that run it.
//
// A codec is a struct with static members (all block math is KQ_HD, so CUDA kernels call the same code):
//
//   using Block = block_xxx;                      // exact byte layout (blocks.h)
//   static constexpr Type type;                   // ggml type id
//   static constexpr int kBlockElems;             // elements per block
//   static constexpr bool kRowSigma2;             // weighted path needs the row-wide sigma2 (legacy types)
//   KQ_HD static void quantize(const float* x, Block* y);                 // ggml's plain path
//   KQ_HD static void quantize_weighted(const float* x, const float* qw,  // ggml's imatrix path;
//                                       float row_sigma2, Block* y);      // qw: this block's weights
//   KQ_HD static void dequantize(const Block* b, float* y);
//
// The row drivers below decide nothing numeric: they loop over blocks in order, exactly as
// ggml_quantize_chunk does, and compute the row-wide sigma2 (sum of x^2 in index order, / n_per_row)
// for the codecs that ask for it.
#pragma once
#include <cstdint>

#include "kquant/hd.h"

namespace kquant {

// Row sigma2 of the legacy imatrix paths: float sum of squares in index order, divided by the row length.
KQ_HD float row_sigma2(const float* x, int64_t n_per_row) {
    float sum_x2 = 0.0f;
    for (int64_t j = 0; j < n_per_row; ++j) sum_x2 += x[j] * x[j];
    return sum_x2 / static_cast<float>(n_per_row);
}

// Quantizes one row of n_per_row elements (a multiple of kBlockElems). qw: n_per_row weights or null.
template <class C>
KQ_HD void quantize_row(const float* x, void* out, int64_t n_per_row, const float* qw) {
    auto* y = static_cast<typename C::Block*>(out);
    const int64_t nb = n_per_row / C::kBlockElems;
    if (qw == nullptr) {
        for (int64_t ib = 0; ib < nb; ++ib) C::quantize(x + ib * C::kBlockElems, y + ib);
        return;
    }
    const float s2 = C::kRowSigma2 ? row_sigma2(x, n_per_row) : 0.0f;
    for (int64_t ib = 0; ib < nb; ++ib)
        C::quantize_weighted(x + ib * C::kBlockElems, qw + ib * C::kBlockElems, s2, y + ib);
}

template <class C>
KQ_HD void dequantize_row(const void* in, float* y, int64_t n) {
    const auto* b = static_cast<const typename C::Block*>(in);
    const int64_t nb = n / C::kBlockElems;
    for (int64_t ib = 0; ib < nb; ++ib) C::dequantize(b + ib, y + ib * C::kBlockElems);
}

}  // namespace kquant
