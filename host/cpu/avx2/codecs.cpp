// The AVX2 codecs: the lane drivers of cpu/lane_rows.h on 8-lane vectors (simd/avx2.h). This file is
// built with -mavx2 -mf16c (CMakeLists.txt) and only called after a CPUID check (cpu/isa.cpp).
//
// The macro renames the namespace of everything compiled here from include/kquant/ to kquant_avx2. An
// inline function of the block math that the compiler emits out of line (a scalar helper such as
// make_qp<float>) would otherwise be one more definition of a symbol the scalar path also has, and the
// linker could keep this AVX2-encoded copy for the scalar path, which then needs AVX2 to run.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/isa_entry.h"

#if defined(__AVX2__)
#define kquant kquant_avx2
#include "kquant/simd/avx2.h"
// (after the lane types)
#include "cpu/lane_rows.h"
#undef kquant

kquant::cpu_entry::RawQuantizeRowFn kquant::cpu_entry::avx2_quantizer(uint32_t ggml_type) {
    return kquant_avx2::lanes::lane_quantizer<kquant_avx2::simd::F8>(static_cast<kquant_avx2::Type>(ggml_type));
}
#endif
