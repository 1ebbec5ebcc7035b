// Which kernel variants exist per type, and which one Variant::Default picks.
#include "kquant/cuda_backend.h"
#include "launch.cuh"

namespace kquant::cuda {
namespace {

// The default per type and path: the fastest variant in kquant-bench-cuda-kernels (kernel only, a
// 4096 x 14336 F16 tensor in device memory, median of 15 calls over 3 rotating inputs) on an NVIDIA
// H100 80GB HBM3. The comments give the winner's milliseconds and the generic kernel's. Types not
// listed (the 32-element types, IQ4_NL) have only the generic kernel or it was the fastest.
struct DefaultEntry {
    Type type;
    Variant plain, imatrix;
};
// clang-format off
constexpr DefaultEntry kDefaults[] = {
    {Type::Q2_K,   Variant::SubBlock, Variant::Tiled},     // plain 1.05 (generic 1.59), imat 3.10 (3.76)
    {Type::Q3_K,   Variant::SubBlock, Variant::Generic},   // plain 0.55 (1.14),         imat 1.59
    {Type::Q4_K,   Variant::SubBlock, Variant::Tiled},     // plain 1.27 (1.67),         imat 2.78 (3.07)
    {Type::Q5_K,   Variant::SubBlock, Variant::Tiled},     // plain 1.02 (1.50),         imat 2.78 (3.30)
    {Type::Q6_K,   Variant::SubBlock, Variant::Generic},   // plain 0.87 (1.32),         imat 1.39
    {Type::IQ4_XS, Variant::SubBlock, Variant::SubBlock},  // plain 3.65 (13.45),        imat 4.45 (13.69)
};
// clang-format on

bool supports(Type t, Variant v) {
    switch (v) {
        case Variant::Generic: return detail::generic_supports(t);
        case Variant::SubBlock: return detail::subblock_supports(t);
        case Variant::Warp: return detail::warp_supports(t);
        case Variant::Tiled: return detail::tiled_supports(t);
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
        case Variant::Tiled: return "tiled";
    }
    return "?";
}

std::vector<Variant> variants_for(Type t) {
    std::vector<Variant> out;
    for (Variant v : {Variant::Generic, Variant::SubBlock, Variant::Warp, Variant::Tiled})
        if (supports(t, v)) out.push_back(v);
    return out;
}

Variant default_variant(Type t, bool imatrix) {
    for (const DefaultEntry& e : kDefaults) {
        const Variant v = imatrix ? e.imatrix : e.plain;
        if (e.type == t && supports(t, v)) return v;
    }
    return Variant::Generic;
}

}  // namespace kquant::cuda
