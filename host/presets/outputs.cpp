// The output files of a plan (§5.4): one merged file, or one per input shard with --keep-split, and
// the default output name (§1.1).
#include <algorithm>

#include "kquant/model.h"
#include "kquant/presets.h"
#include "presets/detail.h"

namespace kquant {

std::vector<OutputFile> plan_outputs(const QuantPlan& plan, std::span<const gguf::TensorInfo> inputs,
                                     const std::vector<gguf::KV>& kvs, const std::string& out_path) {
    const std::vector<PlannedTensor> tensors = to_pipeline_plan(plan, inputs);
    // With --keep-split, as many outputs as the highest input shard that kept a tensor needs.
    int n = 1;
    if (plan.keep_split)
        for (const TensorPlan& t : plan.tensors) n = std::max(n, t.shard + 1);
    std::vector<OutputFile> out(static_cast<size_t>(n));
    std::string prefix = out_path;
    if (plan.keep_split && prefix.find(".gguf") != std::string::npos) prefix.resize(prefix.size() - 5);
    for (int k = 0; k < n; ++k) out[k].path = plan.keep_split ? gguf::shard_path(prefix, k, n) : out_path;
    out[0].kvs = kvs;
    if (plan.block_count) detail::set_kv(out[0].kvs, *plan.block_count);
    if (n > 1) {
        for (int k = 0; k < n; ++k) {
            detail::set_kv(out[k].kvs, {"split.no", gguf::Value::of_u16(static_cast<uint16_t>(k))});
            detail::set_kv(out[k].kvs, {"split.count", gguf::Value::of_u16(static_cast<uint16_t>(n))});
            detail::set_kv(out[k].kvs,
                           {"split.tensors.count", gguf::Value::of_i32(static_cast<int32_t>(plan.tensors.size()))});
        }
    }
    for (size_t i = 0; i < tensors.size(); ++i)
        out[plan.keep_split ? plan.tensors[i].shard : 0].tensors.push_back(tensors[i]);
    return out;
}

std::string default_output_path(const std::string& input, const PresetInfo& preset, bool keep_split) {
    const size_t slash = input.find_last_of("/\\");
    const std::string dir = slash == std::string::npos ? "" : input.substr(0, slash + 1);
    return dir + "ggml-model-" + std::string(preset.name) + (keep_split ? "" : ".gguf");
}

}  // namespace kquant
