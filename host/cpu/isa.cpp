// The CPU instruction-set levels: which ones this CPU runs (CPUID), and each type's row codec on each.
// The vectorized quantizers come from the ISA translation units (cpu/isa_entry.h); a type they leave out
// keeps its scalar codec, and dequantization is always scalar.
#include <vector>

#include "cpu/isa_entry.h"
#include "kquant/quantize.h"

namespace kquant {
namespace {

using cpu_entry::RawQuantizeRowFn;

RawQuantizeRowFn isa_quantizer([[maybe_unused]] CpuIsa isa, [[maybe_unused]] Type t) {
#if KQUANT_X86_ISA
    if (isa == CpuIsa::Avx2) return cpu_entry::avx2_quantizer(static_cast<uint32_t>(t));
    if (isa == CpuIsa::Avx512) return cpu_entry::avx512_quantizer(static_cast<uint32_t>(t));
#endif
    return nullptr;
}

// One table per level, built on first use: the vectorized codecs, in quantizable_types() order.
struct IsaTable {
    std::vector<RowCodec> vectorized;
    explicit IsaTable(CpuIsa isa) {
        for (Type t : quantizable_types())
            if (RawQuantizeRowFn f = isa_quantizer(isa, t))
                vectorized.push_back(RowCodec{t, f, scalar_codec(t)->dequantize_row});
    }
    const RowCodec* find(Type t) const {
        for (const RowCodec& c : vectorized)
            if (c.type == t) return &c;
        return nullptr;
    }
};

}  // namespace

bool cpu_isa_supported(CpuIsa isa) {
    switch (isa) {
        case CpuIsa::Scalar:
            return true;
#if KQUANT_X86_ISA
        case CpuIsa::Avx2:
            __builtin_cpu_init();
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
        case CpuIsa::Avx512:
            __builtin_cpu_init();
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("f16c");
#endif
        default:
            return false;
    }
}

CpuIsa best_cpu_isa() {
    static const CpuIsa best = cpu_isa_supported(CpuIsa::Avx512) ? CpuIsa::Avx512
                               : cpu_isa_supported(CpuIsa::Avx2) ? CpuIsa::Avx2
                                                                  : CpuIsa::Scalar;
    return best;
}

const char* cpu_isa_name(CpuIsa isa) {
    switch (isa) {
        case CpuIsa::Scalar: return "scalar";
        case CpuIsa::Avx2: return "avx2";
        case CpuIsa::Avx512: return "avx512";
    }
    return "?";
}

const RowCodec* cpu_codec(Type t, CpuIsa isa) {
    const RowCodec* scalar = scalar_codec(t);
    if (scalar == nullptr || !cpu_isa_supported(isa)) return nullptr;
    if (isa == CpuIsa::Scalar) return scalar;
    // Separate tables, each built only once its level is known to run here: building one calls into
    // that level's translation unit.
    const RowCodec* v = nullptr;
    if (isa == CpuIsa::Avx2) {
        static const IsaTable avx2(CpuIsa::Avx2);
        v = avx2.find(t);
    } else {
        static const IsaTable avx512(CpuIsa::Avx512);
        v = avx512.find(t);
    }
    return v != nullptr ? v : scalar;
}

}  // namespace kquant
