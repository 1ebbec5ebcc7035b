// Which kernel variants exist per type, and which one Variant::Default picks.
#include "kquant/cuda_backend.h"
#include "launch.cuh"

namespace kquant::cuda {
namespace {

// The default per type: the faster of SubBlock and Warp in bench_cuda_kernels on an H100
// (4096 x 14336 F16, see docs/cuda.md); types without a specialised kernel use Generic.
struct DefaultEntry {
    Type type;
    Variant variant;
};
constexpr DefaultEntry kDefaults[] = {
    {Type::Q2_K, Variant::SubBlock},
    {Type::Q3_K, Variant::SubBlock},
    {Type::Q4_K, Variant::SubBlock},
    {Type::Q5_K, Variant::SubBlock},
    {Type::Q6_K, Variant::SubBlock},
};

bool supports(Type t, Variant v) {
    switch (v) {
        case Variant::Generic: return detail::generic_supports(t);
        case Variant::SubBlock: return detail::subblock_supports(t);
        case Variant::Warp: return detail::warp_supports(t);
        case Variant::Default: return false;
    }
    return false;
}

}  // namespace

const char* variant_name(Variant v) {
    switch (v) {
        case Variant::Default: return "default";
        case Variant::Generic: return "generic";
        case Variant::SubBlock: return "subblock";
        case Variant::Warp: return "warp";
    }
    return "?";
}

std::vector<Variant> variants_for(Type t) {
    std::vector<Variant> out;
    for (Variant v : {Variant::Generic, Variant::SubBlock, Variant::Warp})
        if (supports(t, v)) out.push_back(v);
    return out;
}

Variant default_variant(Type t) {
    for (const DefaultEntry& e : kDefaults)
        if (e.type == t && supports(t, e.variant)) return e.variant;
    return Variant::Generic;
}

}  // namespace kquant::cuda
