#include "support/golden.h"

#include <cstring>
#include <memory>

namespace kquant::test {

const gguf::Reader& kquants_golden() {
    static const std::unique_ptr<gguf::Reader> r = gguf::Reader::open(KQ_GOLDEN_PATH);
    return *r;
}

const gguf::Reader& extra_golden() {
    static const std::unique_ptr<gguf::Reader> r = gguf::Reader::open(KQ_EXTRA_GOLDEN_PATH);
    return *r;
}

std::vector<std::string> golden_cases(const gguf::Reader& r) {
    std::vector<std::string> cases;
    const gguf::KV* kv = r.find_kv("golden.cases");
    if (kv == nullptr || kv->value.type != gguf::ValueType::ARRAY) return cases;
    for (const gguf::Value& v : kv->value.arr) cases.push_back(v.str);
    return cases;
}

std::vector<float> golden_f32(const gguf::Reader& r, const gguf::TensorInfo& t) {
    std::vector<float> v(static_cast<size_t>(t.nelements()));
    std::memcpy(v.data(), r.tensor_data(t), v.size() * sizeof(float));
    return v;
}

}  // namespace kquant::test
