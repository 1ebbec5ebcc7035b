// Internal helpers shared by the GGUF reader and writer (not part of the public interface).
#pragma once
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "kquant/types.h"

namespace kquant::gguf::detail {

static_assert(std::endian::native == std::endian::little, "GGUF I/O assumes a little-endian host");

inline constexpr uint32_t kMaxDims = 4;           // ggml's GGML_MAX_DIMS
inline constexpr int kMaxArrayDepth = 16;         // bounds recursion on nested arrays
inline constexpr uint32_t kLastValueType = 12;    // ValueType::F64

// x rounded up to a multiple of a (a power of two); nullopt when that overflows.
inline std::optional<uint64_t> align_up(uint64_t x, uint64_t a) {
    uint64_t r;
    if (__builtin_add_overflow(x, a - 1, &r)) return std::nullopt;
    return r & ~(a - 1);
}

inline bool is_pow2(uint64_t a) { return a != 0 && (a & (a - 1)) == 0; }

// Checks a tensor shape against its type: every ne >= 0, at most 4 dims, element count and byte size
// representable, ne0 a multiple of the block size. Returns "" and sets nbytes, or the problem.
std::string check_shape(const std::vector<int64_t>& ne, Type type, uint64_t& nbytes);

// F32 <-> double conversions that keep a NaN's payload and signalling bit, so that a file read and
// written back is byte-identical (a hardware conversion would quiet a signalling NaN).
inline double f32_bits_to_double(uint32_t bits) {
    if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) {
        const uint64_t d = (static_cast<uint64_t>(bits & 0x80000000u) << 32) | 0x7ff0000000000000ull |
                           (static_cast<uint64_t>(bits & 0x007fffffu) << 29);
        double r;
        std::memcpy(&r, &d, 8);
        return r;
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return static_cast<double>(f);
}

inline uint32_t double_to_f32_bits(double v) {
    uint64_t d;
    std::memcpy(&d, &v, 8);
    if ((d & 0x7ff0000000000000ull) == 0x7ff0000000000000ull && (d & 0x000fffffffffffffull) != 0) {
        uint32_t m = static_cast<uint32_t>((d >> 29) & 0x007fffffu);
        if (m == 0) m = 0x00400000u;  // a payload only in the low bits would otherwise become infinity
        return static_cast<uint32_t>((d >> 32) & 0x80000000u) | 0x7f800000u | m;
    }
    const float f = static_cast<float>(v);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    return bits;
}

}  // namespace kquant::gguf::detail
