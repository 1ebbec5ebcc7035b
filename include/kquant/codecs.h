// The one list of codecs. Every dispatch derives from it: the CPU registry (host/cpu/registry.cpp), the
// SIMD lane drivers (host/cpu/lane_rows.h), the CUDA kernels (kernels/codecs.cuh), quantizable_types()
// and so --list-types. Adding a type is adding its codec here (docs/adding-a-type.md); the checks below
// and tests/quant_type_table_test.cpp tie the list to the ggml type table (types.h).
#pragma once
#include <cstddef>

#include "kquant/codec.h"
#include "kquant/formats/fp4.h"
#include "kquant/formats/iq1.h"
#include "kquant/formats/iq2.h"
#include "kquant/formats/iq3.h"
#include "kquant/formats/iq4.h"
#include "kquant/formats/legacy.h"
#include "kquant/formats/q2_k.h"
#include "kquant/formats/q3_k.h"
#include "kquant/formats/q4_k.h"
#include "kquant/formats/q5_k.h"
#include "kquant/formats/q6_k.h"
#include "kquant/formats/q1_q2.h"
#include "kquant/formats/ternary.h"
#include "kquant/types.h"

namespace kquant {

// A codec type as a value, for generic lambdas: [&]<class C>(Tag<C>) { ... }.
template <class C>
struct Tag {
    using type = C;
};

template <class... Cs>
struct CodecList {
    static constexpr size_t size = sizeof...(Cs);

    // Calls f(Tag<C>{}) for every codec, in list order.
    template <class F>
    static constexpr void for_each(F&& f) {
        (f(Tag<Cs>{}), ...);
    }

    // Calls f(Tag<C>{}) for the codec of t; false when t has none.
    template <class F>
    static constexpr bool visit(Type t, F&& f) {
        return ((Cs::type == t ? (f(Tag<Cs>{}), true) : false) || ...);
    }

    static constexpr bool contains(Type t) { return ((Cs::type == t) || ...); }
};

// clang-format off
using Codecs = CodecList<
    codec::Q4_0, codec::Q4_1, codec::Q5_0, codec::Q5_1, codec::Q8_0,
    codec::Q2_K, codec::Q3_K, codec::Q4_K, codec::Q5_K, codec::Q6_K,
    codec::IQ4_NL, codec::IQ4_XS,
    codec::IQ2_XXS, codec::IQ2_XS, codec::IQ2_S, codec::IQ3_XXS, codec::IQ3_S, codec::IQ1_S, codec::IQ1_M,
    codec::TQ1_0, codec::TQ2_0, codec::MXFP4, codec::NVFP4, codec::Q1_0, codec::Q2_0>;
// clang-format on

// Whether kquant-cuda can quantize into (and dequantize from) type t.
constexpr bool has_codec(Type t) { return Codecs::contains(t); }

// The interfaces the SIMD lane drivers (host/cpu/lane_rows.h) run: phased super-blocks (one sub-block per
// lane), 32-element blocks with fit/store (one block per lane), or single-pass units (formats/units.h,
// one unit per lane). The grid codecs run scalar on every level.
template <class C>
concept PhasedLanes = requires { C::kSubblocks; C::set_block_scales; C::pack_column; };
template <class C>
concept BlockLanes = requires { C::store; } && C::kBlockElems == 32;
template <class C>
concept UnitLanes = requires { C::kUnitElems; C::unit_scale; C::pack_unit; };

constexpr bool has_lane_driver(Type t) {
    bool v = false;
    Codecs::visit(t, [&]<class C>(Tag<C>) { v = PhasedLanes<C> || BlockLanes<C> || UnitLanes<C>; });
    return v;
}

namespace detail {
// Each codec agrees with the ggml type table (block size, bytes per block, a plain path exactly where ggml
// has one), and no type is listed twice.
template <class C>
constexpr bool codec_matches_table() {
    const TypeInfo& ti = type_info(C::type);
    return ti.block_elems == C::kBlockElems && ti.block_bytes == sizeof(typename C::Block) &&
           ti.requires_imatrix == !PlainCodec<C>;
}
template <class... Cs>
constexpr bool codecs_agree(CodecList<Cs...>) {
    bool ok = (codec_matches_table<Cs>() && ...);
    const Type ids[] = {Cs::type...};
    for (size_t i = 0; i < sizeof...(Cs); ++i)
        for (size_t j = i + 1; j < sizeof...(Cs); ++j) ok = ok && ids[i] != ids[j];
    return ok;
}
}  // namespace detail
static_assert(detail::codecs_agree(Codecs{}),
              "a codec's block size or bytes differ from types.h, or a type is listed twice");

}  // namespace kquant
