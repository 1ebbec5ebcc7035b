// Output metadata (§5.3), --override-kv parsing (§1.2), hparams from KVs (§2, §4.4 E), the file type
// COPY writes, and the --dry-run sizes (§5.1).
#include <gtest/gtest.h>

#include "kquant/error.h"
#include "kquant/imatrix.h"
#include "kquant/presets.h"
#include "support/gguf_builder.h"
#include "support/preset_models.h"

namespace kquant {
namespace {

using gguf::KV;
using gguf::Value;

std::vector<std::string> keys(const std::vector<KV>& kvs) {
    std::vector<std::string> k;
    for (const KV& kv : kvs) k.push_back(kv.key);
    return k;
}

const Value& value(const std::vector<KV>& kvs, const std::string& key) {
    for (const KV& kv : kvs)
        if (kv.key == key) return kv.value;
    throw std::out_of_range(key);
}

template <class F>
void expect_error(F&& f, std::initializer_list<std::string> parts) {
    try {
        f();
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        const std::string msg = e.what();
        for (const std::string& s : parts) EXPECT_NE(msg.find(s), std::string::npos) << "'" << s << "' not in: " << msg;
    }
}

TEST(PresetMetadata, OutputKvOrder) {
    const std::vector<KV> in = {
        {"general.architecture", Value::of_string("llama")},
        {"general.file_type", Value::of_u32(1)},
        {"split.no", test::value_u16(0)},
        {"llama.block_count", Value::of_u32(32)},
        {"general.quantization_version", Value::of_u32(1)},
        {"split.count", test::value_u16(2)},
        {"tokenizer.ggml.model", Value::of_string("gpt2")},
        {"split.tensors.count", Value::of_i32(10)},
    };
    std::vector<KvOverride> ov = {parse_kv_override("llama.block_count=int:-30"),
                                  parse_kv_override("tokenizer.ggml.model=str:llama"),
                                  parse_kv_override("x.f=float:0.1"), parse_kv_override("x.b=bool:true")};
    Imatrix im;
    im.entries["a"] = {1.0f};
    im.entries["b"] = {1.0f};
    im.datasets = {"d1", "d2"};
    im.chunk_count = 10;
    for (const KvOverride& o : imatrix_kv_overrides(im, "im.gguf")) ov.push_back(o);

    const std::vector<KV> out = build_output_kvs(in, 15, ov);
    const std::vector<std::string> want = {
        "general.architecture",          "general.quantization_version", "general.file_type",
        "llama.block_count",             "tokenizer.ggml.model",         "x.f",
        "x.b",                           "quantize.imatrix.file",        "quantize.imatrix.dataset",
        "quantize.imatrix.entries_count", "quantize.imatrix.chunks_count"};
    EXPECT_EQ(keys(out), want);
    EXPECT_EQ(value(out, "general.quantization_version"), Value::of_u32(2));
    EXPECT_EQ(value(out, "general.file_type"), Value::of_u32(15));
    EXPECT_EQ(value(out, "llama.block_count"), Value::of_u32(30));  // int -> u32 of |v|
    EXPECT_EQ(value(out, "tokenizer.ggml.model"), Value::of_string("llama"));
    EXPECT_EQ(value(out, "x.f"), Value::of_f32(0.1f));
    EXPECT_EQ(value(out, "x.b"), Value::of_bool(true));
    EXPECT_EQ(value(out, "quantize.imatrix.file"), Value::of_string("im.gguf"));
    EXPECT_EQ(value(out, "quantize.imatrix.dataset"), Value::of_string("d1"));
    EXPECT_EQ(value(out, "quantize.imatrix.entries_count"), Value::of_u32(2));
    EXPECT_EQ(value(out, "quantize.imatrix.chunks_count"), Value::of_u32(10));
}

TEST(PresetMetadata, ImatrixKeysOnlyWhenPresent) {
    Imatrix im;
    EXPECT_TRUE(imatrix_kv_overrides(im, "x.dat").empty());  // no entries left: nothing recorded
    im.entries["a"] = {1.0f};
    const std::string long_path(200, 'p');
    const std::vector<KvOverride> o = imatrix_kv_overrides(im, long_path);
    ASSERT_EQ(o.size(), 2u);  // no dataset, chunk count 0
    EXPECT_EQ(o[0].key, "quantize.imatrix.file");
    EXPECT_EQ(o[0].s, std::string(127, 'p'));
    EXPECT_EQ(o[1].key, "quantize.imatrix.entries_count");
    EXPECT_EQ(o[1].to_output_kv().value, Value::of_u32(1));
    im.datasets = {std::string(300, 'd')};
    im.chunk_count = -3;  // a legacy trailer can hold anything; only > 0 is written
    const std::vector<KvOverride> o2 = imatrix_kv_overrides(im, "x");
    ASSERT_EQ(o2.size(), 3u);
    EXPECT_EQ(o2[1].s, std::string(127, 'd'));
}

TEST(PresetMetadata, OverrideParsing) {
    KvOverride o = parse_kv_override("a.b=int:-5");
    EXPECT_EQ(o.key, "a.b");
    EXPECT_EQ(o.kind, KvOverride::Kind::Int);
    EXPECT_EQ(o.i, -5);
    EXPECT_EQ(o.to_output_kv().value, Value::of_u32(5));
    // What llama.cpp would store as something else than typed (atol's 12 and 0, a truncated u32, f32
    // infinity) is an error (issue 12); tests/faults_overrides_test.cpp has the cases.
    expect_error([] { parse_kv_override("k=int:12abc"); }, {"is not an integer"});
    expect_error([] { parse_kv_override("k=int:4294967301"); }, {"out of range"});
    EXPECT_EQ(parse_kv_override("k=int:-4294967295").to_output_kv().value, Value::of_u32(4294967295u));
    EXPECT_EQ(parse_kv_override("k=float:2.5").to_output_kv().value, Value::of_f32(2.5f));
    expect_error([] { parse_kv_override("k=float:1e40"); }, {"f32 range"});
    EXPECT_EQ(parse_kv_override("k=bool:false").to_output_kv().value, Value::of_bool(false));
    EXPECT_EQ(parse_kv_override("k=str:").to_output_kv().value, Value::of_string(""));
    EXPECT_EQ(parse_kv_override("k=str:a=b:c").s, "a=b:c");
    EXPECT_EQ(parse_kv_override("k=str:" + std::string(127, 'x')).s.size(), 127u);
    expect_error([] { parse_kv_override("k=str:" + std::string(128, 'x')); }, {"cannot exceed 127"});
    EXPECT_EQ(parse_kv_override(std::string(127, 'k') + "=int:1").key.size(), 127u);
    expect_error([] { parse_kv_override(std::string(128, 'k') + "=int:1"); }, {"shorter than 128"});
    expect_error([] { parse_kv_override("k=bool:yes"); }, {"invalid boolean value 'yes'"});
    expect_error([] { parse_kv_override("k=u32:1"); }, {"invalid type"});
    expect_error([] { parse_kv_override("k"); }, {"KEY=TYPE:VALUE"});
    expect_error([] { parse_kv_override("=int:1"); }, {"empty key"});
}

TEST(PresetMetadata, ModelInfoFromKvs) {
    std::vector<KV> kvs = {
        {"general.architecture", Value::of_string("llama")},
        {"llama.block_count", Value::of_u32(80)},
        {"llama.attention.head_count",
         Value::of_array(gguf::ValueType::U32, {Value::of_u32(64), Value::of_u32(32)})},
        {"llama.attention.head_count_kv", Value::of_u32(8)},
    };
    ModelInfo m = model_info_from_kvs(kvs);
    EXPECT_EQ(m.arch, "llama");
    EXPECT_EQ(m.n_layer, 80u);
    EXPECT_EQ(m.n_head, 64u);  // layer 0 of the per-layer array
    EXPECT_EQ(m.n_head_kv, 8u);
    EXPECT_EQ(m.n_gqa(), 8u);
    EXPECT_EQ(m.n_expert, 0u);
    EXPECT_TRUE(m.size_class_70b);

    // The first override of a key is the one the loader uses.
    const std::vector<KvOverride> ov = {parse_kv_override("llama.block_count=int:40"),
                                        parse_kv_override("llama.block_count=int:80"),
                                        parse_kv_override("llama.expert_count=int:8")};
    m = model_info_from_kvs(kvs, ov);
    EXPECT_EQ(m.n_layer, 40u);
    EXPECT_EQ(m.n_expert, 8u);
    EXPECT_FALSE(m.size_class_70b);

    kvs.pop_back();  // no head_count_kv: it defaults to head_count
    m = model_info_from_kvs(kvs);
    EXPECT_EQ(m.n_head_kv, 64u);
    EXPECT_EQ(m.n_gqa(), 1u);
    EXPECT_FALSE(m.size_class_70b);  // llama 80 layers with n_head == n_head_kv is the 65B class

    expect_error([&] { model_info_from_kvs(kvs, std::vector<KvOverride>{parse_kv_override("llama.block_count=str:x")}, "m.gguf"); },
                 {"m.gguf", "bad metadata override type for key 'llama.block_count'"});
    expect_error([] { model_info_from_kvs({{"general.architecture", Value::of_string("llama")}}); },
                 {"llama.block_count"});
    expect_error([] { model_info_from_kvs({}); }, {"general.architecture"});

    EXPECT_TRUE(is_70b_size_class("qwen2", 80, 64, 64, 0));
    EXPECT_TRUE(is_70b_size_class("deci", 80, 64, 8, 0));
    EXPECT_FALSE(is_70b_size_class("llama", 80, 64, 8, 8));
    EXPECT_FALSE(is_70b_size_class("llama", 79, 64, 8, 0));
    EXPECT_FALSE(is_70b_size_class("mistral", 80, 64, 8, 0));
}

TEST(PresetMetadata, FileTypeForCopy) {
    const test::SyntheticModel m = test::make_model(test::odd_ffn_spec());  // has general.file_type = 1
    QuantParams copy;
    copy.set_preset(parse_preset("COPY"));
    EXPECT_EQ(output_file_type(copy, m.kvs, m.tensors), 1u);
    QuantParams q;
    q.set_preset(parse_preset("Q5_K"));
    EXPECT_EQ(output_file_type(q, m.kvs, m.tensors), 17u);

    // Without the key the loader guesses from the most common type, marked with 1024.
    std::vector<KV> no_ftype;
    for (const KV& kv : m.kvs)
        if (kv.key != "general.file_type") no_ftype.push_back(kv);
    EXPECT_EQ(output_file_type(copy, no_ftype, m.tensors), 1u | 1024u);
    auto infos = [](std::vector<std::pair<std::string, Type>> v) {
        std::vector<gguf::TensorInfo> r;
        for (auto& [n, t] : v) {
            gguf::TensorInfo i;
            i.name = n;
            i.ne = {32};
            i.type = t;
            r.push_back(i);
        }
        return r;
    };
    // A tie goes to the type that reached the count first, in the loader's order.
    EXPECT_EQ(input_file_type({}, infos({{"b", Type::F32}, {"a", Type::F16}})), 1u | 1024u);
    EXPECT_EQ(input_file_type({}, infos({{"b", Type::F16}, {"a", Type::F32}})), 0u | 1024u);
    EXPECT_EQ(input_file_type({}, infos({{"a", Type::Q4_K}, {"b", Type::Q4_K}, {"c", Type::Q6_K}})), 15u | 1024u);
    EXPECT_EQ(input_file_type({}, infos({{"a", Type::Q3_K}})), 12u | 1024u);
    EXPECT_EQ(input_file_type({}, infos({{"a", Type::I32}})), 0u | 1024u);
    expect_error([&] { input_file_type({{"general.file_type", Value::of_i32(1)}}, {}); }, {"general.file_type"});
}

TEST(PresetMetadata, DryRunSizes) {
    std::vector<gguf::TensorInfo> in(3);
    in[0].name = "blk.0.ffn_up.weight";
    in[0].ne = {256, 3};
    in[0].type = Type::F16;
    in[1].name = "output_norm.weight";
    in[1].ne = {256};
    in[1].type = Type::F32;
    in[2].name = "blk.0.x.weight";
    in[2].ne = {256, 1};  // written with n_dims 1
    in[2].type = Type::F32;
    ModelInfo m;
    m.arch = "llama";
    m.n_layer = 1;
    QuantParams p;
    p.set_preset(parse_preset("Q4_K_M"));
    p.dry_run = true;
    const QuantPlan plan = plan_quantization(in, m, p);
    const std::vector<KV> kvs = build_output_kvs({{"a", Value::of_u32(7)}}, 15, {});
    const SizeReport r = size_report(plan, plan_outputs(plan, in, kvs, "out.gguf"));
    // Header 24; KVs: "a" 8+1+4+4 = 17, general.quantization_version 8+28+4+4 = 44, general.file_type
    // 8+17+4+4 = 33; infos: output_norm.weight 8+18+4+8+4+8 = 50, blk.0.ffn_up.weight 8+19+4+16+4+8 = 59,
    // blk.0.x.weight 8+14+4+8+4+8 = 46. 24+94+155 = 273 -> 288.
    EXPECT_EQ(r.meta_bytes, 288u);
    // Data: 1024 (f32 norm) + pad32(3 rows * 144) = 448 + 1024.
    EXPECT_EQ(r.data_bytes, 2496u);
    EXPECT_EQ(r.file_bytes, 2784u);
    EXPECT_EQ(r.src_tensor_bytes, 1024u + 1536u + 1024u);
    EXPECT_EQ(r.dst_tensor_bytes, 1024u + 432u + 1024u);
    EXPECT_EQ(r.n_elements, 1280);
    EXPECT_DOUBLE_EQ(r.src_bpw(), 3584.0 * 8 / 1280);
    EXPECT_DOUBLE_EQ(r.dst_bpw(), 2480.0 * 8 / 1280);

    // The project's writer lays the same file out to the same size.
    const std::string dir = test::fresh_test_dir("preset_sizes");
    std::vector<gguf::Writer::TensorSpec> specs;
    for (const TensorPlan& t : plan.tensors)
        specs.push_back({t.name, std::vector<int64_t>(t.ne.begin(), t.ne.begin() + gguf::n_dims(t.ne)), t.dst_type});
    gguf::Writer w(dir + "/out.gguf", kvs, specs, 32);
    EXPECT_EQ(w.total_size(), r.file_bytes);
}

}  // namespace
}  // namespace kquant
