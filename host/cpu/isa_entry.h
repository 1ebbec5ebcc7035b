// The entry points of the instruction-set translation units (host/cpu/avx2/, host/cpu/avx512/). Their
// interface has only builtin types because those units see the block-math headers under another
// namespace name (see host/cpu/avx2/codecs.cpp); cpu/isa.cpp turns them into RowCodecs.
#pragma once
#include <cstdint>

namespace kquant::cpu_entry {

using RawQuantizeRowFn = void (*)(const float* x, void* y, int64_t n_per_row, const float* qw);

// The row quantizer of ggml type id `ggml_type` on that instruction set, or nullptr where the type is left
// to the scalar codec. Call only when the CPU supports the instruction set.
RawQuantizeRowFn avx2_quantizer(uint32_t ggml_type);
RawQuantizeRowFn avx512_quantizer(uint32_t ggml_type);

}  // namespace kquant::cpu_entry
