// Multi-threaded row driver and source conversion for the CPU path.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kquant/error.h"
#include "kquant/numeric.h"
#include "kquant/quantize.h"
#include "common/parallel.h"

namespace kquant {

void quantize_rows(const RowCodec& codec, const float* src, void* dst, int64_t nrows, int64_t n_per_row,
                   const float* qw, int n_threads) {
    const size_t rb = row_bytes(codec.type, n_per_row);
    auto* out = static_cast<uint8_t*>(dst);
    // Rows are independent (every statistic is per row or per block), so any split gives the same bytes.
    const int64_t rows_per_chunk = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, n_per_row));
    const int64_t nchunks = (nrows + rows_per_chunk - 1) / rows_per_chunk;
    run_chunked(nchunks, n_threads, [&](const auto& next) {
        for (int64_t c; (c = next()) >= 0;) {
            const int64_t r0 = c * rows_per_chunk, r1 = std::min(nrows, r0 + rows_per_chunk);
            for (int64_t r = r0; r < r1; ++r)
                codec.quantize_row(src + r * n_per_row, out + r * rb, n_per_row, qw);
        }
    });
}

// Tensor data is only as aligned as the file's general.alignment (1 is valid), so source elements are
// loaded with memcpy, never through a typed pointer.
namespace {
uint16_t load_u16(const void* p, int64_t i) {
    uint16_t v;
    std::memcpy(&v, static_cast<const uint8_t*>(p) + 2 * i, 2);
    return v;
}
uint32_t load_u32(const void* p, int64_t i) {
    uint32_t v;
    std::memcpy(&v, static_cast<const uint8_t*>(p) + 4 * i, 4);
    return v;
}
}  // namespace

void convert_to_f32(Type src_type, const void* src, float* dst, int64_t n) {
    switch (src_type) {
        case Type::F32:
            if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));  // an empty row may be null
            return;
        case Type::F16:
            for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(load_u16(src, i));
            return;
        case Type::BF16:
            for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(load_u16(src, i));
            return;
        default: {
            const RowCodec* c = scalar_codec(src_type);
            if (!c)
                throw Error(std::string("cannot convert source type ") + std::string(type_info(src_type).name) +
                            " to f32");
            // The dequantizers read their block structs in place, and ggml's blocks hold uint16 (fp16)
            // fields: an odd address is copied first.
            if (reinterpret_cast<uintptr_t>(src) % alignof(uint16_t) != 0) {
                const size_t bytes = row_bytes(src_type, n);
                std::vector<std::max_align_t> aligned((bytes + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t));
                std::memcpy(aligned.data(), src, bytes);
                return c->dequantize_row(aligned.data(), dst, n);
            }
            return c->dequantize_row(src, dst, n);
        }
    }
}

int64_t find_non_finite(Type src_type, const void* src, int64_t n) {
    switch (src_type) {
        case Type::F32:
            for (int64_t i = 0; i < n; ++i)
                if ((load_u32(src, i) & 0x7f800000u) == 0x7f800000u) return i;
            return -1;
        case Type::F16:
        case Type::BF16: {
            const uint16_t mask = src_type == Type::F16 ? 0x7c00u : 0x7f80u;
            for (int64_t i = 0; i < n; ++i)
                if ((load_u16(src, i) & mask) == mask) return i;
            return -1;
        }
        default:
            return -1;
    }
}

}  // namespace kquant
