// Public quantization API of the CPU path: type-erased row codecs and the multi-threaded row driver.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kquant/types.h"

namespace kquant {

using QuantizeRowFn = void (*)(const float* x, void* y, int64_t n_per_row, const float* qw);
using DequantizeRowFn = void (*)(const void* x, float* y, int64_t n);

// One quantization type's row functions on one CPU instruction-set level.
struct RowCodec {
    Type type;
    QuantizeRowFn quantize_row;      // qw == nullptr selects ggml's plain (non-imatrix) path
    DequantizeRowFn dequantize_row;
};

// The scalar reference codec of a type (byte-identical to ggml); nullptr if kquant cannot quantize it.
const RowCodec* scalar_codec(Type t);

// All types with a scalar codec, in kTypes order.
std::vector<Type> quantizable_types();

// Whether kquant-cuda can write a tensor of type t: a float conversion (F32, F16, BF16) or a codec.
bool can_produce(Type t);

// CPU instruction-set levels of the row codecs. Every level gives the scalar codec's bytes exactly.
enum class CpuIsa { Scalar, Avx2, Avx512 };

// The fastest level this CPU (and this build) runs: x86-64 builds check CPUID at run time; other
// architectures run the scalar codecs.
CpuIsa best_cpu_isa();
bool cpu_isa_supported(CpuIsa isa);
const char* cpu_isa_name(CpuIsa isa);  // "scalar", "avx2", "avx512"

// Type t's codec on level isa; nullptr if kquant cannot quantize t or this CPU lacks isa. A type the
// level does not vectorize (no lane driver: has_lane_driver in codecs.h) gets the scalar codec itself;
// dequantization is always the scalar one.
const RowCodec* cpu_codec(Type t, CpuIsa isa);

// Quantizes nrows rows of n_per_row floats with n_threads threads (<= 0: all cores). qw holds n_per_row
// weights shared by every row, or is null. The bytes do not depend on n_threads.
void quantize_rows(const RowCodec& codec, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                   const float* qw, int n_threads);

// Converts n source elements to f32 exactly as ggml does: F32, F16 and BF16 element by element, a
// quantized type (whole rows; --allow-requantize) through its scalar dequantizer. Throws for a type
// kquant cannot read.
void convert_to_f32(Type src_type, const void* src, float* dst, int64_t n);

// Index of the first non-finite value in n elements of a float source type, or -1.
int64_t find_non_finite(Type src_type, const void* src, int64_t n);

}  // namespace kquant
