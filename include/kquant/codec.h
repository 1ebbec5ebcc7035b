// The codec concept: what every quantization type provides, and the generic row drivers that run it.
//
// A codec is a struct with static members (all block math is KQ_HD, so CUDA kernels call the same code):
//
//   using Block = block_xxx;                      // exact byte layout
//   static constexpr Type type;                   // ggml type id
//   static constexpr int kBlockElems;             // elements per block
//   static constexpr bool kRowSigma2;             // weighted path needs the row-wide sigma2 (legacy types)
//   KQ_HD static void quantize(const float* x, Block* y);                 // ggml's plain path (absent when
//                                                                         // ggml requires an imatrix)
//   KQ_HD static void quantize_weighted(const float* x, const float* qw,  // ggml's imatrix path;
//                                       float row_sigma2, Block* y);      // qw: this block's weights
//   KQ_HD static void dequantize(const Block* b, float* y);
//
// A codec that reads process-wide tables (the IQ grids) also has `using Grid = <view>;` and a host-only
// `static const Grid& host_grid()`, and takes the grid as the first argument of those three calls.
//
// The row drivers below decide nothing numeric: they loop over blocks in order, exactly as
// ggml_quantize_chunk does, and compute the row-wide sigma2 (sum of x^2 in index order, / n_per_row)
// for the codecs that ask for it.
#pragma once
#include <cstdint>
#include <string>

#include "kquant/error.h"
#include "kquant/hd.h"
#include "kquant/types.h"

namespace kquant {

// Row sigma2 of the legacy imatrix paths: float sum of squares in index order, divided by the row length.
KQ_HD float row_sigma2(const float* x, int64_t n_per_row) {
    float sum_x2 = 0.0f;
    for (int64_t j = 0; j < n_per_row; ++j) sum_x2 += x[j] * x[j];
    return sum_x2 / static_cast<float>(n_per_row);
}

template <class C>
concept GridCodec = requires { typename C::Grid; };

// The grid argument of codec C's calls: its Grid, or an empty stand-in for codecs without tables.
struct NoGrid {};
template <class C>
struct GridOf {
    using type = NoGrid;
};
template <GridCodec C>
struct GridOf<C> {
    using type = typename C::Grid;
};
template <class C>
using GridT = typename GridOf<C>::type;

// Whether the codec has ggml's plain (no importance weights) path.
template <class C>
concept PlainCodec = requires(const GridT<C>& g, const float* x, typename C::Block* y) { C::quantize(g, x, y); } ||
                     requires(const float* x, typename C::Block* y) { C::quantize(x, y); };

// One block of C through the plain path (qw == null) or the imatrix path. A plain call of a codec without
// a plain path writes nothing: the callers refuse it first (quantize_row below, the CUDA backend).
template <class C>
KQ_HD void quantize_block(const GridT<C>& g, const float* x, const float* qw, float s2, typename C::Block* y) {
    if constexpr (GridCodec<C>) {
        if (qw != nullptr)
            C::quantize_weighted(g, x, qw, s2, y);
        else if constexpr (PlainCodec<C>)
            C::quantize(g, x, y);
    } else {
        if (qw != nullptr)
            C::quantize_weighted(x, qw, s2, y);
        else if constexpr (PlainCodec<C>)
            C::quantize(x, y);
    }
}

template <class C>
KQ_HD void dequantize_block(const GridT<C>& g, const typename C::Block* b, float* y) {
    if constexpr (GridCodec<C>)
        C::dequantize(g, b, y);
    else
        C::dequantize(b, y);
}

// Quantizes one row of n_per_row elements (a multiple of kBlockElems) with grid g. qw: n_per_row weights
// or null.
template <class C>
KQ_HD void quantize_row_on(const GridT<C>& g, const float* x, void* out, int64_t n_per_row, const float* qw) {
    auto* y = static_cast<typename C::Block*>(out);
    const int64_t nb = n_per_row / C::kBlockElems;
    const float s2 = qw != nullptr && C::kRowSigma2 ? row_sigma2(x, n_per_row) : 0.0f;
    for (int64_t ib = 0; ib < nb; ++ib)
        quantize_block<C>(g, x + ib * C::kBlockElems, qw != nullptr ? qw + ib * C::kBlockElems : nullptr, s2, y + ib);
}

template <class C>
KQ_HD void dequantize_row_on(const GridT<C>& g, const void* in, float* y, int64_t n) {
    const auto* b = static_cast<const typename C::Block*>(in);
    const int64_t nb = n / C::kBlockElems;
    for (int64_t ib = 0; ib < nb; ++ib) dequantize_block<C>(g, b + ib, y + ib * C::kBlockElems);
}

// The host's grid of codec C: its process-wide tables (built on first use), or NoGrid.
template <class C>
const GridT<C>& host_grid() {
    if constexpr (GridCodec<C>) {
        return C::host_grid();
    } else {
        static constexpr NoGrid none{};
        return none;
    }
}

// The host's row calls: the process-wide grid bound, and a plain call of a codec that ggml only runs with
// an importance matrix refused with an error (ggml asserts there).
template <class C>
void quantize_row(const float* x, void* out, int64_t n_per_row, const float* qw) {
    if (qw == nullptr && !PlainCodec<C>)
        throw Error("type " + std::string(type_info(C::type).name) + " cannot be quantized without an importance matrix");
    quantize_row_on<C>(host_grid<C>(), x, out, n_per_row, qw);
}

template <class C>
void dequantize_row(const void* in, float* y, int64_t n) {
    dequantize_row_on<C>(host_grid<C>(), in, y, n);
}

}  // namespace kquant
