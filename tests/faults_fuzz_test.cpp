// The project's own fuzzer: structured mutations of valid GGUF models and imatrix files (interesting
// values patched into known fields, bit flips, truncations, inserted and removed bytes, NaN/Inf/denormal
// data, odd shapes and names), with a fixed seed so that every run tries the same few hundred cases. Each
// case must end in success or a kquant::Error — never a crash, a hang, a sanitizer report (the ASan +
// UBSan build runs this test too) or another exception — and, when a model reads, planning it and
// quantizing it must obey the same rule and leave no file behind on error. (On the code before issue 12
// the n_dims-0 and ne0-0 tensors the base model sometimes has crash size_report and the pipeline.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <typeinfo>

#include "kquant/error.h"
#include "kquant/gguf.h"
#include "kquant/imatrix.h"
#include "kquant/model.h"
#include "kquant/pipeline.h"
#include "kquant/presets.h"
#include "support/fault_models.h"
#include "support/imatrix_files.h"

namespace kquant::test {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kSeed = 0x6b7175616e74ull;  // "kquant"

class Rng {
public:
    explicit Rng(uint64_t seed) : g_(seed) {}
    uint64_t next() { return g_(); }
    size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }
    bool chance(int percent) { return below(100) < static_cast<size_t>(percent); }
    template <class T>
    const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

private:
    std::mt19937_64 g_;
};

// Values that sit on the edges of what a field may hold.
uint64_t interesting(Rng& rng) {
    static const std::vector<uint64_t> values = {
        0, 1, 2, 3, 4, 5, 7, 8, 12, 13, 16, 31, 32, 33, 63, 64, 65, 255, 256, 4096, 65535, 65536,
        0x7fffffffull, 0x80000000ull, 0xffffffffull, 0x100000000ull, 1ull << 40, 1ull << 62,
        0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, ~0ull - 1, ~0ull - 31};
    return rng.chance(80) ? rng.pick(values) : rng.next() >> rng.below(64);
}

std::vector<uint8_t> f32_values(const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * 4);
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return b;
}

// A valid model with a bit of everything the reader and planner see, varied by the case's choices.
GgufBuilder base_model(Rng& rng) {
    GgufBuilder b = llama_builder(2);
    b.version = rng.chance(20) ? 2 : 3;
    const std::vector<size_t> alignments = {32, 32, 1, 8, 64};
    b.alignment = rng.pick(alignments);
    if (b.alignment != 32 || rng.chance(10))
        b.kv("general.alignment", gguf::Value::of_u32(static_cast<uint32_t>(b.alignment)));
    if (rng.chance(50)) b.kv("general.file_type", gguf::Value::of_u32(1));
    std::vector<gguf::Value> tokens, scores;
    for (int i = 0; i < 6; ++i) {
        tokens.push_back(gguf::Value::of_string(i == 3 ? std::string("\x1b[2J\0x", 6) : "t" + std::to_string(i)));
        scores.push_back(gguf::Value::of_f32(-static_cast<float>(i)));
    }
    b.kv("tokenizer.ggml.tokens", gguf::Value::of_array(gguf::ValueType::STRING, tokens));
    b.kv("tokenizer.ggml.scores", gguf::Value::of_array(gguf::ValueType::F32, scores));
    b.kv("x.nested", gguf::Value::of_array(gguf::ValueType::ARRAY,
                                           {gguf::Value::of_array(gguf::ValueType::U8, {value_u8(1), value_u8(2)})}));
    b.kv("x.misc.i8", value_i8(-3)).kv("x.misc.u64", value_u64(1ull << 40)).kv("x.misc.f64", value_f64(0.5));
    b.kv("x.misc.bool", gguf::Value::of_bool(true));

    const std::vector<Type> float_types = {Type::F32, Type::F16, Type::BF16};
    auto data_for = [&](const std::vector<int64_t>& ne, Type t) -> std::optional<std::vector<uint8_t>> {
        if (t != Type::F32) return std::nullopt;  // the builder's deterministic bytes
        int64_t n = 1;
        for (int64_t d : ne) n *= d;
        std::vector<float> v(static_cast<size_t>(n));
        for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.1f * static_cast<float>(i));
        if (!v.empty() && rng.chance(15)) {
            const std::vector<float> odd = {NAN, INFINITY, -INFINITY, 1e-42f, 0.0f, -0.0f, 3e38f};
            v[rng.below(v.size())] = rng.pick(odd);
        }
        return f32_values(v);
    };
    auto tensor = [&](const std::string& name, std::vector<int64_t> ne, Type t) {
        b.tensor(name, ne, t, data_for(ne, t));
    };
    tensor("token_embd.weight", {64, 8}, rng.pick(float_types));
    tensor("blk.0.attn_norm.weight", {64}, Type::F32);
    tensor("blk.0.attn_q.weight", {64, 4}, rng.pick(float_types));
    tensor("blk.0.attn_v.weight", {64, 2}, rng.pick(float_types));
    tensor("blk.1.attn_v.weight", {64, 2}, Type::F32);
    tensor("blk.1.ffn_down.weight", {32, 4}, rng.pick(float_types));
    tensor("blk.1.ffn_up_exps.weight", {32, 2, 2}, Type::F32);
    if (rng.chance(30)) tensor("blk.1.ffn_gate.weight", {256, 2}, Type::Q8_0);
    if (rng.chance(20)) tensor("rope.scalar", {}, Type::F32);
    if (rng.chance(20)) tensor("blk.0.attn_k.weight", {0, 4}, Type::F32);
    static const char weird[] = "blk.0.w\0eird\x1b.weight";
    if (rng.chance(10)) tensor(std::string(weird, sizeof weird - 1), {32, 2}, Type::F32);
    tensor("output.weight", {64, 8}, rng.pick(float_types));
    return b;
}

// One random change of an image; returns what it did, for the failure message.
std::string mutate(GgufImage& img, Rng& rng) {
    std::vector<uint8_t>& b = img.bytes;
    const size_t header_end = std::min(b.size(), img.at.count("data") ? img.at.at("data") : b.size());
    switch (rng.below(8)) {
        case 0:
        case 1: {  // an interesting value in a known field
            auto it = img.at.begin();
            std::advance(it, static_cast<long>(rng.below(img.at.size())));
            const size_t widths[] = {1, 2, 4, 8};
            const size_t w = widths[rng.below(4)];
            const uint64_t v = interesting(rng);
            if (it->second + w > b.size()) return "none";
            std::memcpy(b.data() + it->second, &v, w);
            return "field " + it->first + " = " + std::to_string(v) + " (" + std::to_string(w) + " bytes)";
        }
        case 2: {  // bit flips in the header
            const size_t n = 1 + rng.below(4);
            for (size_t k = 0; k < n && header_end > 0; ++k) b[rng.below(header_end)] ^= static_cast<uint8_t>(1u << rng.below(8));
            return "bit flips";
        }
        case 3: {  // truncation
            const size_t at = rng.below(b.size() + 1);
            b.resize(at);
            return "truncated to " + std::to_string(at);
        }
        case 4: {  // bytes inserted into or removed from the header
            const size_t at = rng.below(header_end + 1);
            if (rng.chance(50) && at < b.size()) {
                b.erase(b.begin() + static_cast<long>(at), b.begin() + static_cast<long>(std::min(b.size(), at + 1 + rng.below(8))));
                return "bytes removed at " + std::to_string(at);
            }
            const uint64_t v = interesting(rng);
            b.insert(b.begin() + static_cast<long>(at), reinterpret_cast<const uint8_t*>(&v),
                     reinterpret_cast<const uint8_t*>(&v) + 1 + rng.below(8));
            return "bytes inserted at " + std::to_string(at);
        }
        case 5:
        case 6: {  // random bytes in the data section (the file stays readable: NaN/Inf, odd scales)
            for (int k = 0; k < 8 && b.size() > header_end; ++k) b[header_end + rng.below(b.size() - header_end)] = static_cast<uint8_t>(rng.next());
            return "data bytes";
        }
        default: {  // a whole field replaced by random bytes
            auto it = img.at.begin();
            std::advance(it, static_cast<long>(rng.below(img.at.size())));
            for (size_t k = 0; k < 8 && it->second + k < b.size(); ++k) b[it->second + k] = static_cast<uint8_t>(rng.next());
            return "field " + it->first + " randomised";
        }
    }
}

// Runs `f`; a kquant::Error is an accepted outcome, anything else fails the case.
template <class F>
bool survives(const std::string& what, F&& f) {
    try {
        f();
        return true;
    } catch (const Error&) {
        return false;
    } catch (const std::exception& e) {
        ADD_FAILURE() << what << ": unexpected " << typeid(e).name() << ": " << e.what();
        return false;
    }
}

TEST(FaultsFuzz, MutatedModelsEndInSuccessOrAnError) {
    const std::string dir = fresh_test_dir("models");
    Rng rng(kSeed);
    int parsed = 0, planned = 0, written = 0;
    for (int c = 0; c < 300; ++c) {
        GgufImage img = base_model(rng).build();
        std::string what = "case " + std::to_string(c) + ":";
        const size_t n_mut = c < 10 ? 0 : 1 + rng.below(3);  // the first few stay valid
        for (size_t k = 0; k < n_mut; ++k) what += " " + mutate(img, rng) + ";";
        SCOPED_TRACE(what);
        const std::string path = dir + "/case.gguf";
        write_file(path, img.bytes);
        std::unique_ptr<gguf::Model> m;
        if (!survives(what, [&] { m = gguf::Model::open(path); })) continue;
        ++parsed;
        for (const gguf::TensorInfo& t : m->tensors()) {
            (void)t.nrows();
            (void)gguf::written_shape(t.ne);
        }
        QuantParams p;
        const std::vector<const char*> presets = {"Q4_K_M", "Q8_0", "COPY", "Q2_K", "IQ4_XS", "F16", "Q5_1"};
        p.set_preset(parse_preset(rng.pick(presets)));
        p.pure = rng.chance(30);
        p.allow_requantize = rng.chance(50);
        p.dry_run = rng.chance(20);
        std::vector<OutputFile> outputs;
        bool ok = survives(what, [&] {
            const ModelInfo info = model_info_from_kvs(m->kvs(), {}, path);
            const QuantPlan plan = plan_quantization(m->tensors(), info, p, nullptr, path, m->tensor_shards());
            const std::vector<gguf::KV> kvs = build_output_kvs(m->kvs(), output_file_type(p, m->kvs(), m->tensors()), {});
            outputs = plan_outputs(plan, m->tensors(), kvs, dir + "/out/q.gguf");
            (void)size_report(plan, outputs);
        });
        if (!ok || p.dry_run) continue;
        ++planned;
        fs::remove_all(dir + "/out");
        fs::create_directories(dir + "/out");
        PipelineOptions po;
        po.threads = 1;
        const bool wrote = survives(what, [&] { run_pipeline(*m, outputs, po, {}); });
        const std::vector<std::string> left = list_dir(dir + "/out");
        if (wrote) {
            ++written;
            EXPECT_EQ(left, std::vector<std::string>{"q.gguf"});
            survives(what + " (reading the output)", [&] { gguf::Reader::open(dir + "/out/q.gguf"); });
        } else {
            EXPECT_TRUE(left.empty()) << "a failed run left " << left.front();
        }
    }
    // The mix stays useful: many cases get past the reader, some all the way through.
    std::printf("fuzz: %d of 300 models read, %d planned, %d quantized\n", parsed, planned, written);
    EXPECT_GT(parsed, 30);
    EXPECT_GT(planned, 15);
    EXPECT_GT(written, 3);
}

TEST(FaultsFuzz, MutatedImatrixFilesEndInSuccessOrAnError) {
    Rng rng(kSeed + 1);
    int loaded = 0;
    for (int c = 0; c < 250; ++c) {
        std::vector<float> v(64);
        for (size_t i = 0; i < v.size(); ++i) v[i] = 0.25f * static_cast<float>(i % 7);
        if (rng.chance(20)) v[rng.below(v.size())] = rng.chance(50) ? NAN : -1.0f;
        std::vector<ImatrixLegacyEntry> entries = {{"blk.0.attn_q.weight", 3, v},
                                                   {std::string("blk.0.x\0\x1b", 9), 1, std::vector<float>(32, 0.0f)},
                                                   {"blk.1.ffn_up_exps.weight", 0, std::vector<float>(64, 1e-40f)}};
        std::vector<uint8_t> bytes = imatrix_legacy_bytes(entries, 7, std::string("data.txt"));
        std::string what = "legacy case " + std::to_string(c) + ":";
        const size_t n_mut = c < 5 ? 0 : 1 + rng.below(3);
        for (size_t k = 0; k < n_mut; ++k) {
            switch (rng.below(4)) {
                case 0: {
                    const uint32_t x = static_cast<uint32_t>(interesting(rng));
                    const size_t at = rng.below(bytes.size() / 4 + 1) * 4;
                    if (at + 4 <= bytes.size()) std::memcpy(bytes.data() + at, &x, 4);
                    what += " i32 at " + std::to_string(at) + " = " + std::to_string(x) + ";";
                    break;
                }
                case 1:
                    bytes.resize(rng.below(bytes.size() + 1));
                    what += " truncated to " + std::to_string(bytes.size()) + ";";
                    break;
                case 2:
                    if (!bytes.empty()) bytes[rng.below(bytes.size())] ^= static_cast<uint8_t>(1u << rng.below(8));
                    what += " bit flip;";
                    break;
                default:
                    if (bytes.size() >= 4) std::memcpy(bytes.data(), "GGUX", 4);
                    what += " GGUF-like magic;";
            }
        }
        SCOPED_TRACE(what);
        survives(what, [&] {
            Imatrix im = parse_imatrix_legacy(bytes, "im.dat");
            ++loaded;
            (void)imatrix_warnings(im);
            filter_imatrix(im, std::vector<std::string>{"blk"}, {});
            (void)imatrix_lookup(im, "blk.0.attn_q.weight", 64, 1);
            check_imatrix_finite(im);
        });
    }
    std::printf("fuzz: %d of 250 legacy imatrix files read\n", loaded);
    EXPECT_GT(loaded, 20);

    int gguf_loaded = 0;
    for (int c = 0; c < 150; ++c) {
        std::vector<float> sums(64 * 2), counts = {4.0f, 0.0f};
        for (size_t i = 0; i < sums.size(); ++i) sums[i] = static_cast<float>(i % 5);
        GgufImage img = imatrix_gguf_builder({{"blk.0.attn_q.weight", 64, std::vector<float>(sums.begin(), sums.begin() + 64), {4.0f}, std::nullopt},
                                              {"blk.1.ffn_up_exps.weight", 64, sums, counts, sums}})
                            .build();
        std::string what = "gguf imatrix case " + std::to_string(c) + ":";
        const size_t n_mut = c < 5 ? 0 : 1 + rng.below(3);
        for (size_t k = 0; k < n_mut; ++k) what += " " + mutate(img, rng) + ";";
        SCOPED_TRACE(what);
        survives(what, [&] {
            const auto r = gguf::parse(img.bytes.data(), img.bytes.size(), "im.gguf");
            Imatrix im = read_imatrix_gguf(*r);
            ++gguf_loaded;
            (void)imatrix_warnings(im);
            check_imatrix_finite(im);
        });
    }
    std::printf("fuzz: %d of 150 GGUF imatrix files read\n", gguf_loaded);
    EXPECT_GT(gguf_loaded, 5);
}

}  // namespace
}  // namespace kquant::test
