// The codec structs the kernels can instantiate: the one codec list (kquant/codecs.h) looked up by
// runtime Type, and the shapes (concepts) that decide which kernel family can drive a codec.
#pragma once
#include <concepts>
#include <cstdint>

#include "kquant/codecs.h"
#include "kquant/formats/kquant_scales.h"
#include "kquant/types.h"

namespace kquant::cuda::detail {

using kquant::Tag;

// Every codec: the whole-block calls of codec.h (quantize_block), the grid codecs with a device grid.
template <class C>
concept DeviceCodec = requires(const GridT<C>& g, const float* x, typename C::Block* y) {
    quantize_block<C>(g, x, x, 0.0f, y);
};

// The phase interface (formats/kquant_scales.h): per-sub-block fit, per-block scales, per-sub-block
// requantization, per-column packing (the k-quants and IQ4_XS).
template <class C>
concept PhasedCodec = DeviceCodec<C> && requires(const float* x, uint8_t* L, const kq::SubblockFit* f,
                                                 typename C::Block* y, const kq::BlockScales& bs) {
    C::kSubblocks;
    C::kSubblockElems;
    C::block_sigma2(x);
    C::fit_subblock(x, x, 0.0f, L);
    { C::set_block_scales(f, true, y) } -> std::same_as<kq::BlockScales>;
    C::stored_scale(0, *y, bs, *f);
    C::pack_column(L, 0, y);
};

// Phased codecs whose sub-block search is the min/scale search (search/qkx.h).
template <class C>
concept QkxCodec = PhasedCodec<C> && requires(const float* x, float* w) {
    { C::search_params(true) } -> std::same_as<search::QkxParams>;
    C::subblock_weights(x, x, 0.0f, w);
};

// The codecs whose search is the IQ4 table search (search/iq4.h): their warp kernels are iq4_warp.cu's.
template <class C>
concept Iq4TableCodec = C::type == Type::IQ4_NL || C::type == Type::IQ4_XS;

// Calls f(Tag<C>{}) for the codec of t; false when there is none.
template <class F>
bool visit_codec(Type t, F&& f) {
    return Codecs::visit(t, f);
}

}  // namespace kquant::cuda::detail
