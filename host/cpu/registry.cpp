// The scalar codec table: the codec list (kquant/codecs.h) bound to the generic row drivers of codec.h.
#include <array>

#include "kquant/codecs.h"
#include "kquant/quantize.h"

namespace kquant {
namespace {

template <class... Cs>
constexpr std::array<RowCodec, sizeof...(Cs)> make_codecs(CodecList<Cs...>) {
    return {RowCodec{Cs::type, &quantize_row<Cs>, &dequantize_row<Cs>}...};
}

constexpr auto kScalarCodecs = make_codecs(Codecs{});

}  // namespace

const RowCodec* scalar_codec(Type t) {
    for (const RowCodec& c : kScalarCodecs)
        if (c.type == t) return &c;
    return nullptr;
}

std::vector<Type> quantizable_types() {
    std::vector<Type> out;
    for (const TypeInfo& ti : kTypes)
        if (has_codec(ti.id)) out.push_back(ti.id);
    return out;
}

bool can_produce(Type t) {
    return t == Type::F32 || t == Type::F16 || t == Type::BF16 || has_codec(t);
}

}  // namespace kquant
