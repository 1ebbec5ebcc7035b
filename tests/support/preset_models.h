// Synthetic model descriptions (KVs and tensor infos, no data) for the preset tests, and a compact
// notation for the expected type of each tensor.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "kquant/gguf.h"
#include "kquant/imatrix.h"
#include "kquant/presets.h"

namespace kquant::test {

struct ModelSpec {
    std::string arch = "llama";
    int n_layer = 32;
    int64_t dim = 4096;
    int64_t ffn = 14336;
    int64_t n_head = 32;
    int64_t n_head_kv = 8;
    int64_t head_dim = 128;
    int64_t vocab = 128256;
    int n_expert = 0;           // > 0: merged expert tensors [.., .., n_expert] plus the router
    int64_t shexp_ffn = 0;      // > 0: shared-expert FFN tensors (ffn_*_shexp) of this width
    bool tied = false;          // no output.weight
    bool rope_freqs = false;
    bool qkv_bias = false;      // attn_{q,k,v}.bias
    Type weight_type = Type::F16;  // matrices
    Type router_type = Type::F16;  // ffn_gate_inp
};

struct SyntheticModel {
    std::vector<gguf::KV> kvs;
    std::vector<gguf::TensorInfo> tensors;  // in a converter's order (token_embd, blocks, output), not sorted
    ModelInfo info() const { return model_info_from_kvs(kvs); }
};

SyntheticModel make_model(const ModelSpec& spec);

// The four models of the preset tables:
// (a) Llama-3-8B shapes: 32 layers, n_head 32 / n_head_kv 8, dim 4096, ffn 14336, vocab 128256, rope_freqs
ModelSpec dense_gqa_spec();
// (b) a Mixtral-like MoE: 16 layers, 8 experts, gqa 4, merged experts plus shared-expert FFN tensors
ModelSpec moe_spec();
// (c) a dense model whose FFN width 4896 is a multiple of 32 but not of 256; gqa 1, 24 layers
ModelSpec odd_ffn_spec();
// (d) a Qwen2-0.5B-like model with tied embeddings: dim 896 (not a multiple of 256), gqa 7, 24 layers
ModelSpec tied_spec();

// An imatrix with an entry of the right size (ne0 * ne2 ones) for every tensor with 2 or more dims.
Imatrix full_imatrix(const SyntheticModel& m);

// Expected types in a compact form: "q6_K@0-3,6;q5_K@8;q4_K" gives q6_K to layers 0-3 and 6, q5_K to
// layer 8 and q4_K to every other layer; a plain "q4_K" applies to all layers (and to non-layer tensors).
Type expected_type(const std::string& spec, int layer);

// The key under which a tensor's expectation is listed: the name without its "blk.N." prefix.
std::string role_of(const std::string& name);

// N of a "blk.N." name, or -1.
int layer_of(const std::string& name);

}  // namespace kquant::test
