// Issue 12, crashes: inputs that crashed the tool (n_dims 0, a zero-sized dimension, a deeply nested
// --tensor-type pattern, misaligned tensor data) are handled or refused with a message.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <regex>

#include "kquant/error.h"
#include "kquant/gguf.h"
#include "kquant/presets.h"
#include "kquant/quantize.h"
#include "support/fault_models.h"

namespace kquant::test {
namespace {

// Item 1: a tensor stored with n_dims 0 (ggml reads it as a one-element scalar) made --dry-run and the
// real run read past an empty shape. Both succeed now, and the output holds it as [1], as ggml writes it.
TEST(FaultsCrash, TensorWithNoDimensionsIsAScalar) {
    const std::string dir = fresh_test_dir("ndims0");
    GgufBuilder b = llama_builder();
    b.tensor("blk.0.attn_q.weight", {64, 4}, Type::F32, f32_wave(256));
    b.tensor("rope_scale.weight", {}, Type::F32, f32_wave(1));
    const std::string in = write_image(dir + "/in.gguf", b.build());
    const std::string out = dir + "/out.gguf";

    const CmdResult dry = run_cmd(kq() + " --dry-run --type q8_0 " + in + " " + out);
    ASSERT_EQ(dry.exit_code, 0) << dry.output;
    const size_t at = dry.output.find("file size = ");
    ASSERT_NE(at, std::string::npos) << dry.output;

    const CmdResult r = run_cmd(kq() + " --type q8_0 " + in + " " + out);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto q = gguf::Reader::open(out);
    const gguf::TensorInfo* t = q->find_tensor("rope_scale.weight");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->ne, std::vector<int64_t>{1});
    EXPECT_EQ(std::memcmp(q->tensor_data(*t), f32_wave(1).data(), 4), 0);
    EXPECT_EQ(std::stoull(dry.output.substr(at + 12)), q->file_size());
}

// Item 2: ne0 = 0 divided by zero (TensorInfo::nrows, the backend's chunking) and left the temporary
// file behind. A zero-sized tensor is now written as the empty tensor it is, with and without
// --keep-split, and nothing else is left.
TEST(FaultsCrash, ZeroSizedDimensionsAreHandled) {
    gguf::TensorInfo t;
    t.ne = {0, 8};
    EXPECT_EQ(t.nrows(), 8);
    EXPECT_EQ(t.nelements(), 0);
    t.ne = {};
    EXPECT_EQ(t.nrows(), 1);

    for (const char* extra : {"", " --keep-split"}) {
        const std::string dir = fresh_test_dir(extra[0] ? "split" : "single");
        GgufBuilder b = llama_builder();
        b.tensor("blk.0.attn_q.weight", {0, 8}, Type::F32, std::vector<uint8_t>{});
        b.tensor("blk.0.attn_k.weight", {256, 0}, Type::F32, std::vector<uint8_t>{});
        b.tensor("blk.0.attn_v.weight", {256, 2}, Type::F32, f32_wave(512));
        const std::string in = write_image(dir + "/in.gguf", b.build());
        const CmdResult r = run_cmd(kq() + extra + " --verify --type q4_k_m " + in + " " + dir + "/out.gguf");
        ASSERT_EQ(r.exit_code, 0) << r.output;
        EXPECT_EQ(r.term_signal, 0);
        EXPECT_FALSE(dir_has(dir, "kquant-tmp")) << r.output;
        const std::string out = extra[0] ? dir + "/out-00001-of-00001.gguf" : dir + "/out.gguf";
        const auto q = gguf::Reader::open(out);
        ASSERT_NE(q->find_tensor("blk.0.attn_q.weight"), nullptr);
        EXPECT_EQ(q->find_tensor("blk.0.attn_q.weight")->nbytes, 0u);
        EXPECT_EQ(q->find_tensor("blk.0.attn_k.weight")->nbytes, 0u);
    }
}

// Item 3: std::regex recurses; a pattern of 20 000 nested groups overflowed the stack. Patterns are
// bounded (length, nesting, repeat counts) with a clear error before they are compiled.
TEST(FaultsCrash, DeeplyNestedTensorTypePatternIsRefused) {
    const std::string dir = fresh_test_dir("regex");
    GgufBuilder b = llama_builder();
    b.tensor("blk.0.attn_q.weight", {64, 4}, Type::F32, f32_wave(256));
    const std::string in = write_image(dir + "/in.gguf", b.build());
    const std::string deep = std::string(20000, '(') + "a" + std::string(20000, ')');
    const CmdResult r = run_cmd(kq() + " --type q8_0 --tensor-type '" + deep + "=q4_0' " + in + " " + dir + "/o.gguf");
    EXPECT_EQ(r.term_signal, 0) << "crashed";
    EXPECT_EQ(r.exit_code, 1) << r.output.substr(0, 300);
    EXPECT_NE(r.output.find("refused"), std::string::npos) << r.output.substr(0, 300);
    EXPECT_LT(r.output.size(), 2000u) << "the pattern was echoed whole";
    EXPECT_EQ(list_dir(dir), std::vector<std::string>{"in.gguf"});

    auto message = [](const std::string& arg) {
        try {
            parse_tensor_type_rule(arg);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    EXPECT_NE(message(std::string(600, 'a') + "=q8_0").find("at most 512"), std::string::npos);
    EXPECT_NE(message(std::string(17, '(') + "a" + std::string(17, ')') + "=q8_0").find("nested more than 16 deep"),
              std::string::npos);
    EXPECT_NE(message("a{65}=q8_0").find("repeat count above 64"), std::string::npos);
    EXPECT_NE(message("(a){1,100000}=q8_0").find("repeat count above 64"), std::string::npos);
    EXPECT_EQ(message("blk\\.(1[0-9]|2[0-3])\\.ffn_down=q6_k"), "");

    // What the bounds still allow compiles and matches within the stack (the ASan build checks it too).
    const std::string name(63, 'a');
    const std::string nested = std::string(16, '(') + "a*" + std::string(16, ')') + "b";
    EXPECT_EQ(message(nested + "=q8_0"), "");
    EXPECT_FALSE(std::regex_search(name, std::regex(nested)));
    const std::string alternatives = [] {
        std::string s = "(";
        for (int i = 0; s.size() < 490; ++i) s += "blk\\." + std::to_string(i) + "\\.|";
        return s + "x).*weight";
    }();
    EXPECT_EQ(message(alternatives + "=q8_0"), "");
    EXPECT_FALSE(std::regex_search(name, std::regex(alternatives)));
    EXPECT_TRUE(std::regex_search(name, std::regex(".{0,64}a{64}|a{63}")));
}

// Item 4: with general.alignment = 1 (a valid file) tensor data can start at any address; the source
// conversion loaded uint16_t through a misaligned pointer (undefined behaviour; UBSan stops the ASan
// build). Loads are portable now; the bytes equal those of the same model aligned to 32.
TEST(FaultsCrash, MisalignedSourceDataIsReadPortably) {
    std::vector<uint8_t> buf(4 * 256 + 64 + 1);
    uint8_t* odd = buf.data() + 1;
    std::vector<uint16_t> h(256);
    for (int i = 0; i < 256; ++i) h[static_cast<size_t>(i)] = static_cast<uint16_t>(0x3c00 + i);
    h[77] = 0x7c00;  // +inf
    std::memcpy(odd, h.data(), 512);
    std::vector<float> f(256);
    convert_to_f32(Type::F16, odd, f.data(), 256);
    EXPECT_EQ(f[0], 1.0f);
    EXPECT_EQ(find_non_finite(Type::F16, odd, 256), 77);
    EXPECT_EQ(find_non_finite(Type::BF16, odd, 256), -1);
    const std::vector<uint8_t> w = f32_wave(256);
    std::memcpy(odd, w.data(), w.size());
    EXPECT_EQ(find_non_finite(Type::F32, odd, 256), -1);
    // A quantized source (--allow-requantize) at an odd address.
    const RowCodec* q8 = scalar_codec(Type::Q8_0);
    std::vector<float> x(256), back(256), back_odd(256);
    std::memcpy(x.data(), w.data(), w.size());
    std::vector<uint8_t> blocks(row_bytes(Type::Q8_0, 256));
    q8->quantize_row(x.data(), blocks.data(), 256, nullptr);
    convert_to_f32(Type::Q8_0, blocks.data(), back.data(), 256);
    std::memcpy(odd, blocks.data(), blocks.size());
    convert_to_f32(Type::Q8_0, odd, back_odd.data(), 256);
    EXPECT_EQ(back, back_odd);

    const std::string dir = fresh_test_dir("align1");
    auto model = [&](size_t alignment, const std::string& name) {
        GgufBuilder b = llama_builder();
        b.alignment = alignment;
        b.kv("general.name", gguf::Value::of_string(name));
        if (alignment != 32) b.kv("general.alignment", gguf::Value::of_u32(static_cast<uint32_t>(alignment)));
        b.tensor("blk.0.attn_norm.weight", {3}, Type::F16);  // 6 bytes
        std::vector<uint8_t> f16(64 * 4 * 2);
        for (size_t i = 0; i < f16.size() / 2; ++i) {
            const uint16_t v = static_cast<uint16_t>(0x3000 + (i * 37) % 0x0c00);
            std::memcpy(f16.data() + 2 * i, &v, 2);
        }
        b.tensor("blk.0.attn_q.weight", {64, 4}, Type::F16, f16);
        b.tensor("blk.0.attn_k.weight", {64, 4}, Type::F16, f16);
        return b.build();
    };
    // The name's length decides where the data section starts: make it odd, so that every tensor is.
    GgufImage img1 = model(1, "x");
    if (img1.offset_of("data") % 2 == 0) img1 = model(1, "xy");
    write_image(dir + "/a1.gguf", img1);
    write_image(dir + "/a32.gguf", model(32, "x"));
    const auto r1 = gguf::Reader::open(dir + "/a1.gguf");
    bool some_odd = false;
    for (const auto& t : r1->tensors())
        some_odd = some_odd || (reinterpret_cast<uintptr_t>(r1->tensor_data(t)) % 2 != 0);
    EXPECT_TRUE(some_odd) << "the test model has no tensor at an odd address";
    for (const char* name : {"a1", "a32"}) {
        const CmdResult r = run_cmd(kq() + " --verify --type q8_0 --pure " + dir + "/" + name + ".gguf " + dir + "/" +
                                    name + "-q.gguf");
        ASSERT_EQ(r.exit_code, 0) << r.output;
    }
    const auto q1 = gguf::Reader::open(dir + "/a1-q.gguf");
    const auto q32 = gguf::Reader::open(dir + "/a32-q.gguf");
    for (const char* name : {"blk.0.attn_q.weight", "blk.0.attn_k.weight"}) {
        const gguf::TensorInfo* a = q1->find_tensor(name);
        const gguf::TensorInfo* b = q32->find_tensor(name);
        ASSERT_TRUE(a && b) << name;
        EXPECT_EQ(a->type, Type::Q8_0);
        ASSERT_EQ(a->nbytes, b->nbytes);
        EXPECT_EQ(std::memcmp(q1->tensor_data(*a), q32->tensor_data(*b), a->nbytes), 0) << name;
    }
}

}  // namespace
}  // namespace kquant::test
