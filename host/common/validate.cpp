// ggml_validate_row_data (ggml-quants.c), field by field. Block fields are read at their byte offsets
// (little-endian, as ggml-common.h lays them out) so that this file needs no codec header.
#include "kquant/validate.h"

#include <cmath>
#include <cstring>

namespace kquant {
namespace {

constexpr RowProblem kOk{true, 0, nullptr};

uint16_t u16_at(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

bool fp16_is_inf(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x03ff) == 0; }
bool fp16_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0; }

// One fp16 field: its byte offset in the block and the texts for its two failures.
struct HalfField {
    size_t offset;
    const char* inf_what;
    const char* nan_what;
};
constexpr HalfField kD{0, "inf scale d", "nan scale d"};
constexpr HalfField kM{2, "inf min m", "nan min m"};
constexpr HalfField kDmin{2, "inf min dmin", "nan min dmin"};
constexpr HalfField at(HalfField f, size_t offset) { return HalfField{offset, f.inf_what, f.nan_what}; }

// The fp16 fields of a block type, in the order ggml checks them (d before m/dmin, block by block).
RowProblem check_halves(const uint8_t* p, size_t nb, size_t bs, const HalfField* f, int nf) {
    for (size_t i = 0; i < nb; ++i)
        for (int k = 0; k < nf; ++k) {
            const uint16_t h = u16_at(p + i * bs + f[k].offset);
            if (fp16_is_inf(h)) return {false, static_cast<int64_t>(i), f[k].inf_what};
            if (fp16_is_nan(h)) return {false, static_cast<int64_t>(i), f[k].nan_what};
        }
    return kOk;
}

RowProblem check_halves(const uint8_t* p, size_t nb, size_t bs, HalfField f) { return check_halves(p, nb, bs, &f, 1); }

template <class F>
RowProblem check_floats(const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        F v;
        std::memcpy(&v, p + i * sizeof(F), sizeof(F));
        if (std::isinf(v)) return {false, static_cast<int64_t>(i), "inf value"};
        if (std::isnan(v)) return {false, static_cast<int64_t>(i), "nan value"};
    }
    return kOk;
}

// IQ1_M keeps its fp16 scale in the top nibbles of the four little-endian u16 words of scales[8]
// (block offset 48), as ggml's iq1m_scale_t.
RowProblem check_iq1_m(const uint8_t* p, size_t nb, size_t bs) {
    for (size_t i = 0; i < nb; ++i) {
        const uint8_t* sc = p + i * bs + 48;
        const uint16_t h = static_cast<uint16_t>((u16_at(sc) >> 12) | ((u16_at(sc + 2) >> 8) & 0x00f0) |
                                                 ((u16_at(sc + 4) >> 4) & 0x0f00) | (u16_at(sc + 6) & 0xf000));
        if (fp16_is_inf(h)) return {false, static_cast<int64_t>(i), "inf packed scale"};
        if (fp16_is_nan(h)) return {false, static_cast<int64_t>(i), "nan packed scale"};
    }
    return kOk;
}

}  // namespace

RowProblem validate_row(Type t, const void* data, size_t nbytes) {
    const TypeInfo* ti = find_type(static_cast<uint32_t>(t));
    if (ti == nullptr) return {false, -1, "invalid type"};
    const size_t bs = ti->block_bytes;
    if (nbytes % bs != 0) return {false, -1, "size is not a multiple of the type size"};
    const size_t nb = nbytes / bs;
    const auto* p = static_cast<const uint8_t*>(data);

    switch (t) {
        case Type::F32: return check_floats<float>(p, nb);
        case Type::F64: return check_floats<double>(p, nb);
        case Type::F16:
            for (size_t i = 0; i < nb; ++i) {
                const uint16_t h = u16_at(p + 2 * i);
                if (fp16_is_inf(h)) return {false, static_cast<int64_t>(i), "inf value"};
                if (fp16_is_nan(h)) return {false, static_cast<int64_t>(i), "nan value"};
            }
            return kOk;
        case Type::BF16: {
            // ggml counts NaNs and Infs over the whole row and reports NaNs first.
            int64_t first_nan = -1, first_inf = -1;
            for (size_t i = 0; i < nb; ++i) {
                const uint16_t h = u16_at(p + 2 * i) & 0x7fff;
                if (h > 0x7f80 && first_nan < 0) first_nan = static_cast<int64_t>(i);
                if (h == 0x7f80 && first_inf < 0) first_inf = static_cast<int64_t>(i);
            }
            if (first_nan >= 0) return {false, first_nan, "nan value"};
            if (first_inf >= 0) return {false, first_inf, "inf value"};
            return kOk;
        }
        case Type::Q4_0:
        case Type::Q5_0:
        case Type::Q8_0:
        case Type::IQ4_NL:
        case Type::IQ4_XS:
        case Type::IQ2_XXS:
        case Type::IQ2_XS:
        case Type::IQ2_S:
        case Type::IQ3_XXS:
        case Type::IQ3_S:
        case Type::IQ1_S:
        case Type::Q1_0:
        case Type::Q2_0: return check_halves(p, nb, bs, kD);  // d first in the block
        case Type::Q4_1:
        case Type::Q5_1: {
            const HalfField f[2] = {kD, kM};
            return check_halves(p, nb, bs, f, 2);
        }
        case Type::Q4_K:
        case Type::Q5_K: {
            const HalfField f[2] = {kD, kDmin};
            return check_halves(p, nb, bs, f, 2);
        }
        case Type::Q2_K: {  // scales[16], qs[64], d, dmin
            const HalfField f[2] = {at(kD, 80), at(kDmin, 82)};
            return check_halves(p, nb, bs, f, 2);
        }
        case Type::Q3_K: return check_halves(p, nb, bs, at(kD, 108));   // hmask[32], qs[64], scales[12], d
        case Type::Q6_K: return check_halves(p, nb, bs, at(kD, 208));   // ql[128], qh[64], scales[16], d
        case Type::TQ1_0: return check_halves(p, nb, bs, at(kD, 52));   // qs[48], qh[4], d
        case Type::TQ2_0: return check_halves(p, nb, bs, at(kD, 64));   // qs[64], d
        case Type::IQ1_M: return check_iq1_m(p, nb, bs);
        case Type::MXFP4:
            for (size_t i = 0; i < nb; ++i)
                if (p[i * bs] == 0xFF) return {false, static_cast<int64_t>(i), "invalid E8M0 exponent 255"};
            return kOk;
        case Type::Q8_K:  // float d first
            for (size_t i = 0; i < nb; ++i) {
                float d;
                std::memcpy(&d, p + i * bs, sizeof d);
                if (std::isinf(d)) return {false, static_cast<int64_t>(i), "inf scale d"};
                if (std::isnan(d)) return {false, static_cast<int64_t>(i), "nan scale d"};
            }
            return kOk;
        case Type::NVFP4:  // every UE4M3 byte is a valid scale
        case Type::I8:
        case Type::I16:
        case Type::I32:
        case Type::I64: return kOk;
        case Type::Q8_1: break;  // not in ggml's validator: "invalid type"
    }
    return {false, -1, "invalid type"};
}

}  // namespace kquant
