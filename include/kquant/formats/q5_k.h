// Q5_K: Q4_K's min/scale family with 5-bit codes (formats/q4_k.h). Differences, all in the template:
// nmax 31, plain search steps (rmin -0.5, rdelta 0.1, nstep 15), the fifth bit of each code in qh
// (qh[e % 32] bit e / 32), and ggml's clamp of the weighted path's 6-bit codes.
#pragma once
#include "kquant/blocks.h"
#include "kquant/formats/q4_k.h"
#include "kquant/types.h"

namespace kquant::codec {

struct Q5_K : kq::MinScaleCodec<block_q5_K, Type::Q5_K, 5> {};

}  // namespace kquant::codec
