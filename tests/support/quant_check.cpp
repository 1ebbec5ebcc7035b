#include "support/quant_check.h"

#include <gtest/gtest.h>

#include <cstring>

#include "kquant/numeric.h"
#include "kquant/quantize.h"

namespace kquant::test {

int check_quantized_bytes(const gguf::Reader& in, const gguf::Reader& out,
                          const std::map<std::string, std::vector<float>>& weights) {
    int weighted = 0;
    for (const gguf::TensorInfo& s : in.tensors()) {
        const gguf::TensorInfo* d = out.find_tensor(s.name);
        EXPECT_NE(d, nullptr) << s.name;
        if (d == nullptr || d->type == s.type) continue;
        const int64_t ne0 = s.ne_at(0), rows_per_slice = s.ne_at(1), rows = s.nrows();
        const auto it = weights.find(s.name);
        const float* w = it != weights.end() ? it->second.data() : nullptr;
        weighted += w != nullptr;
        const RowCodec* c = scalar_codec(d->type);
        if (!is_block_quantized(d->type)) {  // F32/F16/BF16 targets: element-wise conversion
            std::vector<float> f(static_cast<size_t>(s.nrows() * ne0));
            convert_to_f32(s.type, in.tensor_data(s), f.data(), static_cast<int64_t>(f.size()));
            for (size_t i = 0; i < f.size(); ++i) {
                const uint8_t* got = out.tensor_data(*d) + i * type_info(d->type).block_bytes;
                const uint32_t want = d->type == Type::F16    ? fp32_to_fp16(f[i])
                                      : d->type == Type::BF16 ? fp32_to_bf16(f[i])
                                                              : f32_bits(f[i]);
                uint32_t have = 0;
                std::memcpy(&have, got, type_info(d->type).block_bytes);
                if (have != want) {
                    ADD_FAILURE() << s.name << " (" << type_info(d->type).name << "): element " << i << " differs";
                    break;
                }
            }
            continue;
        }
        if (c == nullptr) {
            ADD_FAILURE() << s.name << ": no codec for " << type_info(d->type).name;
            continue;
        }
        const size_t rb = row_bytes(d->type, ne0);
        std::vector<float> f(static_cast<size_t>(ne0));
        std::vector<uint8_t> want(rb);
        for (int64_t r = 0; r < rows; ++r) {
            convert_to_f32(s.type, in.tensor_data(s) + r * row_bytes(s.type, ne0), f.data(), ne0);
            const float* qw = w ? w + (r / rows_per_slice) * ne0 : nullptr;
            c->quantize_row(f.data(), want.data(), ne0, qw);
            if (std::memcmp(out.tensor_data(*d) + r * rb, want.data(), rb) != 0) {
                ADD_FAILURE() << s.name << " (" << type_info(d->type).name << ", " << (qw ? "weighted" : "plain")
                              << "): row " << r << " differs from the block quantizer";
                break;
            }
        }
    }
    return weighted;
}

}  // namespace kquant::test
