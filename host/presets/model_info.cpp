// The hparams that type selection reads, from the input KVs with --override-kv applied (§2 step 1).
#include "kquant/error.h"
#include "kquant/presets.h"

namespace kquant {
namespace {

struct Source {
    const std::vector<gguf::KV>& kvs;
    std::span<const KvOverride> overrides;
    const std::string& file;

    const gguf::KV* kv(const std::string& key) const {
        for (const gguf::KV& k : kvs)
            if (k.key == key) return &k;
        return nullptr;
    }
    // The loader keeps the first override of a key.
    const KvOverride* override_for(const std::string& key) const {
        for (const KvOverride& o : overrides)
            if (o.key == key) return &o;
        return nullptr;
    }
    [[noreturn]] void bad_override(const std::string& key, const char* want) const {
        fail(file, "", "bad metadata override type for key '" + key + "', expected " + want);
    }

    // An integer key, or the first element of a per-layer array. nullopt when absent.
    std::optional<uint32_t> u32(const std::string& key) const {
        if (const KvOverride* o = override_for(key)) {
            if (o->kind != KvOverride::Kind::Int) bad_override(key, "int");
            return static_cast<uint32_t>(o->i);
        }
        const gguf::KV* k = kv(key);
        if (!k) return std::nullopt;
        try {
            if (k->value.type == gguf::ValueType::ARRAY) {
                if (k->value.arr.empty()) fail(file, "", "key '" + key + "' is an empty array");
                return static_cast<uint32_t>(k->value.arr[0].as_int());
            }
            return static_cast<uint32_t>(k->value.as_int());
        } catch (const Error& e) {
            fail(file, "", "key '" + key + "': " + e.what());
        }
    }

    std::optional<std::string> str(const std::string& key) const {
        if (const KvOverride* o = override_for(key)) {
            if (o->kind != KvOverride::Kind::Str) bad_override(key, "str");
            return o->s;
        }
        const gguf::KV* k = kv(key);
        if (!k) return std::nullopt;
        if (k->value.type != gguf::ValueType::STRING)
            fail(file, "", "key '" + key + "' has type " + gguf::value_type_name(k->value.type) + ", expected string");
        return k->value.str;
    }
};

}  // namespace

bool is_70b_size_class(std::string_view arch, uint32_t n_layer, uint32_t n_head, uint32_t n_head_kv,
                       uint32_t n_expert) {
    if (n_layer != 80) return false;
    if (arch == "llama") return n_expert != 8 && n_head != n_head_kv;
    return arch == "qwen2" || arch == "deci";
}

ModelInfo model_info_from_kvs(const std::vector<gguf::KV>& kvs, std::span<const KvOverride> overrides,
                              const std::string& file) {
    const Source src{kvs, overrides, file};
    ModelInfo m;
    const std::optional<std::string> arch = src.str("general.architecture");
    if (!arch || arch->empty()) fail(file, "", "missing general.architecture");
    m.arch = *arch;
    const std::optional<uint32_t> n_layer = src.u32(m.arch + ".block_count");
    if (!n_layer) fail(file, "", "key not found in model: " + m.arch + ".block_count");
    m.n_layer = *n_layer;
    m.n_head = src.u32(m.arch + ".attention.head_count").value_or(0);
    m.n_head_kv = src.u32(m.arch + ".attention.head_count_kv").value_or(m.n_head);
    m.n_expert = src.u32(m.arch + ".expert_count").value_or(0);
    m.size_class_70b = is_70b_size_class(m.arch, m.n_layer, m.n_head, m.n_head_kv, m.n_expert);
    return m;
}

}  // namespace kquant
