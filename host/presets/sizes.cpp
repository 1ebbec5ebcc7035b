// --dry-run sizes: the outputs' layout with alignment 32, from the plan and its output files (§5.1).
#include "kquant/presets.h"

namespace kquant {
namespace {

constexpr uint64_t kAlignment = 32;  // llama-quantize always lays out with GGUF_DEFAULT_ALIGNMENT

uint64_t pad(uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

}  // namespace

SizeReport size_report(const QuantPlan& plan, const std::vector<OutputFile>& outputs) {
    SizeReport r;
    for (const TensorPlan& t : plan.tensors) {
        r.src_tensor_bytes += t.src_bytes;
        r.dst_tensor_bytes += t.dst_bytes;
        r.n_elements += t.n_elements;
    }
    for (const OutputFile& o : outputs) {
        std::vector<gguf::TensorInfo> infos;
        infos.reserve(o.tensors.size());
        uint64_t offset = 0;
        for (const PlannedTensor& p : o.tensors) {
            gguf::TensorInfo info;
            info.name = p.name;
            info.ne = gguf::written_shape(p.src->ne);  // as the pipeline gives it to the writer
            info.type = p.dst;
            info.offset = offset;
            offset += pad(tensor_bytes(p.dst, p.src->ne));
            infos.push_back(std::move(info));
        }
        r.meta_bytes += pad(gguf::serialize_metadata(o.kvs, infos).size());
        r.data_bytes += offset;
    }
    r.file_bytes = r.meta_bytes + r.data_bytes;
    return r;
}

}  // namespace kquant
