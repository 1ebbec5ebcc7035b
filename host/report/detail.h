// Helpers shared by the report files (not part of the public API).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kquant/gguf.h"
#include "kquant/types.h"

namespace kquant::report::detail {

std::string type_name(Type t);
// "[4096, 32000]"
std::string shape_str(const std::vector<int64_t>& ne);
// Shapes equal up to trailing 1s (the writer trims them; a reader keeps n_dims as stored).
bool same_shape(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

// A metadata value as text: "u32 7", "f32 0.5", "string \"llama\"", "array<i32>[512]". Long strings are
// cut at 80 bytes ("...").
std::string value_text(const gguf::Value& v);

// Whether rows of this type can be read back as f32 (a float type, or a type with a dequantizer).
bool readable(Type t);

}  // namespace kquant::report::detail
