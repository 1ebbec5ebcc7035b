// --prune-layers: parsing, llama-quantize's renumbering (in the loader's order, quirks included), the
// new block count, and the imatrix looked up under the input's layer numbers. The CLI end is checked
// on a real file at the bottom.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>

#include "kquant/error.h"
#include "kquant/gguf.h"
#include "kquant/presets.h"
#include "support/preset_models.h"
#include "support/run_cmd.h"

namespace kquant::test {
namespace {

QuantParams pruning(std::vector<int> layers, const char* preset = "Q4_K_M") {
    QuantParams p;
    p.set_preset(parse_preset(preset));
    p.prune_layers = std::move(layers);
    return p;
}

// Output name -> input name of each planned tensor.
std::map<std::string, std::string> renames(const QuantPlan& plan) {
    std::map<std::string, std::string> out;
    for (const TensorPlan& t : plan.tensors) out[t.name] = t.input_name;
    return out;
}

TEST(PruneLayers, ParsesLikeLlamaQuantize) {
    EXPECT_EQ(parse_prune_layers("3,1,3"), (std::vector<int>{1, 3}));
    EXPECT_EQ(parse_prune_layers("2, 5"), (std::vector<int>{2, 5}));
    EXPECT_EQ(parse_prune_layers("1,2,"), (std::vector<int>{1, 2}));  // getline: nothing after the last comma
    EXPECT_EQ(parse_prune_layers("7x"), (std::vector<int>{7}));       // stoi ignores what follows the number
    for (const char* bad : {"a", "-1", "1,,2", ","}) {
        try {
            parse_prune_layers(bad);
            ADD_FAILURE() << bad;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("invalid layer id"), std::string::npos) << e.what();
        }
    }
}

TEST(PruneLayers, RenumbersTheLayersAboveAndSetsTheBlockCount) {
    ModelSpec spec;
    spec.n_layer = 4;
    spec.dim = 256, spec.ffn = 512, spec.vocab = 512, spec.head_dim = 32, spec.n_head = 8, spec.n_head_kv = 2;
    const SyntheticModel m = make_model(spec);
    const QuantPlan none = plan_quantization(m.tensors, m.info(), pruning({}));
    EXPECT_FALSE(none.block_count);

    const QuantPlan plan = plan_quantization(m.tensors, m.info(), pruning({1}));
    const auto names = renames(plan);
    EXPECT_EQ(names.at("blk.0.attn_q.weight"), "blk.0.attn_q.weight");
    EXPECT_EQ(names.at("blk.1.attn_q.weight"), "blk.2.attn_q.weight");
    EXPECT_EQ(names.at("blk.2.ffn_down.weight"), "blk.3.ffn_down.weight");
    EXPECT_FALSE(names.contains("blk.3.attn_q.weight"));
    EXPECT_EQ(plan.n_input_tensors, m.tensors.size());  // llama-quantize's [i/N] counts the pruned ones
    size_t per_layer = 0;
    for (const gguf::TensorInfo& t : m.tensors) per_layer += t.name.rfind("blk.1.", 0) == 0;
    EXPECT_EQ(plan.tensors.size(), m.tensors.size() - per_layer);
    ASSERT_TRUE(plan.block_count);
    EXPECT_EQ(plan.block_count->key, "llama.block_count");
    EXPECT_EQ(plan.block_count->value, gguf::Value::of_u32(3));
    for (const TensorPlan& t : plan.tensors) EXPECT_EQ(t.imatrix_name, t.input_name) << t.name;

    // Layer 0 and the last: everything moves down or goes; an id past the end changes nothing.
    const QuantPlan p02 = plan_quantization(m.tensors, m.info(), pruning({0, 2}));
    EXPECT_EQ(renames(p02).at("blk.0.attn_v.weight"), "blk.1.attn_v.weight");
    EXPECT_EQ(renames(p02).at("blk.1.attn_v.weight"), "blk.3.attn_v.weight");
    EXPECT_EQ(p02.block_count->value, gguf::Value::of_u32(2));
    const QuantPlan p9 = plan_quantization(m.tensors, m.info(), pruning({9}));
    EXPECT_EQ(p9.tensors.size(), m.tensors.size());
    EXPECT_EQ(p9.block_count->value, gguf::Value::of_u32(4));
}

TEST(PruneLayers, TheImatrixIsReadUnderTheInputLayer) {
    ModelSpec spec;
    spec.n_layer = 3;
    spec.dim = 256, spec.ffn = 512, spec.vocab = 512, spec.head_dim = 32, spec.n_head = 8, spec.n_head_kv = 2;
    const SyntheticModel m = make_model(spec);
    const Imatrix im = full_imatrix(m);
    const QuantPlan plan = plan_quantization(m.tensors, m.info(), pruning({0}), &im);
    bool checked = false;
    for (const TensorPlan& t : plan.tensors) {
        if (t.name != "blk.1.ffn_up.weight") continue;
        EXPECT_EQ(t.input_name, "blk.2.ffn_up.weight");
        EXPECT_EQ(t.imatrix_name, "blk.2.ffn_up.weight");
        EXPECT_EQ(t.imatrix, &im.entries.at("blk.2.ffn_up.weight"));
        checked = true;
    }
    EXPECT_TRUE(checked);
}

TEST(PruneLayers, NumbersAreGivenInTheLoadersOrderQuirksIncluded) {
    // llama-quantize renumbers while walking the loader's order, in which names that do not start with
    // "blk." come first, byte-wise sorted ("v.blk.10." before "v.blk.2."), and one layer map serves
    // every "blk.N." anywhere in a name. With layer 0 pruned: v.blk.10 -> 0, v.blk.2 -> 1, then blk.1
    // -> 2, and blk.2 keeps the 1 that v.blk.2 was given.
    std::vector<gguf::TensorInfo> in;
    for (const char* n : {"blk.0.attn_q.weight", "blk.1.attn_q.weight", "blk.2.attn_q.weight",
                          "v.blk.2.attn_q.weight", "v.blk.10.attn_q.weight"}) {
        gguf::TensorInfo t;
        t.name = n;
        t.ne = {256, 256};
        t.type = Type::F16;
        in.push_back(t);
    }
    ModelInfo info;
    info.arch = "llama";
    info.n_layer = 3;
    const QuantPlan plan = plan_quantization(in, info, pruning({0}, "Q8_0"));
    const auto names = renames(plan);
    EXPECT_EQ(names.size(), 4u);
    EXPECT_EQ(names.at("v.blk.0.attn_q.weight"), "v.blk.10.attn_q.weight");
    EXPECT_EQ(names.at("v.blk.1.attn_q.weight"), "v.blk.2.attn_q.weight");
    EXPECT_EQ(names.at("blk.2.attn_q.weight"), "blk.1.attn_q.weight");
    EXPECT_EQ(names.at("blk.1.attn_q.weight"), "blk.2.attn_q.weight");
    EXPECT_EQ(plan.block_count->value, gguf::Value::of_u32(3));
}

TEST(PruneLayersCli, DropsTheLayersAndRenumbersTheFile) {
    const std::string dir = fresh_test_dir(), in = dir + "/m.gguf";
    ASSERT_EQ(run_cmd(synth_path() + " --preset tiny --layers 4 --seed 2 --threads 2 " + in).exit_code, 0);
    const std::string cli = cli_path() + " -q --device cpu --type q4_k --pure ";
    CmdResult r = run_cmd(cli + in + " " + dir + "/full.gguf");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    r = run_cmd(cli + "--prune-layers 1 " + in + " " + dir + "/pruned.gguf");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto full = gguf::Reader::open(dir + "/full.gguf"), pruned = gguf::Reader::open(dir + "/pruned.gguf");
    EXPECT_EQ(pruned->get_u32("llama.block_count"), 3u);
    EXPECT_EQ(full->get_u32("llama.block_count"), 4u);
    size_t moved = 0;
    for (const gguf::TensorInfo& t : pruned->tensors()) {
        std::string src = t.name;
        if (t.name.rfind("blk.1.", 0) == 0) src = "blk.2." + t.name.substr(6);
        if (t.name.rfind("blk.2.", 0) == 0) src = "blk.3." + t.name.substr(6);
        EXPECT_EQ(t.name.rfind("blk.3.", 0), std::string::npos) << t.name;
        const gguf::TensorInfo* f = full->find_tensor(src);
        ASSERT_NE(f, nullptr) << src;
        ASSERT_EQ(f->nbytes, t.nbytes) << t.name;
        EXPECT_EQ(0, std::memcmp(full->tensor_data(*f), pruned->tensor_data(t), t.nbytes)) << t.name << " vs " << src;
        moved += src != t.name;
    }
    EXPECT_GT(moved, 0u);
    EXPECT_LT(pruned->tensors().size(), full->tensors().size());

    r = run_cmd(cli + "--prune-layers x " + in + " " + dir + "/bad.gguf");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.output.find("invalid layer id 'x'"), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir + "/bad.gguf"));
}

}  // namespace
}  // namespace kquant::test
