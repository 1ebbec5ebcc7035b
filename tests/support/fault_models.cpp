#include "support/fault_models.h"

#include <cmath>
#include <cstring>

namespace kquant::test {

GgufBuilder llama_builder(int n_layer) {
    GgufBuilder b;
    b.kv("general.architecture", gguf::Value::of_string("llama"))
        .kv("llama.block_count", gguf::Value::of_u32(static_cast<uint32_t>(n_layer)))
        .kv("llama.attention.head_count", gguf::Value::of_u32(4))
        .kv("llama.attention.head_count_kv", gguf::Value::of_u32(4));
    return b;
}

std::vector<uint8_t> f32_wave(size_t n, float seed) {
    std::vector<uint8_t> out(n * 4);
    for (size_t i = 0; i < n; ++i) {
        const float v = std::sin(static_cast<float>(i) * 0.37f + seed);
        std::memcpy(out.data() + 4 * i, &v, 4);
    }
    return out;
}

std::string write_image(const std::string& path, const GgufImage& img) {
    write_file(path, img.bytes);
    return path;
}

std::string kq() { return cli_path() + " --device cpu"; }

bool dir_has(const std::string& dir, const std::string& part) {
    for (const std::string& n : list_dir(dir))
        if (n.find(part) != std::string::npos) return true;
    return false;
}

}  // namespace kquant::test
