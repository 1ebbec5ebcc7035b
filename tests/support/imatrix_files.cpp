#include "support/imatrix_files.h"

#include <cstring>

namespace kquant::test {

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * 4);
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return b;
}

GgufBuilder imatrix_gguf_builder(const std::vector<ImatrixGgufEntry>& entries, const ImatrixGgufMeta& meta) {
    GgufBuilder b;
    std::vector<gguf::Value> datasets;
    for (const std::string& d : meta.datasets) datasets.push_back(gguf::Value::of_string(d));
    b.kv("general.type", gguf::Value::of_string("imatrix"));
    b.kv("imatrix.datasets", gguf::Value::of_array(gguf::ValueType::STRING, datasets));
    b.kv("imatrix.chunk_count", gguf::Value::of_u32(meta.chunk_count));
    b.kv("imatrix.chunk_size", gguf::Value::of_u32(meta.chunk_size));
    for (const ImatrixGgufEntry& e : entries) {
        const int64_t n_mat = static_cast<int64_t>(e.counts.size());
        // ggml writes n_dims without trailing 1s: a single matrix is 1-D.
        const std::vector<int64_t> sums_ne = n_mat == 1 ? std::vector<int64_t>{e.n_cols}
                                                        : std::vector<int64_t>{e.n_cols, n_mat};
        const std::vector<int64_t> counts_ne = n_mat == 1 ? std::vector<int64_t>{1} : std::vector<int64_t>{1, n_mat};
        if (e.in_sum) b.tensor(e.name + ".in_sum", sums_ne, Type::F32, f32_bytes(*e.in_sum));
        b.tensor(e.name + ".in_sum2", sums_ne, Type::F32, f32_bytes(e.in_sum2));
        b.tensor(e.name + ".counts", counts_ne, Type::F32, f32_bytes(e.counts));
    }
    return b;
}

std::vector<uint8_t> imatrix_legacy_bytes(const std::vector<ImatrixLegacyEntry>& entries,
                                          std::optional<int32_t> chunk_count, std::optional<std::string> dataset) {
    std::vector<uint8_t> out;
    auto raw = [&](const void* p, size_t n) {
        const size_t at = out.size();
        out.resize(at + n);
        if (n) std::memcpy(out.data() + at, p, n);
    };
    auto i32 = [&](int32_t v) { raw(&v, 4); };
    i32(static_cast<int32_t>(entries.size()));
    for (const ImatrixLegacyEntry& e : entries) {
        i32(static_cast<int32_t>(e.name.size()));
        raw(e.name.data(), e.name.size());
        i32(e.ncall);
        i32(static_cast<int32_t>(e.values.size()));
        raw(e.values.data(), e.values.size() * 4);
    }
    if (chunk_count) {
        i32(*chunk_count);
        if (dataset) {
            i32(static_cast<int32_t>(dataset->size()));
            raw(dataset->data(), dataset->size());
        }
    }
    return out;
}

}  // namespace kquant::test
