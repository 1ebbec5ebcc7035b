// Which kernel variants exist per type, and which one Variant::Default picks.
#include "kquant/cuda_backend.h"
#include "launch.cuh"

namespace kquant::cuda {
namespace {

// The default per type and path: the fastest variant in kquant-bench-cuda-kernels (kernel-only, a
// 4096 x 14336 F16 tensor in device memory, median of 9) on an NVIDIA H100 80GB HBM3. Milliseconds of
// the winner and of the generic kernel in the comments. Types not listed use Generic.
struct DefaultEntry {
    Type type;
    Variant plain, imatrix;
};
// clang-format off
constexpr DefaultEntry kDefaults[] = {
    {Type::Q2_K,   Variant::SubBlock, Variant::Generic},   // plain 1.05 (generic 1.60), imat 3.77
    {Type::Q3_K,   Variant::SubBlock, Variant::Generic},   // plain 0.55 (1.14), imat 1.59
    {Type::Q4_K,   Variant::SubBlock, Variant::Generic},   // plain 1.28 (1.68), imat 3.10
    {Type::Q5_K,   Variant::SubBlock, Variant::SubBlock},  // plain 1.03 (1.51), imat 3.08 (3.32)
    {Type::Q6_K,   Variant::SubBlock, Variant::Generic},   // plain 0.87 (1.33), imat 1.40
    {Type::IQ4_XS, Variant::SubBlock, Variant::SubBlock},  // plain 3.67 (13.5), imat 4.48 (13.8)
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
