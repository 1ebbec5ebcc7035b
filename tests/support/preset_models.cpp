#include "support/preset_models.h"

#include <sstream>
#include <stdexcept>

namespace kquant::test {
namespace {

void add(SyntheticModel& m, const std::string& name, std::vector<int64_t> ne, Type type) {
    gguf::TensorInfo t;
    t.name = name;
    t.ne = std::move(ne);
    t.type = type;
    t.nbytes = tensor_bytes(type, t.ne);
    m.tensors.push_back(std::move(t));
}

}  // namespace

SyntheticModel make_model(const ModelSpec& s) {
    SyntheticModel m;
    m.kvs.push_back({"general.architecture", gguf::Value::of_string(s.arch)});
    m.kvs.push_back({"general.name", gguf::Value::of_string("synthetic")});
    m.kvs.push_back({s.arch + ".block_count", gguf::Value::of_u32(static_cast<uint32_t>(s.n_layer))});
    m.kvs.push_back({s.arch + ".embedding_length", gguf::Value::of_u32(static_cast<uint32_t>(s.dim))});
    m.kvs.push_back({s.arch + ".attention.head_count", gguf::Value::of_u32(static_cast<uint32_t>(s.n_head))});
    m.kvs.push_back({s.arch + ".attention.head_count_kv", gguf::Value::of_u32(static_cast<uint32_t>(s.n_head_kv))});
    if (s.n_expert > 0) m.kvs.push_back({s.arch + ".expert_count", gguf::Value::of_u32(static_cast<uint32_t>(s.n_expert))});
    m.kvs.push_back({"general.file_type", gguf::Value::of_u32(1)});

    const Type w = s.weight_type;
    const int64_t q_dim = s.n_head * s.head_dim, kv_dim = s.n_head_kv * s.head_dim;
    add(m, "token_embd.weight", {s.dim, s.vocab}, w);
    if (s.rope_freqs) add(m, "rope_freqs.weight", {s.head_dim / 2}, Type::F32);
    for (int l = 0; l < s.n_layer; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        add(m, p + "attn_norm.weight", {s.dim}, Type::F32);
        add(m, p + "attn_q.weight", {s.dim, q_dim}, w);
        add(m, p + "attn_k.weight", {s.dim, kv_dim}, w);
        add(m, p + "attn_v.weight", {s.dim, kv_dim}, w);
        if (s.qkv_bias) {
            add(m, p + "attn_q.bias", {q_dim}, Type::F32);
            add(m, p + "attn_k.bias", {kv_dim}, Type::F32);
            add(m, p + "attn_v.bias", {kv_dim}, Type::F32);
        }
        add(m, p + "attn_output.weight", {q_dim, s.dim}, w);
        add(m, p + "ffn_norm.weight", {s.dim}, Type::F32);
        if (s.n_expert > 0) {
            add(m, p + "ffn_gate_inp.weight", {s.dim, s.n_expert}, s.router_type);
            add(m, p + "ffn_gate_exps.weight", {s.dim, s.ffn, s.n_expert}, w);
            add(m, p + "ffn_up_exps.weight", {s.dim, s.ffn, s.n_expert}, w);
            add(m, p + "ffn_down_exps.weight", {s.ffn, s.dim, s.n_expert}, w);
        } else {
            add(m, p + "ffn_gate.weight", {s.dim, s.ffn}, w);
            add(m, p + "ffn_up.weight", {s.dim, s.ffn}, w);
            add(m, p + "ffn_down.weight", {s.ffn, s.dim}, w);
        }
        if (s.shexp_ffn > 0) {
            add(m, p + "ffn_gate_shexp.weight", {s.dim, s.shexp_ffn}, w);
            add(m, p + "ffn_up_shexp.weight", {s.dim, s.shexp_ffn}, w);
            add(m, p + "ffn_down_shexp.weight", {s.shexp_ffn, s.dim}, w);
        }
    }
    add(m, "output_norm.weight", {s.dim}, Type::F32);
    if (!s.tied) add(m, "output.weight", {s.dim, s.vocab}, w);
    return m;
}

ModelSpec dense_gqa_spec() {
    ModelSpec s;
    s.rope_freqs = true;
    return s;
}

ModelSpec moe_spec() {
    ModelSpec s;
    s.n_layer = 16;
    s.vocab = 32000;
    s.n_expert = 8;
    s.shexp_ffn = 2048;
    return s;
}

ModelSpec odd_ffn_spec() {
    ModelSpec s;
    s.n_layer = 24;
    s.dim = 2048;
    s.ffn = 4896;
    s.n_head = 16;
    s.n_head_kv = 16;
    s.vocab = 32000;
    return s;
}

ModelSpec tied_spec() {
    ModelSpec s;
    s.arch = "qwen2";
    s.n_layer = 24;
    s.dim = 896;
    s.ffn = 4864;
    s.n_head = 14;
    s.n_head_kv = 2;
    s.head_dim = 64;
    s.vocab = 151936;
    s.tied = true;
    s.qkv_bias = true;
    return s;
}

Imatrix full_imatrix(const SyntheticModel& m) {
    Imatrix im;
    im.path = "full.imatrix";
    for (const gguf::TensorInfo& t : m.tensors) {
        if (gguf::n_dims(t.ne) < 2) continue;
        const int64_t ne2 = t.ne.size() > 2 ? t.ne[2] : 1;
        im.entries[t.name] = std::vector<float>(static_cast<size_t>(t.ne[0] * ne2), 1.0f);
    }
    return im;
}

Type expected_type(const std::string& spec, int layer) {
    std::stringstream groups(spec);
    std::string group;
    while (std::getline(groups, group, ';')) {
        const size_t at = group.find('@');
        const std::string type_name = group.substr(0, at);
        const std::optional<Type> t = parse_type_name(type_name);
        if (!t) throw std::invalid_argument("bad type in expectation '" + spec + "'");
        if (at == std::string::npos) return *t;
        std::stringstream ranges(group.substr(at + 1));
        std::string r;
        while (std::getline(ranges, r, ',')) {
            const size_t dash = r.find('-');
            const int lo = std::stoi(r.substr(0, dash));
            const int hi = dash == std::string::npos ? lo : std::stoi(r.substr(dash + 1));
            if (layer >= lo && layer <= hi) return *t;
        }
    }
    throw std::invalid_argument("expectation '" + spec + "' has no type for layer " + std::to_string(layer));
}

int layer_of(const std::string& name) {
    if (name.rfind("blk.", 0) != 0) return -1;
    return std::stoi(name.substr(4, name.find('.', 4) - 4));
}

std::string role_of(const std::string& name) {
    if (name.rfind("blk.", 0) != 0) return name;
    const size_t dot = name.find('.', 4);
    return name.substr(dot + 1);
}

}  // namespace kquant::test
