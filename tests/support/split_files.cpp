#include "support/split_files.h"

#include <cstdio>

#include "kquant/gguf.h"

namespace kquant::test {

std::vector<std::string> write_split(const std::string& in, const std::string& prefix, const std::vector<size_t>& sizes,
                                     const std::function<void(int, ShardContent&)>& edit) {
    const auto r = gguf::Reader::open(in);
    const int n = static_cast<int>(sizes.size());
    std::vector<std::string> paths;
    size_t next = 0;
    for (int k = 0; k < n; ++k) {
        ShardContent s;
        s.kvs.push_back({"split.no", value_u16(static_cast<uint16_t>(k))});
        s.kvs.push_back({"split.count", value_u16(static_cast<uint16_t>(n))});
        s.kvs.push_back({"split.tensors.count", gguf::Value::of_i32(static_cast<int32_t>(r->tensors().size()))});
        if (k == 0) s.kvs.insert(s.kvs.end(), r->kvs().begin(), r->kvs().end());
        const size_t end = k + 1 == n ? r->tensors().size() : std::min(r->tensors().size(), next + sizes[k]);
        for (; next < end; ++next) {
            const gguf::TensorInfo& t = r->tensors()[next];
            const uint8_t* d = r->tensor_data(t);
            s.tensors.push_back({t.name, t.ne, t.type, std::vector<uint8_t>(d, d + t.nbytes)});
        }
        if (edit) edit(k, s);
        GgufBuilder b;
        for (const gguf::KV& kv : s.kvs) b.kv(kv.key, kv.value);
        for (GgufBuilder::Tensor& t : s.tensors) b.tensor(t.name, t.ne, t.type, std::move(t.data));
        char suffix[64];
        std::snprintf(suffix, sizeof suffix, "-%05d-of-%05d.gguf", k + 1, n);
        paths.push_back(prefix + suffix);
        write_file(paths.back(), b.build().bytes);
    }
    return paths;
}

}  // namespace kquant::test
