// Internals shared by the preset sources (not part of the public interface).
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kquant/presets.h"

namespace kquant::detail {

// sscanf("blk.%d.") at the start of a name: the number when the conversion succeeds.
std::optional<int> parse_block_prefix(std::string_view name);

bool is_token_embd_name(std::string_view name);

// gguf_set_*: an existing key is removed first, the new one goes to the end.
void set_kv(std::vector<gguf::KV>& kvs, gguf::KV kv);

// llama-quantize's running state for §4.4 (quantize_state_impl's counters).
struct SelectionState {
    int n_attention_wv = 0;  // attn_v-like tensors in the whole list
    int n_ffn = 0;           // n_ffn_down = n_ffn_gate = n_ffn_up = block count
    int i_attention_wv = 0;
    int i_ffn_down = 0;
    int i_ffn_gate = 0;
    int i_ffn_up = 0;
    bool has_imatrix = false;
    bool tied_embeddings = false;  // no tensor named output.weight
};

// §4.4 for one eligible tensor that no --tensor-type pattern matched, under a block-quantized default
// type `t`, without --pure. Moves the counters as llama-quantize does. Throws for an FFN tensor of a
// MoE model whose layer cannot be read from its name.
Type apply_preset_rules(SelectionState& s, const ModelInfo& model, FType ftype, Type t, std::string_view name,
                        const std::vector<int64_t>& ne, TensorCategory cat, const std::optional<Type>& output_type,
                        const std::string& file);

// Every type the preset rules of `ftype` can give (before the shape fallback); empty for ftypes
// without rules (F32, F16, BF16).
std::vector<Type> rule_types(FType ftype);

}  // namespace kquant::detail
