// The codec structs the kernels can instantiate, looked up by ggml type. The block math is theirs
// (include/kquant/formats/); this file only maps a runtime Type to the compile-time struct and names the
// shapes (concepts) that decide which kernel family can drive a codec.
#pragma once
#include <concepts>
#include <cstdint>

#include "kquant/codec.h"
#include "kquant/formats/iq4.h"
#include "kquant/formats/kquant_scales.h"
#include "kquant/formats/legacy.h"
#include "kquant/formats/q2_k.h"
#include "kquant/formats/q3_k.h"
#include "kquant/formats/q4_k.h"
#include "kquant/formats/q5_k.h"
#include "kquant/formats/q6_k.h"
#include "kquant/types.h"

namespace kquant::cuda::detail {

// Every codec: the whole-block calls of codec.h.
template <class C>
concept DeviceCodec = requires(const float* x, typename C::Block* y) {
    C::quantize(x, y);
    C::quantize_weighted(x, x, 0.0f, y);
};

// The k-quant phase interface (formats/kquant_scales.h): per-sub-block fit, per-block scales,
// per-sub-block requantization, per-column packing.
template <class C>
concept PhasedCodec = DeviceCodec<C> && requires(const float* x, uint8_t* L, const kq::SubblockFit* f,
                                                 typename C::Block* y, float* w) {
    C::kSubblocks;
    C::kSubblockElems;
    C::block_sigma2(x);
    C::subblock_weights(x, x, 0.0f, w);
    C::fit_subblock(x, x, 0.0f, L);
    C::set_block_scales(f, true, y);
    C::requantize_subblock(x, 0, *y, L);
    C::pack_column(L, 0, y);
};

// Phased codecs whose sub-block search is the min/scale search (search/qkx.h).
template <class C>
concept QkxCodec = PhasedCodec<C> && requires {
    { C::search_params(true) } -> std::same_as<search::QkxParams>;
};

template <class C>
struct Tag {
    using type = C;
};

// Calls f(Tag<C>{}) for the codec of t; false when there is none.
template <class F>
bool visit_codec(Type t, F&& f) {
    switch (t) {
        case Type::Q8_0: f(Tag<codec::Q8_0>{}); return true;
        case Type::Q4_0: f(Tag<codec::Q4_0>{}); return true;
        case Type::Q4_1: f(Tag<codec::Q4_1>{}); return true;
        case Type::Q5_0: f(Tag<codec::Q5_0>{}); return true;
        case Type::Q5_1: f(Tag<codec::Q5_1>{}); return true;
        case Type::IQ4_NL: f(Tag<codec::IQ4_NL>{}); return true;
        case Type::IQ4_XS: f(Tag<codec::IQ4_XS>{}); return true;
        case Type::Q2_K: f(Tag<codec::Q2_K>{}); return true;
        case Type::Q3_K: f(Tag<codec::Q3_K>{}); return true;
        case Type::Q4_K: f(Tag<codec::Q4_K>{}); return true;
        case Type::Q5_K: f(Tag<codec::Q5_K>{}); return true;
        case Type::Q6_K: f(Tag<codec::Q6_K>{}); return true;
        default: return false;
    }
}

}  // namespace kquant::cuda::detail
