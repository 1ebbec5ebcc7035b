// The scalar codec table: every quantization type's block math (include/kquant/formats/) bound to the
// generic row drivers. Adding a type is adding its codec struct here.
#include <array>

#include "kquant/codec.h"
#include "kquant/formats/iq4.h"
#include "kquant/formats/legacy.h"
#include "kquant/formats/q2_k.h"
#include "kquant/formats/q3_k.h"
#include "kquant/formats/q4_k.h"
#include "kquant/formats/q5_k.h"
#include "kquant/formats/q6_k.h"
#include "kquant/quantize.h"

namespace kquant {
namespace {

template <class C>
constexpr RowCodec make_codec() {
    return RowCodec{C::type, &quantize_row<C>, &dequantize_row<C>};
}

constexpr RowCodec kScalarCodecs[] = {
    make_codec<codec::Q4_0>(),
    make_codec<codec::Q4_1>(),
    make_codec<codec::Q5_0>(),
    make_codec<codec::Q5_1>(),
    make_codec<codec::Q8_0>(),
    make_codec<codec::IQ4_NL>(),
    make_codec<codec::IQ4_XS>(),
    make_codec<codec::Q2_K>(),
    make_codec<codec::Q3_K>(),
    make_codec<codec::Q4_K>(),
    make_codec<codec::Q5_K>(),
    make_codec<codec::Q6_K>(),
};

}  // namespace

const RowCodec* scalar_codec(Type t) {
    for (const RowCodec& c : kScalarCodecs)
        if (c.type == t) return &c;
    return nullptr;
}

std::vector<Type> quantizable_types() {
    std::vector<Type> out;
    for (const TypeInfo& ti : kTypes)
        if (scalar_codec(ti.id) != nullptr) out.push_back(ti.id);
    return out;
}

}  // namespace kquant
