// IQ4_NL (one 32-element block) and IQ4_XS (256-element super-block of eight 32-element sub-blocks):
// 4-bit indices into the non-linear table, one shared routine for both (spec §11.3).
//
// Phases, each separable for a kernel that splits them:
//   1. search_scales<S>: per sub-block, the float scale from the table search (search/iq4.h);
//   2. the stored scale(s): IQ4_NL stores fp16(scale); IQ4_XS derives d from the largest |scale| and a
//      6-bit code per sub-block;
//   3. per sub-block: the indices for the final (float) inverse scale, packed.
// Plain path: weights x^2. Imatrix path: qw*sqrt(sigma2 + x^2), sigma2 = 2*mean(x^2) of the super-block.
#pragma once
#include <cstdint>

#include "kquant/blocks.h"
#include "kquant/formats/kquant_scales.h"
#include "kquant/formats/legacy.h"
#include "kquant/numeric.h"
#include "kquant/search/iq4.h"
#include "kquant/simd/lanes.h"
#include "kquant/types.h"

namespace kquant::iq4 {

// Phase 1 of one 32-element sub-block (one per lane for a vector V): its float scale, given the
// super-block's sigma2 (imatrix path) and its weights or null.
template <class V>
KQ_HD V subblock_search(const V* x, const NoDeduce<V>* qw, NoDeduce<V> sigma2) {
    constexpr Table T = table();
    V w[kSubBlock];
    subblock_weights(x, qw, sigma2, w);
    return subblock_scale(x, w, T.v);
}

// IQ4_XS phase 2: the super-block scale d = -max_scale/32, max_scale the signed sub-block scale of
// largest magnitude (first wins). Zero scales never win, so an all-zero super-block gives d = -0.0.
KQ_HD float xs_block_scale(const float* scales) {
    return -search::abs_argmax(QK_K / kSubBlock, scales).max / 32.0f;
}

// IQ4_XS phase 3, one sub-block: its 6-bit scale code l+32 (l = nint(scale/d) clamped to [-32, 31]) and
// the inverse scale its indices are made with. d is the float super-block scale, not its fp16 rounding;
// both inverses are reciprocal multiplies, as in the reference.
struct XsSubblockScale {
    int code;
    float idl;
};
KQ_HD XsSubblockScale xs_subblock_scale(float d, float scale) {
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const int l = kq_clamp(nint(id * scale), -32, 31);
    const float dl = d * static_cast<float>(l);
    return XsSubblockScale{l + 32, dl != 0.0f ? 1.0f / dl : 0.0f};
}

// IQ4_XS: the eight 6-bit codes, low nibbles two per byte in scales_l, high 2 bits in scales_h.
KQ_HD void xs_pack_scale_codes(const int* codes, block_iq4_xs* y) {
    uint16_t h = 0;
    for (int ib = 0; ib < QK_K / kSubBlock; ++ib) {
        const int c = codes[ib];
        if (ib % 2 == 0)
            y->scales_l[ib / 2] = static_cast<uint8_t>(c & 15);
        else
            y->scales_l[ib / 2] = static_cast<uint8_t>(y->scales_l[ib / 2] | ((c & 15) << 4));
        h = static_cast<uint16_t>(h | ((c >> 4) << (2 * ib)));
    }
    y->scales_h = h;
}

KQ_HD int xs_scale_code(const block_iq4_xs* b, int ib) {
    return ((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 15) | (((b->scales_h >> (2 * ib)) & 3) << 4);
}

// Dequantizes 32 elements from 16 packed index bytes with scale d.
KQ_HD void dequantize_subblock(const uint8_t* qs, float d, float* y) {
    constexpr Table T = table();
    for (int j = 0; j < kSubBlock / 2; ++j) {
        y[j] = d * static_cast<float>(T.v[qs[j] & 15]);
        y[j + kSubBlock / 2] = d * static_cast<float>(T.v[qs[j] >> 4]);
    }
}

}  // namespace kquant::iq4

namespace kquant::codec {

struct IQ4_NL {
    using Block = block_iq4_nl;
    static constexpr Type type = Type::IQ4_NL;
    static constexpr int kBlockElems = QK4_NL;
    static constexpr bool kRowSigma2 = false;

    // The float scale of the block's search, and the indices re-derived from its reciprocal (legacy.h's
    // fit/store split; the stored d is fp16(scale)).
    template <class V>
    KQ_HD static legacy::BlockFitT<V> fit(const V* x, const NoDeduce<V>* qw, NoDeduce<V>, LaneCode<V>* L) {
        constexpr iq4::Table T = iq4::table();
        const V sigma2 = qw != nullptr ? iq4::superblock_sigma2(x, QK4_NL) : V(0.0f);
        const V scale = iq4::subblock_search(x, qw, sigma2);
        const V id = select(scale != V(0.0f), V(1.0f) / scale, V(0.0f));
        iq4::subblock_codes(x, id, T.v, L);
        return legacy::BlockFitT<V>{scale, V(0.0f)};
    }
    KQ_HD static void store(float d, float, const uint8_t* L, Block* y) {
        y->d = fp32_to_fp16(d);
        iq4::pack_codes(L, y->qs);
    }
    KQ_HD static void quantize(const float* x, Block* y) { legacy::quantize_block<IQ4_NL>(x, nullptr, 0.0f, y); }
    KQ_HD static void quantize_weighted(const float* x, const float* qw, float, Block* y) {
        legacy::quantize_block<IQ4_NL>(x, qw, 0.0f, y);
    }
    KQ_HD static void dequantize(const Block* b, float* y) { iq4::dequantize_subblock(b->qs, fp16_to_fp32(b->d), y); }
};

struct IQ4_XS {
    using Block = block_iq4_xs;
    static constexpr Type type = Type::IQ4_XS;
    static constexpr int kBlockElems = QK_K;
    static constexpr bool kRowSigma2 = false;
    static constexpr int kSubblocks = QK_K / iq4::kSubBlock;
    static constexpr int kSubblockElems = iq4::kSubBlock;

    // The phases of formats/kquant_scales.h. Phase 1 is the table search (its codes are made in phase 3);
    // phase 2 derives d and the eight 6-bit codes; phase 3 makes each sub-block's indices with the inverse
    // of d·l, d the float scale (BlockScales::d), not its fp16 rounding.
    KQ_HD static float block_sigma2(const float* x) { return iq4::superblock_sigma2(x, QK_K); }

    template <class V>
    KQ_HD static kq::SubblockFitT<V> fit_subblock(const V* xs, const NoDeduce<V>* qws, NoDeduce<V> sigma2,
                                                  LaneCode<V>*) {
        return kq::SubblockFitT<V>{iq4::subblock_search(xs, qws, sigma2), V(0.0f), V(0.0f)};
    }

    KQ_HD static kq::BlockScales set_block_scales(const kq::SubblockFit* fits, bool, Block* y) {
        float scales[kSubblocks];
        for (int ib = 0; ib < kSubblocks; ++ib) scales[ib] = fits[ib].scale;
        const float d = iq4::xs_block_scale(scales);
        y->d = fp32_to_fp16(d);
        int codes[kSubblocks];
        for (int ib = 0; ib < kSubblocks; ++ib) codes[ib] = iq4::xs_subblock_scale(d, scales[ib]).code;
        iq4::xs_pack_scale_codes(codes, y);
        return {true, d};
    }

    // The inverse scale sub-block j's indices are made with (StoredScale::d; m unused).
    KQ_HD static kq::StoredScale stored_scale(int, const Block&, const kq::BlockScales& bs, const kq::SubblockFit& fit) {
        return kq::StoredScale{iq4::xs_subblock_scale(bs.d, fit.scale).idl, 0.0f};
    }

    template <class V>
    KQ_HD static void requantize(const V* xs, V id, NoDeduce<V>, LaneCode<V>* Ls) {
        constexpr iq4::Table T = iq4::table();
        iq4::subblock_codes(xs, id, T.v, Ls);
    }

    // Column col owns qs[col + 32k], k = 0..3: byte i of sub-block b = (col + 32k) / 16 holds its
    // elements i and i + 16 (i = (col + 32k) % 16).
    KQ_HD static void pack_column(const uint8_t* L, int col, Block* y) {
        for (int k = 0; k < 4; ++k) {
            const int byte = col + 32 * k, b = byte / 16, i = byte % 16;
            const uint8_t* l = L + b * kSubblockElems + i;
            y->qs[byte] = static_cast<uint8_t>(l[0] | (l[kSubblockElems / 2] << 4));
        }
    }

    KQ_HD static void quantize(const float* x, Block* y) { kq::quantize_superblock<IQ4_XS>(x, nullptr, y); }
    KQ_HD static void quantize_weighted(const float* x, const float* qw, float, Block* y) {
        kq::quantize_superblock<IQ4_XS>(x, qw, y);
    }

    KQ_HD static void dequantize_subblock(const Block* b, int j, float* ys) {
        const float dl = fp16_to_fp32(b->d) * static_cast<float>(iq4::xs_scale_code(b, j) - 32);
        iq4::dequantize_subblock(b->qs + j * 16, dl, ys);
    }
    KQ_HD static void dequantize(const Block* b, float* y) {
        for (int j = 0; j < kSubblocks; ++j) dequantize_subblock(b, j, y + j * kSubblockElems);
    }
};

}  // namespace kquant::codec
