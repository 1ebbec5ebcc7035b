// The output file's KV list (§5.3) and the file type the loader reports for an input.
#include <algorithm>
#include <map>

#include "kquant/error.h"
#include "kquant/presets.h"
#include "presets/detail.h"

namespace kquant {
namespace {

constexpr uint32_t kQuantizationVersion = 2;  // GGML_QNT_VERSION

void remove_kv(std::vector<gguf::KV>& kvs, std::string_view key) {
    std::erase_if(kvs, [&](const gguf::KV& k) { return k.key == key; });
}

// The loader's guess from a tensor type (llama_model_loader's switch); F32 for types it does not know.
FType ftype_for_type(Type t) {
    switch (t) {
        case Type::F32: return FType::ALL_F32;
        case Type::F16: return FType::MOSTLY_F16;
        case Type::BF16: return FType::MOSTLY_BF16;
        case Type::Q4_0: return FType::Q4_0;
        case Type::Q4_1: return FType::Q4_1;
        case Type::Q5_0: return FType::Q5_0;
        case Type::Q5_1: return FType::Q5_1;
        case Type::Q8_0: return FType::Q8_0;
        case Type::Q2_K: return FType::Q2_K;
        case Type::Q3_K: return FType::Q3_K_M;
        case Type::Q4_K: return FType::Q4_K_M;
        case Type::Q5_K: return FType::Q5_K_M;
        case Type::Q6_K: return FType::Q6_K;
        case Type::TQ1_0: return FType::TQ1_0;
        case Type::TQ2_0: return FType::TQ2_0;
        case Type::IQ2_XXS: return FType::IQ2_XXS;
        case Type::IQ2_XS: return FType::IQ2_XS;
        case Type::IQ2_S: return FType::IQ2_S;
        case Type::IQ3_XXS: return FType::IQ3_XXS;
        case Type::IQ1_S: return FType::IQ1_S;
        case Type::IQ1_M: return FType::IQ1_M;
        case Type::IQ4_NL: return FType::IQ4_NL;
        case Type::IQ4_XS: return FType::IQ4_XS;
        case Type::IQ3_S: return FType::IQ3_S;
        case Type::NVFP4: return FType::NVFP4;
        case Type::Q1_0: return FType::Q1_0;
        case Type::Q2_0: return FType::Q2_0;
        default: return FType::ALL_F32;
    }
}

}  // namespace

void detail::set_kv(std::vector<gguf::KV>& kvs, gguf::KV kv) {
    std::erase_if(kvs, [&](const gguf::KV& k) { return k.key == kv.key; });
    kvs.push_back(std::move(kv));
}

uint32_t input_file_type(const std::vector<gguf::KV>& kvs, std::span<const gguf::TensorInfo> tensors) {
    for (const gguf::KV& k : kvs) {
        if (k.key != "general.file_type") continue;
        if (k.value.type != gguf::ValueType::U32)
            throw Error("key 'general.file_type' has type " + gguf::value_type_name(k.value.type) + ", expected u32");
        return static_cast<uint32_t>(k.value.u);
    }
    // The loader walks its weights in its sorted order; the first type to reach the top count wins.
    std::vector<const gguf::TensorInfo*> sorted;
    for (const gguf::TensorInfo& t : tensors) sorted.push_back(&t);
    std::stable_sort(sorted.begin(), sorted.end(), [](const gguf::TensorInfo* a, const gguf::TensorInfo* b) {
        return tensor_order_less(a->name, b->name);
    });
    std::map<Type, uint32_t> n_type;
    uint32_t n_max = 0;
    Type type_max = Type::F32;
    for (const gguf::TensorInfo* t : sorted) {
        const uint32_t n = ++n_type[t->type];
        if (n > n_max) {
            n_max = n;
            type_max = t->type;
        }
    }
    return static_cast<uint32_t>(ftype_for_type(type_max)) | kFTypeGuessed;
}

uint32_t output_file_type(const QuantParams& p, const std::vector<gguf::KV>& kvs,
                          std::span<const gguf::TensorInfo> tensors) {
    return p.only_copy ? input_file_type(kvs, tensors) : static_cast<uint32_t>(p.ftype);
}

std::vector<gguf::KV> build_output_kvs(const std::vector<gguf::KV>& input, uint32_t file_type,
                                       std::span<const KvOverride> overrides) {
    std::vector<gguf::KV> out;
    for (const gguf::KV& kv : input) detail::set_kv(out, kv);
    detail::set_kv(out, {"general.quantization_version", gguf::Value::of_u32(kQuantizationVersion)});
    detail::set_kv(out, {"general.file_type", gguf::Value::of_u32(file_type)});
    remove_kv(out, "split.no");
    remove_kv(out, "split.count");
    remove_kv(out, "split.tensors.count");
    for (const KvOverride& o : overrides) detail::set_kv(out, o.to_output_kv());
    return out;
}

}  // namespace kquant
