// --dry-run sizes: the output's layout with alignment 32, from the plan and the output KVs (§5.1).
#include "kquant/presets.h"

namespace kquant {
namespace {

constexpr uint64_t kAlignment = 32;  // llama-quantize always lays out with GGUF_DEFAULT_ALIGNMENT

uint64_t pad(uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

}  // namespace

SizeReport size_report(const QuantPlan& plan, const std::vector<gguf::KV>& output_kvs) {
    SizeReport r;
    std::vector<gguf::TensorInfo> infos;
    infos.reserve(plan.tensors.size());
    uint64_t offset = 0;
    for (const TensorPlan& t : plan.tensors) {
        gguf::TensorInfo info;
        info.name = t.name;
        info.ne.assign(t.ne.begin(), t.ne.begin() + gguf::n_dims(t.ne));  // ggml_n_dims, as the writer does
        info.type = t.dst_type;
        info.offset = offset;
        infos.push_back(std::move(info));
        offset += pad(t.dst_bytes);
        r.src_tensor_bytes += t.src_bytes;
        r.dst_tensor_bytes += t.dst_bytes;
        r.n_elements += t.n_elements;
    }
    r.meta_bytes = pad(gguf::serialize_metadata(output_kvs, infos).size());
    r.data_bytes = offset;
    r.file_bytes = r.meta_bytes + r.data_bytes;
    return r;
}

}  // namespace kquant
