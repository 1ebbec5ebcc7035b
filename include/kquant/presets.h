// llama-quantize's decision logic, as data and small functions: the quantization presets (llama_ftype),
// the per-tensor target-type rules, the output tensor order and metadata, and the --dry-run sizes.
// Behaviour follows docs/llama-quantize-behaviour.md §1.3, §3, §4, §5.2, §5.3, §6.3.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kquant/gguf.h"
#include "kquant/pipeline.h"  // TensorAction, PlannedTensor (the pipeline's view of a plan)
#include "kquant/types.h"

namespace kquant {

struct Imatrix;  // kquant/imatrix.h

// ---- presets -------------------------------------------------------------------------------------

// llama_ftype numbers; they are written to general.file_type.
enum class FType : uint32_t {
    ALL_F32 = 0, MOSTLY_F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 7, Q5_0 = 8, Q5_1 = 9, Q2_K = 10,
    Q3_K_S = 11, Q3_K_M = 12, Q3_K_L = 13, Q4_K_S = 14, Q4_K_M = 15, Q5_K_S = 16, Q5_K_M = 17,
    Q6_K = 18, IQ2_XXS = 19, IQ2_XS = 20, Q2_K_S = 21, IQ3_XS = 22, IQ3_XXS = 23, IQ1_S = 24,
    IQ4_NL = 25, IQ3_S = 26, IQ3_M = 27, IQ2_S = 28, IQ2_M = 29, IQ4_XS = 30, IQ1_M = 31,
    MOSTLY_BF16 = 32, TQ1_0 = 36, TQ2_0 = 37, MXFP4_MOE = 38, NVFP4 = 39, Q1_0 = 40, Q2_0 = 41,
};

// OR-ed into the file type the loader infers when the input has no general.file_type.
inline constexpr uint32_t kFTypeGuessed = 1024;

struct PresetInfo {
    std::string_view name;  // as llama-quantize spells it ("Q4_K_M"; "Q4_K" is an alias listed first)
    FType ftype;
    Type default_type;      // the type most tensors get (F32 for COPY, which converts nothing)
    bool only_copy;         // COPY: every tensor keeps its type and bytes
    std::string_view description = {};  // llama-quantize's size/quality note for it ("2.06 bpw quantization")
};

// llama-quantize's QUANT_OPTIONS: its 39 TYPE choices (COPY included), in its listing order (the order
// that decides which name a number maps to). NVFP4 (ftype 39) is not one of them; the nvfp4 tensor type
// is reachable through --tensor-type only.
std::span<const PresetInfo> presets();

// llama-quantize's TYPE argument: a preset name (case-insensitive) or a number (leading integer, like
// stoi; the first listed preset with that ftype wins). nullptr when it is neither, so that a caller can
// tell an output path from a type.
const PresetInfo* find_preset(std::string_view arg);

// find_preset, or an Error that lists the valid names.
const PresetInfo& parse_preset(std::string_view arg);

// The preset of an ftype number (the first listed one); nullptr if none.
const PresetInfo* preset_for_ftype(uint32_t ftype);

// Every tensor type the preset's rules can choose (default, output, token embedding, per-tensor rules,
// and the shape fallbacks of those), each once. Empty for COPY.
std::vector<Type> preset_target_types(const PresetInfo& p);

// Whether kquant-cuda can produce this preset: COPY, or every type of preset_target_types has a quantizer.
bool preset_supported(const PresetInfo& p);

// Throws an Error naming the preset and listing the supported ones, unless preset_supported(p).
void require_supported(const PresetInfo& p);

// "Q4_0, Q4_1, ..." : the names of all presets (or only the supported ones), in listing order.
std::string preset_names(bool supported_only = false);

// The --list-types table: every preset as llama-quantize's usage lists it (ftype number, name, note),
// each marked by whether this build can produce it. Ends with a newline.
std::string format_quant_options();

// ---- --override-kv -----------------------------------------------------------------------------

struct KvOverride {
    enum class Kind { Int, Float, Bool, Str };
    std::string key;
    Kind kind = Kind::Int;
    int64_t i = 0;
    double f = 0.0;
    bool b = false;
    std::string s;

    // The KV written into the output: int as u32 of |value| (truncated to 32 bits), float as f32,
    // bool, str.
    gguf::KV to_output_kv() const;
};

// Parses KEY=TYPE:VALUE with TYPE int (a whole decimal integer whose absolute value fits in u32, as it
// is stored), float (a whole number, finite values within the f32 range), bool (true/false) or str (at
// most 127 bytes). KEY must be non-empty and shorter than 128 bytes. Where llama.cpp would silently store
// something else (atol/atof read "abc" as 0 and drop trailing junk; a u32 keeps the low bits), this is
// an Error.
KvOverride parse_kv_override(std::string_view arg);

// ---- --tensor-type -----------------------------------------------------------------------------

struct TensorTypeRule {
    std::string pattern;  // lower-cased; an ECMAScript regex searched anywhere in the tensor name
    Type type;
};

// NAME=TYPE, TYPE a ggml type name (case-insensitive). Throws an Error for a malformed entry.
TensorTypeRule parse_tensor_type_rule(std::string_view arg);

// --tensor-type-file: whitespace-separated NAME=TYPE entries.
std::vector<TensorTypeRule> parse_tensor_type_list(std::string_view text, const std::string& file = "");
std::vector<TensorTypeRule> load_tensor_type_file(const std::string& path);

// A ggml type name for --output-tensor-type / --token-embedding-type; throws "invalid ggml_type 'x'".
Type parse_ggml_type(std::string_view name);

// ---- the model ---------------------------------------------------------------------------------

struct ModelInfo {
    std::string arch;         // general.architecture
    uint32_t n_layer = 0;     // <arch>.block_count
    uint32_t n_head = 0;      // <arch>.attention.head_count (layer 0 when per layer)
    uint32_t n_head_kv = 0;   // <arch>.attention.head_count_kv (defaults to n_head)
    uint32_t n_expert = 0;    // <arch>.expert_count
    bool size_class_70b = false;

    // n_head / n_head_kv (integer division), 0 when n_head_kv is 0.
    uint32_t n_gqa() const { return n_head_kv == 0 ? 0 : n_head / n_head_kv; }
};

// The loader's 70B size class: llama with 80 layers, n_head != n_head_kv and n_expert != 8; qwen2 and
// deci with 80 layers.
bool is_70b_size_class(std::string_view arch, uint32_t n_layer, uint32_t n_head, uint32_t n_head_kv,
                       uint32_t n_expert);

// Reads the hparams that type selection uses. Overrides apply like the loader applies them (the first
// override of a key wins; its type must match). Throws for a missing architecture or block count.
ModelInfo model_info_from_kvs(const std::vector<gguf::KV>& kvs, std::span<const KvOverride> overrides = {},
                              const std::string& file = "");

// ---- parameters ----------------------------------------------------------------------------------

struct QuantParams {
    FType ftype = FType::Q8_0;
    bool only_copy = false;                     // COPY
    bool pure = false;                          // --pure
    bool leave_output_tensor = false;           // --leave-output-tensor
    std::optional<Type> output_tensor_type;     // --output-tensor-type
    std::optional<Type> token_embedding_type;   // --token-embedding-type
    std::vector<TensorTypeRule> tensor_types;   // --tensor-type / --tensor-type-file, in order
    bool allow_requantize = false;              // --allow-requantize
    bool dry_run = false;                       // --dry-run: sizes only; some errors become flags
    std::vector<KvOverride> kv_overrides;       // --override-kv, in order
    std::vector<int> prune_layers;              // --prune-layers: sorted, unique, >= 0
    bool keep_split = false;                    // --keep-split: one output per input shard

    void set_preset(const PresetInfo& p) {
        ftype = p.ftype;
        only_copy = p.only_copy;
    }
};

// ---- tensor classification -----------------------------------------------------------------------

enum class TensorCategory {
    TokenEmbd, AttentionQ, AttentionV, AttentionK, AttentionQkv, AttentionKvB, AttentionOutput,
    FfnUp, FfnGate, FfnDown, Output, Other,
};

TensorCategory tensor_category(std::string_view name);
std::string_view category_name(TensorCategory c);

// §3: whether the rules may give this tensor a new type. `arch` (general.architecture) adds that
// architecture's own exclusions (glm5-next).
bool tensor_allows_quantization(std::string_view name, const std::vector<int64_t>& ne, const QuantParams& p,
                                std::string_view arch = {});

// §4.3, with integer division; i is a layer or an attn_v ordinal, n the matching count.
bool use_more_bits(int i, int n);

// The layer number as sscanf("blk.%d.") reads it from the start of a name, or -1.
int block_index(std::string_view name);

// §5.2: the loader's weight order (layer, then byte-wise name).
bool tensor_order_less(std::string_view a, std::string_view b);

// §4.7: the type tried when ne0 is not a multiple of t's block size. A type of at most 32 elements per
// block has no smaller block to go to: it is returned itself (the caller then takes F16, as for a
// fallback that does not fit either). nullopt when llama-quantize has no fallback (q1_0, nvfp4, q8_K):
// an error.
std::optional<Type> fallback_type(Type t);

// §6.3: whether a tensor with this target needs an importance matrix (llama-quantize's check).
bool requires_imatrix(std::string_view name, Type target, FType ftype);

// ---- the plan ------------------------------------------------------------------------------------

struct TensorPlan {
    size_t input_index = 0;        // position in the input tensor list
    std::string input_name;        // the name in the input
    std::string name;              // the output name: input_name, renumbered by --prune-layers
    std::string imatrix_name;      // the name its imatrix entry has (the layer number of the input)
    uint16_t shard = 0;            // the input shard holding it (its output file with --keep-split)
    std::vector<int64_t> ne;       // as in the input
    Type src_type = Type::F32;
    Type dst_type = Type::F32;
    TensorCategory category = TensorCategory::Other;
    TensorAction action = TensorAction::Copy;
    bool allows_quantization = false;
    bool manual = false;           // a --tensor-type pattern chose the type
    bool requires_imatrix = false;
    bool fallback = false;         // the shape fallback replaced the type
    std::string fallback_warning;  // llama-quantize's warning line, without the trailing newline
    const std::vector<float>* imatrix = nullptr;  // ne0*ne2 weights (expert slices), or null
    std::string imatrix_note;      // why a converted tensor has no weights ("did not find weights ...")
    int64_t n_elements = 0;
    uint64_t src_bytes = 0;
    uint64_t dst_bytes = 0;
};

struct QuantPlan {
    std::vector<TensorPlan> tensors;    // output order (§5.2; input order with --keep-split)
    int n_fallback = 0;
    size_t n_input_tensors = 0;         // pruned tensors included (llama-quantize's [i/N] counts them)
    bool will_require_imatrix = false;  // dry run: completing it would need an imatrix
    bool keep_split = false;            // --keep-split: one output per input shard, named by shard
    std::optional<gguf::KV> block_count;  // --prune-layers: <arch>.block_count = the layers kept (u32)
};

// Runs llama-quantize's preliminary pass (types, fallbacks, the imatrix requirement) and the checks of
// its main pass (imatrix lookup and size, requantization, ggml's own aborts), in llama-quantize's order,
// so that the first error is the one llama-quantize would report; then our own limit (a target we
// cannot quantize to). Nothing is written before all of them have passed. With
// params.dry_run, only the preliminary pass's errors are raised. `imatrix` may be null; one with no
// entries counts as none. Errors are kquant::Error with `file` and the tensor name as context.
// `shards` gives each input's shard (gguf::Model::tensor_shards()); empty means one file. Inputs of one
// shard must be in file order (--keep-split keeps it).
QuantPlan plan_quantization(std::span<const gguf::TensorInfo> inputs, const ModelInfo& model,
                            const QuantParams& params, const Imatrix* imatrix = nullptr,
                            const std::string& file = "", std::span<const uint16_t> shards = {});

// --prune-layers (§1.2): "3,1,7" -> {1, 3, 7}. Throws for an id that is not a non-negative integer.
std::vector<int> parse_prune_layers(const std::string& list);

// "WARNING: N of M tensor(s) required fallback quantization", or "" when there was none.
std::string fallback_summary(const QuantPlan& plan);

// The pipeline's plan: `inputs` must be the span the plan was made from (its elements are pointed at).
std::vector<PlannedTensor> to_pipeline_plan(const QuantPlan& plan, std::span<const gguf::TensorInfo> inputs);

// §5.4: the output files. One at `out_path`, unless the plan keeps the split: then output k is
// `<prefix>-%05d-of-%05d.gguf` (k+1, n; even when n is 1), where the prefix is out_path with its last
// five characters cut when ".gguf" occurs in it (llama-quantize's rule). `kvs` is build_output_kvs's
// list; the first output gets it plus the plan's block_count, and with more than one output every
// output gets split.no (u16), split.count (u16) and split.tensors.count (i32), the outputs after the
// first carrying only those.
std::vector<OutputFile> plan_outputs(const QuantPlan& plan, std::span<const gguf::TensorInfo> inputs,
                                     const std::vector<gguf::KV>& kvs, const std::string& out_path);

// §1.1: the output path when it is left out: `<directory of input>/ggml-model-<preset name>.gguf`,
// without the extension when the split is kept (the shard suffix adds it).
std::string default_output_path(const std::string& input, const PresetInfo& preset, bool keep_split);

// ---- output metadata -----------------------------------------------------------------------------

// The file type the loader reports for an input (COPY writes it): general.file_type when present,
// otherwise a guess from the most common tensor type (in output order, first to reach the maximum)
// OR-ed with kFTypeGuessed.
uint32_t input_file_type(const std::vector<gguf::KV>& kvs, std::span<const gguf::TensorInfo> tensors);

// general.file_type for the output: the preset's ftype, or input_file_type for COPY.
uint32_t output_file_type(const QuantParams& p, const std::vector<gguf::KV>& kvs,
                          std::span<const gguf::TensorInfo> tensors);

// §5.3: the input KVs in order (split keys dropped), then general.quantization_version = 2 and
// general.file_type (u32), then each override; setting a key removes an earlier one first.
// `overrides` = the user's --override-kv entries followed by imatrix_kv_overrides().
std::vector<gguf::KV> build_output_kvs(const std::vector<gguf::KV>& input, uint32_t file_type,
                                       std::span<const KvOverride> overrides);

// ---- sizes (--dry-run) ---------------------------------------------------------------------------

// Bytes of a tensor: rows × row size (ne0 must be a multiple of the block size).
uint64_t tensor_bytes(Type t, const std::vector<int64_t>& ne);

struct SizeReport {
    uint64_t meta_bytes = 0;        // header + KVs + tensor infos, padded to 32
    uint64_t data_bytes = 0;        // Σ pad32(tensor bytes)
    uint64_t file_bytes = 0;        // meta_bytes + data_bytes: the output file's size
    uint64_t src_tensor_bytes = 0;  // Σ input tensor bytes ("model size")
    uint64_t dst_tensor_bytes = 0;  // Σ output tensor bytes ("quant size")
    int64_t n_elements = 0;
    double src_bpw() const { return n_elements ? src_tensor_bytes * 8.0 / n_elements : 0.0; }
    double dst_bpw() const { return n_elements ? dst_tensor_bytes * 8.0 / n_elements : 0.0; }
};

// The outputs' layout with alignment 32 (file sizes summed over the outputs), from the plan and its
// output files (plan_outputs).
SizeReport size_report(const QuantPlan& plan, const std::vector<OutputFile>& outputs);

}  // namespace kquant
