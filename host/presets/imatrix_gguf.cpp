// The GGUF imatrix format (§7.3): per weight W, W.in_sum2 (sums of squared activations, one row per
// expert) and W.counts (activation rows seen per expert), plus imatrix.* metadata.
#include <cmath>
#include <cstring>
#include <map>

#include "kquant/error.h"
#include "kquant/imatrix.h"

namespace kquant {
namespace {

struct Parts {
    const gguf::TensorInfo* in_sum = nullptr;
    const gguf::TensorInfo* in_sum2 = nullptr;
    const gguf::TensorInfo* counts = nullptr;
};

bool strip_suffix(std::string& s, std::string_view suffix) {
    if (s.size() < suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
    s.resize(s.size() - suffix.size());
    return true;
}

int64_t elements(const gguf::TensorInfo& t) {
    int64_t n = 1;
    for (int64_t d : t.ne) n *= d;
    return n;
}

std::vector<float> read_f32(const gguf::Reader& r, const gguf::TensorInfo& t) {
    std::vector<float> v(static_cast<size_t>(elements(t)));
    std::memcpy(v.data(), r.tensor_data(t), v.size() * sizeof(float));
    return v;
}

const gguf::KV& require_key(const gguf::Reader& r, const std::string& key, gguf::ValueType type) {
    const gguf::KV* kv = r.find_kv(key);
    if (!kv) fail(r.path(), "", "missing imatrix metadata: no key '" + key + "'");
    if (kv->value.type != type)
        fail(r.path(), "", "key '" + key + "' has type " + gguf::value_type_name(kv->value.type) + ", expected " +
                               gguf::value_type_name(type));
    return *kv;
}

}  // namespace

Imatrix read_imatrix_gguf(const gguf::Reader& r) {
    Imatrix im;
    im.path = r.path();
    // A model given as --imatrix by mistake: say so, rather than name the first missing key.
    if (!r.find_kv("imatrix.datasets") && r.find_kv("general.architecture"))
        fail(r.path(), "", "not an importance matrix: this is a model (general.architecture " +
                               printable(r.find_kv("general.architecture")->value.str) + ", " +
                               std::to_string(r.tensors().size()) + " tensors, no imatrix.* keys)");
    if (r.tensors().empty()) fail(r.path(), "", "no data in imatrix file (no tensors)");

    const gguf::KV& datasets = require_key(r, "imatrix.datasets", gguf::ValueType::ARRAY);
    if (datasets.value.elem_type != gguf::ValueType::STRING)
        fail(r.path(), "", "key 'imatrix.datasets' must be an array of strings, not of " +
                               gguf::value_type_name(datasets.value.elem_type));
    for (const gguf::Value& v : datasets.value.arr) im.datasets.push_back(v.str);
    // llama-quantize keeps the chunk count in an int.
    im.chunk_count = static_cast<int32_t>(require_key(r, "imatrix.chunk_count", gguf::ValueType::U32).value.u);
    im.chunk_size = static_cast<uint32_t>(require_key(r, "imatrix.chunk_size", gguf::ValueType::U32).value.u);

    std::map<std::string, Parts> by_name;
    for (const gguf::TensorInfo& t : r.tensors()) {
        if (t.name.empty()) continue;
        std::string base = t.name;
        if (strip_suffix(base, ".in_sum")) by_name[base].in_sum = &t;
        else if (strip_suffix(base, ".in_sum2")) by_name[base].in_sum2 = &t;
        else if (strip_suffix(base, ".counts")) by_name[base].counts = &t;
    }

    for (const auto& [name, p] : by_name) {
        if (!p.in_sum2 || !p.counts)
            fail(r.path(), name, std::string("mismatched sums and counts: no ") + (p.in_sum2 ? ".counts" : ".in_sum2") +
                                     " tensor");
        if (p.in_sum && elements(*p.in_sum) != elements(*p.in_sum2))
            fail(r.path(), name, "mismatched sums and counts: .in_sum and .in_sum2 differ in size");
        for (const gguf::TensorInfo* t : {p.in_sum2, p.counts, p.in_sum})
            if (t && t->type != Type::F32)
                fail(r.path(), name, "sums and counts must be F32; " + t->name + " is " +
                                         std::string(type_info(t->type).name));

        const int64_t nval = elements(*p.in_sum2), ncounts = elements(*p.counts);
        if (nval == 0 || ncounts == 0) continue;  // nothing recorded; llama-quantize skips these too
        if (nval % ncounts != 0)
            fail(r.path(), name, ".in_sum2 has " + std::to_string(nval) + " values, not a multiple of its " +
                                     std::to_string(ncounts) + " counts");
        const int64_t ncols = nval / ncounts;
        const std::vector<float> sums = read_f32(r, *p.in_sum2);
        const std::vector<float> counts = read_f32(r, *p.counts);
        std::vector<float> w(static_cast<size_t>(nval));
        for (int64_t j = 0; j < ncounts; ++j) {
            if (!std::isfinite(counts[j]))
                fail(r.path(), name, "count " + std::to_string(j) + " is not finite");
            // Counts are whole numbers stored as floats; an expert that saw no rows gets weight 1.
            const float count = static_cast<float>(std::lround(counts[j]));
            for (int64_t i = 0; i < ncols; ++i) {
                const size_t k = static_cast<size_t>(j * ncols + i);
                w[k] = count > 0.0f ? sums[k] / count : 1.0f;
            }
        }
        im.entries[name] = std::move(w);
    }
    return im;
}

}  // namespace kquant
