// The per-tensor plan: output order, eligibility, target type (§4.1), shape fallback (§4.7), and the
// checks llama-quantize makes before and while it writes each tensor.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <sstream>
#include <numeric>
#include <regex>

#include "kquant/error.h"
#include "kquant/imatrix.h"
#include "kquant/presets.h"
#include "kquant/quantize.h"
#include "presets/detail.h"

namespace kquant {
namespace {

struct CompiledRule {
    std::regex re;
    Type type;
};

std::vector<CompiledRule> compile_rules(const std::vector<TensorTypeRule>& rules) {
    std::vector<CompiledRule> out;
    for (const TensorTypeRule& r : rules) {
        try {
            out.push_back({std::regex(r.pattern, std::regex::ECMAScript), r.type});
        } catch (const std::regex_error& e) {
            throw Error("invalid --tensor-type pattern '" + r.pattern + "': " + e.what());
        }
    }
    return out;
}

std::string type_name(Type t) { return std::string(type_info(t).name); }

// llama-quantize's warning line for a shape fallback (its printf widths included).
std::string fallback_warning(const std::string& name, int64_t ne0, Type from, Type to, bool f16) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "warning: %-36s - ncols %6" PRId64 " not divisible by %3" PRId64
                  " (required for type %7s) %s-> falling back to %7s",
                  name.c_str(), ne0, type_info(from).block_elems, type_name(from).c_str(),
                  f16 ? "(WARNING: must use F16 due to unusual shape) " : "", type_name(to).c_str());
    return buf;
}

class Planner {
public:
    Planner(const ModelInfo& model, const QuantParams& params, const Imatrix* imatrix, const std::string& file)
        : model_(model), params_(params), imatrix_(imatrix && !imatrix->empty() ? imatrix : nullptr),
          file_(file), rules_(compile_rules(params.tensor_types)) {
        if (!params.only_copy) {
            const PresetInfo* p = preset_for_ftype(static_cast<uint32_t>(params.ftype));
            if (!p) fail(file, "", "invalid output file type " + std::to_string(static_cast<uint32_t>(params.ftype)));
            default_type_ = p->default_type;
        }
    }

    QuantPlan run(std::span<const gguf::TensorInfo> inputs, std::span<const uint16_t> shards) {
        if (imatrix_) check_imatrix_finite(*imatrix_);
        if (!shards.empty() && shards.size() != inputs.size())
            throw Error("internal: " + std::to_string(shards.size()) + " shard indices for " +
                        std::to_string(inputs.size()) + " tensors");
        QuantPlan plan;
        plan.n_input_tensors = inputs.size();
        plan.tensors = ordered(inputs, shards);
        prune(plan);
        if (params_.keep_split) keep_split_order(plan, inputs);
        count(plan.tensors);
        for (TensorPlan& t : plan.tensors) preliminary(t, plan);
        for (TensorPlan& t : plan.tensors) main_checks(t);
        for (const TensorPlan& t : plan.tensors) quantizer_check(t);
        return plan;
    }

private:
    const ModelInfo& model_;
    const QuantParams& params_;
    const Imatrix* imatrix_;
    const std::string& file_;
    std::vector<CompiledRule> rules_;
    Type default_type_ = Type::F32;
    detail::SelectionState state_;

    std::vector<TensorPlan> ordered(std::span<const gguf::TensorInfo> inputs, std::span<const uint16_t> shards) const {
        std::vector<TensorPlan> out(inputs.size());
        for (size_t i = 0; i < inputs.size(); ++i) {
            const gguf::TensorInfo& in = inputs[i];
            TensorPlan& t = out[i];
            t.input_index = i;
            t.input_name = t.name = t.imatrix_name = in.name;
            t.shard = shards.empty() ? 0 : shards[i];
            t.ne = in.ne;
            t.src_type = in.type;
            t.category = tensor_category(in.name);
            t.n_elements = 1;
            for (int64_t d : in.ne) t.n_elements *= d;
            t.src_bytes = tensor_bytes(in.type, in.ne);
        }
        std::stable_sort(out.begin(), out.end(),
                         [](const TensorPlan& a, const TensorPlan& b) { return tensor_order_less(a.name, b.name); });
        for (size_t i = 1; i < out.size(); ++i)
            if (out[i].name == out[i - 1].name) fail(file_, out[i].name, "invalid model: tensor is duplicated");
        return out;
    }

    // --prune-layers, as llama-quantize renumbers: in the loader's order, the first `blk.N.` anywhere in a
    // name decides; a pruned layer's tensors are dropped; a layer below the smallest pruned id keeps its
    // number, every other kept layer takes the next free one, in the order first seen. The block count
    // becomes that next number. The imatrix is looked up under the input's layer number.
    void prune(QuantPlan& plan) const {
        const std::vector<int>& prune = params_.prune_layers;
        if (prune.empty()) return;
        static const std::regex pattern(R"(blk\.(\d+)\.)");
        std::map<int, std::string> mapped;  // input layer -> output number ("" when pruned)
        int next_id = 0;
        std::vector<TensorPlan> kept;
        for (TensorPlan& t : plan.tensors) {
            std::smatch m;
            if (!std::regex_search(t.input_name, m, pattern)) {
                kept.push_back(std::move(t));
                continue;
            }
            int blk = 0;
            try {
                blk = std::stoi(m[1].str());
            } catch (const std::logic_error&) {
                fail(file_, t.input_name, "layer number " + m[1].str() + " is out of range");
            }
            if (!mapped.count(blk)) {
                if (std::binary_search(prune.begin(), prune.end(), blk)) {
                    mapped[blk] = "";
                } else if (blk < prune.front()) {
                    mapped[blk] = std::to_string(blk);
                    next_id = blk + 1;
                } else {
                    mapped[blk] = std::to_string(next_id++);
                }
            }
            const std::string& to = mapped[blk];
            if (to.empty()) continue;
            t.name = t.input_name.substr(0, m.position(1)) + to + t.input_name.substr(m.position(1) + m.length(1));
            kept.push_back(std::move(t));
        }
        // The imatrix name: the first input layer whose output number is this name's number.
        for (TensorPlan& t : kept) {
            std::smatch m;
            if (!std::regex_search(t.name, m, pattern)) continue;
            const auto it = std::find_if(mapped.begin(), mapped.end(), [&](const auto& e) { return e.second == m[1].str(); });
            if (it == mapped.end()) fail(file_, t.name, "internal: no input layer maps to layer " + m[1].str());
            t.imatrix_name = t.name.substr(0, m.position(1)) + std::to_string(it->first) +
                             t.name.substr(m.position(1) + m.length(1));
        }
        plan.tensors = std::move(kept);
        plan.block_count = gguf::KV{model_.arch + ".block_count", gguf::Value::of_u32(static_cast<uint32_t>(next_id))};
    }

    // --keep-split: the tensors in input order (shard, then data offset), one output per input shard.
    void keep_split_order(QuantPlan& plan, std::span<const gguf::TensorInfo> inputs) const {
        std::stable_sort(plan.tensors.begin(), plan.tensors.end(), [&](const TensorPlan& a, const TensorPlan& b) {
            if (a.shard != b.shard) return a.shard < b.shard;
            return inputs[a.input_index].offset < inputs[b.input_index].offset;
        });
        plan.keep_split = true;
    }

    void count(const std::vector<TensorPlan>& tensors) {
        state_.n_ffn = static_cast<int>(model_.n_layer);
        state_.has_imatrix = imatrix_ != nullptr;
        state_.tied_embeddings = true;
        for (const TensorPlan& t : tensors) {
            if (t.category == TensorCategory::AttentionV || t.category == TensorCategory::AttentionQkv ||
                t.category == TensorCategory::AttentionKvB)
                ++state_.n_attention_wv;
            if (t.category == TensorCategory::Output) state_.tied_embeddings = false;
        }
    }

    const CompiledRule* matching_rule(const std::string& name) const {
        for (const CompiledRule& r : rules_)
            if (std::regex_search(name, r.re)) return &r;
        return nullptr;
    }

    // §4.1 for an eligible tensor.
    Type select(TensorPlan& t, QuantPlan& plan) {
        // --token-embedding-type, except that per_layer_token_embd (a large table of its own) follows a
        // --tensor-type pattern that names it.
        if (params_.token_embedding_type && t.category == TensorCategory::TokenEmbd &&
            !(t.name == "per_layer_token_embd.weight" && matching_rule(t.name)))
            return *params_.token_embedding_type;
        if (params_.output_tensor_type && t.category == TensorCategory::Output) return *params_.output_tensor_type;
        Type type = default_type_;
        if (!is_block_quantized(type)) return type;
        if (const CompiledRule* r = matching_rule(t.name)) {
            type = r->type;
            t.manual = true;
        }
        if (!t.manual && !params_.pure)
            type = detail::apply_preset_rules(state_, model_, params_.ftype, type, t.name, t.ne, t.category,
                                              params_.output_tensor_type, file_);
        return shape_fallback(t, type, plan);
    }

    Type shape_fallback(TensorPlan& t, Type type, QuantPlan& plan) {
        const int64_t ne0 = t.ne.empty() ? 1 : t.ne[0];
        if (ne0 % type_info(type).block_elems == 0) return type;
        ++plan.n_fallback;
        // A 32-element type has nowhere smaller to go: fallback_type returns it, and F16 follows.
        const std::optional<Type> fb = fallback_type(type);
        if (!fb) fail(file_, t.name, "no tensor type fallback is defined for type " + type_name(type));
        const bool f16 = ne0 % type_info(*fb).block_elems != 0;
        const Type result = f16 ? Type::F16 : *fb;
        t.fallback = true;
        t.fallback_warning = fallback_warning(t.name, ne0, type, result, f16);
        return result;
    }

    // llama-quantize's preliminary pass.
    void preliminary(TensorPlan& t, QuantPlan& plan) {
        t.allows_quantization = tensor_allows_quantization(t.name, t.ne, params_, model_.arch);
        t.dst_type = t.allows_quantization ? select(t, plan) : t.src_type;
        t.requires_imatrix = requires_imatrix(t.name, t.dst_type, params_.ftype);
        // Checked for every tensor before anything is written (llama-quantize: in its preliminary pass).
        if (!imatrix_ && t.allows_quantization && t.requires_imatrix) {
            if (!params_.dry_run)
                fail(file_, t.name,
                     "this quantization requires an imatrix! target type " + type_name(t.dst_type) +
                         " needs an importance matrix (--imatrix)");
            plan.will_require_imatrix = true;
        }
        t.action = t.dst_type == t.src_type     ? TensorAction::Copy
                   : is_block_quantized(t.dst_type) ? TensorAction::Quantize
                                                    : TensorAction::Convert;
        t.dst_bytes = tensor_bytes(t.dst_type, t.ne);
    }

    // The checks of llama-quantize's main pass, in its order, for a tensor that changes type.
    void main_checks(TensorPlan& t) {
        if (params_.dry_run || t.action == TensorAction::Copy) return;
        const int64_t ne0 = t.ne.empty() ? 1 : t.ne[0];
        const int64_t ne2 = t.ne.size() > 2 ? t.ne[2] : 1;
        const std::vector<float>* weights = nullptr;
        if (imatrix_) weights = imatrix_lookup(*imatrix_, t.imatrix_name, ne0, ne2, &t.imatrix_note);
        if (!weights && t.requires_imatrix)
            fail(file_, t.name, "Missing importance matrix for tensor " + t.name + " in a very low-bit quantization");
        const TypeInfo& src = type_info(t.src_type);
        if (is_block_quantized(t.src_type)) {
            if (!params_.allow_requantize)
                fail(file_, t.name, "requantizing from type " + std::string(src.name) + " is disabled");
            if (scalar_codec(t.src_type) == nullptr)
                fail(file_, t.name, "type " + std::string(src.name) + " unsupported for requantization: no dequantization available");
        } else if (t.src_type != Type::F32 && t.src_type != Type::F16 && t.src_type != Type::BF16) {
            fail(file_, t.name, "cannot dequantize/convert tensor type " + std::string(src.name));
        }
        // llama-quantize exempts token_embd and output from its imatrix check, but ggml's quantizer for
        // these types asserts that it has weights: llama-quantize aborts there, mid-file. We stop first.
        if (!weights && t.action == TensorAction::Quantize && type_info(t.dst_type).requires_imatrix)
            fail(file_, t.name,
                 "target type " + type_name(t.dst_type) + " cannot be quantized without an importance matrix, and " +
                     (imatrix_ ? "the imatrix has no usable entry for this tensor" : "no --imatrix was given") +
                     " (llama-quantize aborts inside ggml here)");
        // Types forced by --token-embedding-type / --output-tensor-type skip the shape fallback;
        // llama-quantize then aborts inside ggml.
        if (ne0 % type_info(t.dst_type).block_elems != 0)
            fail(file_, t.name, "ncols " + std::to_string(ne0) + " not divisible by " +
                                    std::to_string(type_info(t.dst_type).block_elems) + " (required for type " +
                                    type_name(t.dst_type) + ")");
        if (t.action == TensorAction::Quantize && t.ne.size() > 3 && t.ne[3] > 1)
            fail(file_, t.name, "4-D tensors cannot be quantized (llama-quantize quantizes only the first ne[3] slice)");
        if (t.action == TensorAction::Quantize) t.imatrix = weights;
    }

    // The float conversions and the codecs.
    // Our own limit, checked after all of llama-quantize's checks so that its errors come first.
    void quantizer_check(const TensorPlan& t) const {
        if (params_.dry_run || t.action == TensorAction::Copy || can_produce(t.dst_type)) return;
        std::string supported;
        for (Type q : quantizable_targets()) supported += (supported.empty() ? "" : ", ") + type_name(q);
        fail(file_, t.name, "kquant-cuda cannot quantize to type " + type_name(t.dst_type) + " (supported: " +
                                supported + ")");
    }

    static std::vector<Type> quantizable_targets() {
        std::vector<Type> v{Type::F32, Type::F16, Type::BF16};
        for (Type q : quantizable_types()) v.push_back(q);
        return v;
    }
};

}  // namespace

uint64_t tensor_bytes(Type t, const std::vector<int64_t>& ne) {
    const int64_t ne0 = ne.empty() ? 1 : ne[0];
    uint64_t rows = 1;
    for (size_t i = 1; i < ne.size(); ++i) rows *= static_cast<uint64_t>(ne[i]);
    return rows * row_bytes(t, ne0);
}

QuantPlan plan_quantization(std::span<const gguf::TensorInfo> inputs, const ModelInfo& model,
                            const QuantParams& params, const Imatrix* imatrix, const std::string& file,
                            std::span<const uint16_t> shards) {
    return Planner(model, params, imatrix, file).run(inputs, shards);
}

std::vector<int> parse_prune_layers(const std::string& list) {
    // As llama-quantize splits it: getline on ',' (no token after a trailing comma), the first word of
    // each token read as an integer (stoi: trailing characters ignored).
    std::vector<int> ids;
    std::istringstream in(list);
    for (std::string tok; std::getline(in, tok, ',');) {
        std::string word;
        std::istringstream(tok) >> word;
        int id = -1;
        try {
            id = std::stoi(word);
        } catch (const std::logic_error&) {
        }
        if (id < 0) throw Error("--prune-layers: invalid layer id '" + tok + "'");
        ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
}

std::string fallback_summary(const QuantPlan& plan) {
    if (plan.n_fallback == 0) return {};
    return "WARNING: " + std::to_string(plan.n_fallback) + " of " + std::to_string(plan.n_input_tensors) +
           " tensor(s) required fallback quantization";
}

std::vector<PlannedTensor> to_pipeline_plan(const QuantPlan& plan, std::span<const gguf::TensorInfo> inputs) {
    std::vector<PlannedTensor> out;
    out.reserve(plan.tensors.size());
    for (const TensorPlan& t : plan.tensors) {
        if (t.input_index >= inputs.size() || inputs[t.input_index].name != t.input_name)
            throw Error("internal: tensor '" + t.input_name + "' is not in the input list the plan was made from");
        PlannedTensor p;
        p.src = &inputs[t.input_index];
        p.input = t.input_index;
        p.name = t.name;
        p.dst = t.dst_type;
        p.action = t.action;
        p.qw = t.imatrix ? t.imatrix->data() : nullptr;
        out.push_back(p);
    }
    return out;
}

}  // namespace kquant
