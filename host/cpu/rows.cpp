// Multi-threaded row driver and source conversion for the CPU path.
#include <algorithm>
#include <cstring>

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

void convert_to_f32(Type src_type, const void* src, float* dst, int64_t n) {
    switch (src_type) {
        case Type::F32:
            std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
            return;
        case Type::F16: {
            const auto* h = static_cast<const uint16_t*>(src);
            for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
            return;
        }
        case Type::BF16: {
            const auto* h = static_cast<const uint16_t*>(src);
            for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(h[i]);
            return;
        }
        default:
            if (const RowCodec* c = scalar_codec(src_type)) return c->dequantize_row(src, dst, n);
            throw Error(std::string("cannot convert source type ") + std::string(type_info(src_type).name) +
                        " to f32");
    }
}

int64_t find_non_finite(Type src_type, const void* src, int64_t n) {
    switch (src_type) {
        case Type::F32: {
            const auto* u = static_cast<const uint32_t*>(src);
            for (int64_t i = 0; i < n; ++i)
                if ((u[i] & 0x7f800000u) == 0x7f800000u) return i;
            return -1;
        }
        case Type::F16:
        case Type::BF16: {
            const uint16_t mask = src_type == Type::F16 ? 0x7c00u : 0x7f80u;
            const auto* h = static_cast<const uint16_t*>(src);
            for (int64_t i = 0; i < n; ++i)
                if ((h[i] & mask) == mask) return i;
            return -1;
        }
        default:
            return -1;
    }
}

}  // namespace kquant
