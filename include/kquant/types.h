// The ggml type table: one constexpr array that the GGUF reader/writer, the CLI, the dispatchers and
// the tests all use. Ids, block sizes and bytes per block follow ggml's enum ggml_type.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace kquant {

enum class Type : uint32_t {
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
    IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
    TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40, Q1_0 = 41, Q2_0 = 42,
};

struct TypeInfo {
    Type id;
    std::string_view name;     // ggml's name, e.g. "q4_K"
    int64_t block_elems;       // elements per block (1 for scalar types)
    size_t block_bytes;        // bytes per block
    bool uses_imatrix;         // ggml's quantizer takes per-column importance weights
    bool requires_imatrix;     // ggml refuses to quantize without them (ggml_quantize_requires_imatrix)
};
// What kquant-cuda can quantize and dequantize is not a column here: it is the codec list (codecs.h).

// clang-format off
inline constexpr TypeInfo kTypes[] = {
    {Type::F32,     "f32",     1,   4,   false, false},
    {Type::F16,     "f16",     1,   2,   false, false},
    {Type::Q4_0,    "q4_0",    32,  18,  true,  false},
    {Type::Q4_1,    "q4_1",    32,  20,  true,  false},
    {Type::Q5_0,    "q5_0",    32,  22,  true,  false},
    {Type::Q5_1,    "q5_1",    32,  24,  true,  false},
    {Type::Q8_0,    "q8_0",    32,  34,  false, false},
    {Type::Q8_1,    "q8_1",    32,  36,  false, false},
    {Type::Q2_K,    "q2_K",    256, 84,  true,  false},
    {Type::Q3_K,    "q3_K",    256, 110, true,  false},
    {Type::Q4_K,    "q4_K",    256, 144, true,  false},
    {Type::Q5_K,    "q5_K",    256, 176, true,  false},
    {Type::Q6_K,    "q6_K",    256, 210, true,  false},
    {Type::Q8_K,    "q8_K",    256, 292, false, false},
    {Type::IQ2_XXS, "iq2_xxs", 256, 66,  true,  true},
    {Type::IQ2_XS,  "iq2_xs",  256, 74,  true,  true},
    {Type::IQ3_XXS, "iq3_xxs", 256, 98,  true,  false},
    {Type::IQ1_S,   "iq1_s",   256, 50,  true,  true},
    {Type::IQ4_NL,  "iq4_nl",  32,  18,  true,  false},
    {Type::IQ3_S,   "iq3_s",   256, 110, true,  false},
    {Type::IQ2_S,   "iq2_s",   256, 82,  true,  false},
    {Type::IQ4_XS,  "iq4_xs",  256, 136, true,  false},
    {Type::I8,      "i8",      1,   1,   false, false},
    {Type::I16,     "i16",     1,   2,   false, false},
    {Type::I32,     "i32",     1,   4,   false, false},
    {Type::I64,     "i64",     1,   8,   false, false},
    {Type::F64,     "f64",     1,   8,   false, false},
    {Type::IQ1_M,   "iq1_m",   256, 56,  true,  false},
    {Type::BF16,    "bf16",    1,   2,   false, false},
    {Type::TQ1_0,   "tq1_0",   256, 54,  false, false},
    {Type::TQ2_0,   "tq2_0",   256, 66,  false, false},
    {Type::MXFP4,   "mxfp4",   32,  17,  false, false},
    {Type::NVFP4,   "nvfp4",   64,  36,  false, false},
    {Type::Q1_0,    "q1_0",    128, 18,  false, false},
    {Type::Q2_0,    "q2_0",    64,  18,  false, false},
};
// clang-format on

// nullptr for an id that is not a known ggml type (removed ids 4, 5, 31-33, 36-38 included).
constexpr const TypeInfo* find_type(uint32_t id) {
    for (const TypeInfo& t : kTypes)
        if (static_cast<uint32_t>(t.id) == id) return &t;
    return nullptr;
}

constexpr const TypeInfo& type_info(Type t) { return *find_type(static_cast<uint32_t>(t)); }

// Case-insensitive lookup by ggml name ("q4_k", "Q4_K", "iq4_xs").
std::optional<Type> parse_type_name(std::string_view name);

constexpr bool is_block_quantized(Type t) { return type_info(t).block_elems > 1; }

// Bytes of one row of ne0 elements; ne0 must be a multiple of the block size.
constexpr size_t row_bytes(Type t, int64_t ne0) {
    const TypeInfo& ti = type_info(t);
    return static_cast<size_t>(ne0 / ti.block_elems) * ti.block_bytes;
}

}  // namespace kquant
