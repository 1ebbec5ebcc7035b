// Checks a quantized file against the block quantizers, tensor by tensor.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "kquant/gguf.h"

namespace kquant::test {

// Every tensor of `out` whose type differs from `in` must equal scalar_codec(type)->quantize_row of the
// source rows, with `weights[name]` (ne0 floats per expert slice) when present, plain otherwise.
// Reports mismatches with ADD_FAILURE naming tensor, type and row. Returns the number of weighted tensors.
int check_quantized_bytes(const gguf::Reader& in, const gguf::Reader& out,
                          const std::map<std::string, std::vector<float>>& weights);

}  // namespace kquant::test
