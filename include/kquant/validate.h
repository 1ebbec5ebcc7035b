// Row validation as ggml_validate_row_data: llama-quantize runs it on every tensor it loads and on every
// quantized chunk, and stops when it fails. Only what ggml checks is checked: the fp16 scale fields of the
// block types (Inf: exponent all ones, mantissa 0; NaN: mantissa non-zero), the E8M0 exponent of MXFP4
// (0xFF is invalid), the float d of Q8_K, every element of F32/F16/BF16/F64; nothing for NVFP4 (every
// UE4M3 byte decodes) and the integer types. The quantized codes are never checked.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kquant/types.h"

namespace kquant {

struct RowProblem {
    bool ok;
    // Index of the first bad block (element for the float types), counted from `data`;
    // -1 when the problem is not in one block (size not a multiple of the block size, type ggml rejects).
    int64_t block;
    const char* what;  // static text, e.g. "inf scale d", "invalid E8M0 exponent 255"; nullptr when ok
};

// Checks nbytes of `data` (whole blocks of type t) in index order and reports the first problem, as
// ggml does. Types ggml's validator does not know (Q8_1, ids outside the table) are rejected, as ggml
// does ("invalid type"). BF16 follows ggml's message priority: any NaN in the row is reported (at the
// first NaN) before any Inf.
RowProblem validate_row(Type t, const void* data, size_t nbytes);

}  // namespace kquant
