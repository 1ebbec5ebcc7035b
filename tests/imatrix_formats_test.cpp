// Importance matrices in both formats (§7.2, §7.3), written by the test writers and read back, plus
// filtering and per-tensor lookup (§6.4).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kquant/error.h"
#include "kquant/imatrix.h"
#include "support/gguf_builder.h"
#include "support/imatrix_files.h"

namespace kquant {
namespace {

using test::ImatrixGgufEntry;
using test::ImatrixLegacyEntry;

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

std::string write(const std::string& dir, const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string path = dir + "/" + name;
    test::write_file(path, bytes);
    return path;
}

TEST(ImatrixGguf, ValuesAreSumsOverCountsPerExpert) {
    const std::string dir = test::fresh_test_dir("imatrix_gguf");
    ImatrixGgufEntry dense{"blk.0.attn_q.weight", 4, {3.0f, 1.5f, 0.3f, 7.0f}, {3.0f}, std::nullopt};
    // Three experts: counts 2, 0 (no rows: weights 1) and 5.4 (rounded to 5); in_sum is optional.
    ImatrixGgufEntry moe{"blk.0.ffn_up_exps.weight", 2, {1.0f, 2.0f, 8.0f, 9.0f, 0.7f, 11.0f}, {2.0f, 0.0f, 5.4f},
                         std::vector<float>{1, 1, 1, 1, 1, 1}};
    ImatrixGgufEntry half{"blk.1.attn_k.weight", 2, {5.0f, 6.0f}, {2.5f}, std::nullopt};  // lround: 3
    test::ImatrixGgufMeta meta;
    meta.datasets = {"wiki.train.raw", "code.txt"};
    meta.chunk_count = 125;
    meta.chunk_size = 512;
    const std::string path = write(dir, "im.gguf", test::imatrix_gguf_builder({dense, moe, half}, meta).build().bytes);

    const Imatrix im = load_imatrix(path);
    EXPECT_EQ(im.path, path);
    EXPECT_FALSE(im.legacy);
    EXPECT_EQ(im.entry_count(), 3u);
    EXPECT_EQ(im.datasets, (std::vector<std::string>{"wiki.train.raw", "code.txt"}));
    EXPECT_EQ(im.chunk_count, 125);
    EXPECT_EQ(im.chunk_size, 512u);
    EXPECT_EQ(im.entries.at("blk.0.attn_q.weight"),
              (std::vector<float>{3.0f / 3.0f, 1.5f / 3.0f, 0.3f / 3.0f, 7.0f / 3.0f}));
    EXPECT_EQ(im.entries.at("blk.0.ffn_up_exps.weight"),
              (std::vector<float>{1.0f / 2.0f, 2.0f / 2.0f, 1.0f, 1.0f, 0.7f / 5.0f, 11.0f / 5.0f}));
    EXPECT_EQ(im.entries.at("blk.1.attn_k.weight"), (std::vector<float>{5.0f / 3.0f, 6.0f / 3.0f}));

    // Expert slices: ne0 = 2, ne2 = 3.
    const std::vector<float>* w = imatrix_lookup(im, "blk.0.ffn_up_exps.weight", 2, 3);
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w, &im.entries.at("blk.0.ffn_up_exps.weight"));
}

TEST(ImatrixLegacy, ValuesAreDividedByNcall) {
    const std::string dir = test::fresh_test_dir("imatrix_legacy");
    const std::vector<ImatrixLegacyEntry> entries = {
        {"blk.0.attn_q.weight", 4, {4.0f, 2.0f, 0.7f}},
        {"blk.0.ffn_down.weight", 0, {0.5f, 3.0f}},  // ncall 0: used as stored
        {"blk.1.attn_v.weight", 3, {1.0f, 10.0f}},
    };
    const std::string path = write(dir, "im.dat", test::imatrix_legacy_bytes(entries, 42, std::string("wiki")));
    const Imatrix im = load_imatrix(path);
    EXPECT_TRUE(im.legacy);
    EXPECT_EQ(im.entry_count(), 3u);
    EXPECT_EQ(im.entries.at("blk.0.attn_q.weight"), (std::vector<float>{4.0f / 4.0f, 2.0f / 4.0f, 0.7f / 4.0f}));
    EXPECT_EQ(im.entries.at("blk.0.ffn_down.weight"), (std::vector<float>{0.5f, 3.0f}));
    EXPECT_EQ(im.entries.at("blk.1.attn_v.weight"), (std::vector<float>{1.0f / 3.0f, 10.0f / 3.0f}));
    EXPECT_EQ(im.chunk_count, 42);
    EXPECT_EQ(im.datasets, std::vector<std::string>{"wiki"});
    EXPECT_EQ(im.chunk_size, 0u);
}

TEST(ImatrixLegacy, TrailerIsOptional) {
    const std::vector<ImatrixLegacyEntry> entries = {{"a.weight", 2, {2.0f}}};
    const std::vector<uint8_t> none = test::imatrix_legacy_bytes(entries);
    Imatrix im = parse_imatrix_legacy(none, "x.dat");
    EXPECT_EQ(im.chunk_count, 0);
    EXPECT_TRUE(im.datasets.empty());
    EXPECT_EQ(im.entries.at("a.weight"), std::vector<float>{1.0f});

    im = parse_imatrix_legacy(test::imatrix_legacy_bytes(entries, 7), "x.dat");
    EXPECT_EQ(im.chunk_count, 7);
    EXPECT_TRUE(im.datasets.empty());

    std::vector<uint8_t> zero_len = test::imatrix_legacy_bytes(entries, 7, std::string());
    im = parse_imatrix_legacy(zero_len, "x.dat");
    EXPECT_TRUE(im.datasets.empty());
}

TEST(ImatrixFilter, IncludeAndExclude) {
    Imatrix base;
    for (const char* n : {"blk.0.attn_q.weight", "blk.0.ffn_down.weight", "blk.1.attn_q.weight", "output.weight"})
        base.entries[n] = {1.0f};
    const std::vector<std::string> none;
    Imatrix a = base;
    filter_imatrix(a, std::vector<std::string>{"attn_q", "output"}, none);
    EXPECT_EQ(a.entry_count(), 3u);
    EXPECT_FALSE(a.entries.count("blk.0.ffn_down.weight"));
    Imatrix b = base;
    filter_imatrix(b, none, std::vector<std::string>{"blk.0."});
    EXPECT_EQ(b.entry_count(), 2u);
    EXPECT_TRUE(b.entries.count("blk.1.attn_q.weight"));
    EXPECT_TRUE(b.entries.count("output.weight"));
    Imatrix c = base;
    filter_imatrix(c, std::vector<std::string>{"nothing"}, none);
    EXPECT_TRUE(c.empty());
    expect_error([&] { filter_imatrix(c, std::vector<std::string>{"a"}, std::vector<std::string>{"b"}); },
                 {"cannot be used together"});
}

TEST(ImatrixLookup, SizeRule) {
    Imatrix im;
    im.path = "w.gguf";
    im.entries["blk.0.attn_q.weight"] = std::vector<float>(8, 1.0f);
    im.entries["blk.0.ffn_up_exps.weight"] = std::vector<float>(8 * 4, 1.0f);
    im.entries["token_embd.weight"] = std::vector<float>(3, 1.0f);
    im.entries["per_layer_token_embd.weight"] = std::vector<float>(3, 1.0f);
    std::string note;
    EXPECT_NE(imatrix_lookup(im, "blk.0.attn_q.weight", 8, 1, &note), nullptr);
    EXPECT_NE(imatrix_lookup(im, "blk.0.ffn_up_exps.weight", 8, 4, &note), nullptr);
    EXPECT_EQ(imatrix_lookup(im, "blk.9.attn_q.weight", 8, 1, &note), nullptr);
    EXPECT_EQ(note, "did not find weights for blk.9.attn_q.weight");
    EXPECT_EQ(imatrix_lookup(im, "token_embd.weight", 8, 1, &note), nullptr);
    EXPECT_EQ(note, "imatrix size 3 is different from tensor size 8 for token_embd.weight");
    EXPECT_EQ(imatrix_lookup(im, "per_layer_token_embd.weight", 8, 1, &note), nullptr);
    expect_error([&] { imatrix_lookup(im, "blk.0.attn_q.weight", 16, 1); },
                 {"w.gguf", "imatrix size 8 is different from tensor size 16 for blk.0.attn_q.weight"});
    // ne2 counts: one slice per expert.
    expect_error([&] { imatrix_lookup(im, "blk.0.ffn_up_exps.weight", 8, 8); }, {"tensor size 64"});
}

TEST(ImatrixLookup, NonFiniteValuesAreRejected) {
    Imatrix im;
    im.path = "w.dat";
    im.entries["a.weight"] = {1.0f, 2.0f};
    EXPECT_NO_THROW(check_imatrix_finite(im));
    im.entries["b.weight"] = {1.0f, std::numeric_limits<float>::quiet_NaN()};
    expect_error([&] { check_imatrix_finite(im); }, {"w.dat", "b.weight", "imatrix contains non-finite value nan", "index 1"});

    // From a file: an infinite in_sum2 gives an infinite weight.
    const std::vector<uint8_t> bytes = test::imatrix_legacy_bytes({{"c.weight", 1, {std::numeric_limits<float>::infinity()}}});
    const Imatrix fromfile = parse_imatrix_legacy(bytes, "c.dat");
    expect_error([&] { check_imatrix_finite(fromfile); }, {"c.weight", "non-finite value inf"});
}

TEST(ImatrixLoad, FormatIsChosenByMagic) {
    const std::string dir = test::fresh_test_dir("imatrix_magic");
    // A legacy file whose first bytes are not "GGUF" is read as legacy even when named .gguf.
    const std::string legacy = write(dir, "legacy.gguf", test::imatrix_legacy_bytes({{"a.weight", 1, {2.0f}}}));
    EXPECT_TRUE(load_imatrix(legacy).legacy);
    expect_error([&] { load_imatrix(dir + "/missing.dat"); }, {"missing.dat", "cannot open"});
}

}  // namespace
}  // namespace kquant
