// Split models (gguf-split's shards): gguf::Model opens every shard from the first one and rejects what
// llama.cpp's loader rejects; the CLI quantizes them merged or, with --keep-split, shard by shard.
// (tests/py/test_gguf_split.py does the same with shards written by llama.cpp's `gguf` package.)
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "kquant/error.h"
#include "kquant/model.h"
#include "support/run_cmd.h"
#include "support/split_files.h"

namespace kquant::test {
namespace {

using gguf::Model;
using gguf::Reader;

std::string synth(const std::string& dir, const std::string& args = "") {
    const std::string path = dir + "/m.gguf";
    const CmdResult r = run_cmd(synth_path() + " --preset tiny --seed 9 --threads 2 " + args + " " + path);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return path;
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
    try {
        f();
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
}

std::vector<uint8_t> bytes_of(const Reader& r, const std::string& name) {
    const gguf::TensorInfo* t = r.find_tensor(name);
    EXPECT_NE(t, nullptr) << name;
    if (!t) return {};
    return std::vector<uint8_t>(r.tensor_data(*t), r.tensor_data(*t) + t->nbytes);
}

TEST(SplitModel, OpensEveryShardFromTheFirst) {
    const std::string dir = fresh_test_dir(), in = synth(dir);
    const auto whole = Reader::open(in);
    const auto paths = write_split(in, dir + "/s", {8, 8, 0});
    const auto m = Model::open(paths[0]);
    ASSERT_EQ(m->shard_count(), 3u);
    ASSERT_EQ(m->tensors().size(), whole->tensors().size());
    for (size_t i = 0; i < m->tensors().size(); ++i) {
        const gguf::TensorInfo& t = m->tensors()[i];
        EXPECT_EQ(t.name, whole->tensors()[i].name);
        EXPECT_EQ(m->tensor_shards()[i], i < 8 ? 0 : i < 16 ? 1 : 2) << t.name;
        EXPECT_EQ(m->file_of(i).path(), paths[m->tensor_shards()[i]]);
        EXPECT_EQ(0, std::memcmp(m->tensor_data(i), whole->tensor_data(whole->tensors()[i]), t.nbytes)) << t.name;
    }
    // The model's metadata is the first shard's: the split keys, then the input's KVs.
    ASSERT_EQ(m->kvs().size(), whole->kvs().size() + 3);
    EXPECT_EQ(m->kvs()[0].key, "split.no");
    EXPECT_TRUE(std::equal(whole->kvs().begin(), whole->kvs().end(), m->kvs().begin() + 3));

    // A file without split keys, or with split.count 1, is one shard.
    EXPECT_EQ(Model::open(in)->shard_count(), 1u);
    const auto one = write_split(in, dir + "/one", {0});
    EXPECT_EQ(Model::open(one[0])->shard_count(), 1u);
    EXPECT_EQ(Model::open(one[0])->tensors().size(), whole->tensors().size());
}

TEST(SplitModel, RejectsWhatTheLoaderRejects) {
    const std::string dir = fresh_test_dir(), in = synth(dir);
    auto paths = write_split(in, dir + "/a", {8, 8, 0});
    expect_error([&] { Model::open(paths[1]); }, {paths[1], "shard 2 of 3", "open the first shard", "00001-of-00003"});

    std::filesystem::remove(paths[2]);
    expect_error([&] { Model::open(paths[0]); }, {dir + "/a-00003-of-00003.gguf"});

    paths = write_split(in, dir + "/b", {8, 8, 0}, [](int k, ShardContent& s) {
        if (k == 1) s.kvs[0].value = value_u16(2);
    });
    expect_error([&] { Model::open(paths[0]); }, {paths[1], "invalid split file index 2, expected 1"});

    paths = write_split(in, dir + "/c", {8, 8, 0}, [](int k, ShardContent& s) {
        if (k == 0) s.kvs[2].value = gguf::Value::of_i32(99);
    });
    expect_error([&] { Model::open(paths[0]); }, {paths[0], "99 tensors expected but 22 found"});

    paths = write_split(in, dir + "/d", {8, 8, 0}, [](int k, ShardContent& s) {
        if (k == 2) s.tensors[0].name = "blk.0.attn_q.weight";  // already in shard 1 or 2
    });
    expect_error([&] { Model::open(paths[0]); }, {paths[2], "blk.0.attn_q.weight", "duplicated"});

    paths = write_split(in, dir + "/e", {8, 8, 0}, [](int k, ShardContent& s) {
        if (k == 0) s.kvs[1].value = gguf::Value::of_u32(3);
    });
    expect_error([&] { Model::open(paths[0]); }, {paths[0], "split.count", "u32, expected u16"});

    paths = write_split(in, dir + "/f", {8, 8, 0});
    std::filesystem::rename(paths[0], dir + "/renamed.gguf");
    expect_error([&] { Model::open(dir + "/renamed.gguf"); }, {"invalid split file name", "-00001-of-00003.gguf"});

    paths = write_split(in, dir + "/g", {8, 8, 0}, [](int k, ShardContent& s) {
        if (k == 2) s.kvs.erase(s.kvs.begin());
    });
    expect_error([&] { Model::open(paths[0]); }, {paths[2], "missing key split.no"});
}

struct Cli {
    CmdResult r;
    std::string dir;
    CmdResult run(const std::string& args) {
        r = run_cmd(cli_path() + " -q --device cpu " + args);
        return r;
    }
};

TEST(SplitCli, MergedOutputEqualsTheUnsplitModel) {
    const std::string dir = fresh_test_dir(), in = synth(dir);
    const auto paths = write_split(in, dir + "/s", {5, 9, 0});
    Cli c;
    ASSERT_EQ(c.run("--type q4_k_m " + in + " " + dir + "/whole.gguf").exit_code, 0) << c.r.output;
    ASSERT_EQ(c.run("--type q4_k_m " + paths[0] + " " + dir + "/merged.gguf").exit_code, 0) << c.r.output;
    // The split keys are dropped; the rest of shard 0's KVs are the input's, in order.
    EXPECT_EQ(read_file(dir + "/whole.gguf"), read_file(dir + "/merged.gguf"));
}

TEST(SplitCli, KeepSplitWritesOneShardPerInputShard) {
    const std::string dir = fresh_test_dir(), in = synth(dir);
    const auto paths = write_split(in, dir + "/s", {5, 9, 0});
    Cli c;
    ASSERT_EQ(c.run("--type q4_k_m " + in + " " + dir + "/whole.gguf").exit_code, 0) << c.r.output;
    ASSERT_EQ(c.run("--type q4_k_m --keep-split " + paths[0] + " " + dir + "/ks.gguf").exit_code, 0) << c.r.output;
    const auto whole = Reader::open(dir + "/whole.gguf");
    const auto ks = Model::open(dir + "/ks-00001-of-00003.gguf");  // checks the split keys and the count
    ASSERT_EQ(ks->shard_count(), 3u);
    for (size_t k = 0; k < 3; ++k) {
        const Reader& out = ks->shard(k);
        const auto src = Reader::open(paths[k]);
        ASSERT_EQ(out.tensors().size(), src->tensors().size()) << k;
        for (size_t i = 0; i < out.tensors().size(); ++i) {
            EXPECT_EQ(out.tensors()[i].name, src->tensors()[i].name) << k;  // input order
            EXPECT_EQ(bytes_of(out, out.tensors()[i].name), bytes_of(*whole, out.tensors()[i].name));
        }
        EXPECT_EQ(out.get_int("split.no"), static_cast<int64_t>(k));
        EXPECT_EQ(out.get_int("split.tensors.count"), static_cast<int64_t>(whole->tensors().size()));
        // Shards after the first carry only the split keys.
        EXPECT_EQ(out.kvs().size() == 3, k > 0) << k;
    }
    // Shard 0: the merged output's KVs, then the split keys.
    const std::vector<gguf::KV>& k0 = ks->shard(0).kvs();
    ASSERT_EQ(k0.size(), whole->kvs().size() + 3);
    EXPECT_TRUE(std::equal(whole->kvs().begin(), whole->kvs().end(), k0.begin()));
    EXPECT_EQ(k0[k0.size() - 3].key, "split.no");
    EXPECT_EQ(k0[k0.size() - 3].value.type, gguf::ValueType::U16);
    EXPECT_EQ(k0.back().key, "split.tensors.count");
    EXPECT_EQ(k0.back().value.type, gguf::ValueType::I32);
}

// `shard` is the --keep-split output of the one-file model `in`; `merged` the same quantization without it.
void expect_one_shard_of(const std::string& shard, const std::string& in, const std::string& merged) {
    const auto out = Reader::open(shard), src = Reader::open(in), plain = Reader::open(merged);
    EXPECT_EQ(out->kvs(), plain->kvs());
    ASSERT_EQ(out->tensors().size(), src->tensors().size());
    for (size_t i = 0; i < src->tensors().size(); ++i) {
        const std::string& name = src->tensors()[i].name;
        EXPECT_EQ(out->tensors()[i].name, name);
        EXPECT_EQ(bytes_of(*out, name), bytes_of(*plain, name)) << name;
    }
    // The merged file has the loader's order, which is not the input's here (so the order is checked).
    bool same_order = true;
    for (size_t i = 0; i < src->tensors().size(); ++i) same_order &= plain->tensors()[i].name == src->tensors()[i].name;
    EXPECT_FALSE(same_order);
}

TEST(SplitCli, KeepSplitOfOneFileNamesOneShard) {
    const std::string dir = fresh_test_dir(), in = synth(dir);
    Cli c;
    ASSERT_EQ(c.run("--type q8_0 " + in + " " + dir + "/plain.gguf").exit_code, 0) << c.r.output;
    ASSERT_EQ(c.run("--type q8_0 --keep-split " + in + " " + dir + "/one.gguf").exit_code, 0) << c.r.output;
    // llama-quantize's naming even for one shard, no split keys, and the input's tensor order.
    EXPECT_FALSE(std::filesystem::exists(dir + "/one.gguf"));
    expect_one_shard_of(dir + "/one-00001-of-00001.gguf", in, dir + "/plain.gguf");
}

TEST(SplitCli, AFailureInALaterShardLeavesNoShard) {
    const std::string dir = fresh_test_dir(), in = synth(dir);
    const auto paths = write_split(in, dir + "/s", {5, 9, 0}, [](int k, ShardContent& s) {
        if (k != 2) return;
        for (GgufBuilder::Tensor& t : s.tensors)
            if (t.name == "blk.1.ffn_up.weight") {
                ASSERT_EQ(t.type, Type::F16);
                t.data[2 * 300] = 0x00, t.data[2 * 300 + 1] = 0x7e;  // f16 NaN at element 300 (row 1, column 44)
            }
    });
    Cli c;
    c.run("--type q4_k_m --keep-split " + paths[0] + " " + dir + "/ks.gguf");
    EXPECT_EQ(c.r.exit_code, 1) << c.r.output;
    EXPECT_NE(c.r.output.find("blk.1.ffn_up.weight"), std::string::npos) << c.r.output;
    EXPECT_NE(c.r.output.find(paths[2]), std::string::npos) << c.r.output;  // the shard that holds it
    EXPECT_NE(c.r.output.find("row 1, column 44"), std::string::npos) << c.r.output;
    for (const std::string& f : list_dir(dir))
        EXPECT_EQ(f.find("ks"), std::string::npos) << "left behind: " << f;
}

TEST(SplitCli, DefaultOutputNameFollowsThePreset) {
    const std::string dir = fresh_test_dir(), in = synth(dir);
    Cli c;
    ASSERT_EQ(c.run("--type q8_0 " + in + " " + dir + "/named.gguf").exit_code, 0) << c.r.output;
    ASSERT_EQ(c.run("--type 7 " + in).exit_code, 0) << c.r.output;  // ftype 7 is Q8_0
    EXPECT_EQ(read_file(dir + "/ggml-model-Q8_0.gguf"), read_file(dir + "/named.gguf"));
    ASSERT_EQ(c.run("--type q4_k_m " + in).exit_code, 0) << c.r.output;
    EXPECT_TRUE(std::filesystem::exists(dir + "/ggml-model-Q4_K_M.gguf"));
    ASSERT_EQ(c.run("--type q8_0 --keep-split " + in).exit_code, 0) << c.r.output;
    expect_one_shard_of(dir + "/ggml-model-Q8_0-00001-of-00001.gguf", in, dir + "/named.gguf");
}

}  // namespace
}  // namespace kquant::test
