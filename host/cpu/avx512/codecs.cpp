// The AVX-512 codecs: the lane drivers of cpu/lane_rows.h on 16-lane vectors (simd/avx512.h). This file
// is built with -mavx512f -mavx512bw -mavx512dq -mavx512vl (CMakeLists.txt) and only called after a
// CPUID check (cpu/isa.cpp).
//
// The macro renames the namespace of everything compiled here from include/kquant/ to kquant_avx512. An
// inline function of the block math that the compiler emits out of line (a scalar helper such as
// make_qp<float>) would otherwise be one more definition of a symbol the scalar path also has, and the
// linker could keep this AVX-512-encoded copy for the scalar path, which then needs AVX-512 to run.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/isa_entry.h"

// GCC 12's AVX-512 intrinsics seed their results with _mm512_undefined_ps(), which -Wmaybe-uninitialized
// (and -Wuninitialized) report at every inlined use (GCC bug 105593, fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
#define kquant kquant_avx512
#include "kquant/simd/avx512.h"
// (after the lane types)
#include "cpu/lane_rows.h"
#undef kquant

kquant::cpu_entry::RawQuantizeRowFn kquant::cpu_entry::avx512_quantizer(uint32_t ggml_type) {
    return kquant_avx512::lanes::lane_quantizer<kquant_avx512::simd::F16>(static_cast<kquant_avx512::Type>(ggml_type));
}
#endif
