// kquant-synth: writes a llama-shaped GGUF model with deterministic, heavy-tailed, LLM-like weights, so
// that anyone can reproduce a test or benchmark without downloading a model.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <thread>

#include "kquant/error.h"
#include "kquant/gguf.h"
#include "kquant/numeric.h"
#include "common/parallel.h"

namespace {

using kquant::Type;
using kquant::gguf::KV;
using kquant::gguf::Value;
using kquant::gguf::ValueType;

struct Shape {
    int layers, dim, ffn, heads, kv_heads, vocab;
};

const std::map<std::string, Shape> kPresets = {
    {"tiny", {2, 256, 512, 4, 2, 512}},
    {"small", {4, 1024, 2816, 16, 4, 4096}},
    {"1b", {16, 2048, 8192, 32, 8, 128256}},
    {"8b", {32, 4096, 14336, 32, 8, 128256}},
    {"70b-slice", {2, 8192, 28672, 64, 8, 128256}},
};

// splitmix64: a stateless hash from (seed, tensor, row) to a stream start, so every row is generated
// independently and the file does not depend on the thread count.
uint64_t mix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// FNV-1a of a tensor name: a seed that is the same with every compiler and standard library.
uint64_t fnv1a(const std::string& s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

struct Rng {
    uint64_t s;
    uint64_t next() { return s = mix(s); }
    // Approximately standard normal: the sum of four 16-bit uniforms, centred and scaled.
    float normal() {
        const uint64_t r = next();
        const float sum = float(r & 0xffff) + float((r >> 16) & 0xffff) + float((r >> 32) & 0xffff) +
                          float(r >> 48);
        return (sum - 131070.0f) * (1.0f / 37837.0f);
    }
    float uniform() { return float(next() >> 40) * (1.0f / 16777216.0f); }
};

struct TensorDef {
    std::string name;
    std::vector<int64_t> ne;
    bool norm;  // 1-D F32 norm weights around 1
};

// One row of a weight matrix: a per-row log-normal scale, a few outlier columns that are large in every
// row (as LLM weights have), and rare spikes. Heavy-tailed overall.
void fill_row(float* dst, int64_t n, uint64_t tensor_seed, int64_t row, float base) {
    Rng col_rng{tensor_seed ^ 0xc01c01ull};
    Rng r{mix(tensor_seed + static_cast<uint64_t>(row) * 0x100000001b3ull)};
    const float row_scale = base * std::exp(0.35f * r.normal());
    for (int64_t i = 0; i < n; ++i) {
        float v = r.normal() * row_scale;
        const float u = r.uniform();
        if (u < 0.002f) v *= 8.0f;          // rare spikes
        else if (u < 0.02f) v *= 2.5f;      // a heavier shoulder
        dst[i] = v;
    }
    // Outlier columns: the same few columns in every row (derived from the tensor seed only).
    for (int k = 0; k < 4 && n > 64; ++k) {
        const int64_t c = static_cast<int64_t>(col_rng.next() % static_cast<uint64_t>(n));
        dst[c] *= 6.0f;
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"kquant-synth: write a synthetic llama-shaped GGUF model (deterministic, heavy-tailed weights)"};
    std::string out, preset = "tiny", dtype = "f16";
    uint64_t seed = 42;
    int layers = -1, vocab = -1, ffn = -1, experts = 0, threads = 0;
    bool tied = false;
    app.add_option("output", out, "Output GGUF path")->required();
    app.add_option("--preset", preset, "Model shape: tiny, small, 1b, 8b, 70b-slice")
        ->check(CLI::IsMember({"tiny", "small", "1b", "8b", "70b-slice"}));
    app.add_option("--dtype", dtype, "Weight type: f16, bf16, f32")->check(CLI::IsMember({"f16", "bf16", "f32"}));
    app.add_option("--seed", seed, "Random seed");
    app.add_option("--layers", layers, "Override the number of layers");
    app.add_option("--vocab", vocab, "Override the vocabulary size");
    app.add_option("--ffn", ffn, "Override the FFN width (need not be a multiple of 256)");
    app.add_option("--experts", experts, "Mixture of experts: merged 3-D expert tensors with this many experts");
    app.add_flag("--tied", tied, "Tied embeddings: no output.weight");
    app.add_option("--threads", threads, "Generator threads (default: all cores)");
    CLI11_PARSE(app, argc, argv);

    try {
        Shape s = kPresets.at(preset);
        if (layers > 0) s.layers = layers;
        if (vocab > 0) s.vocab = vocab;
        if (ffn > 0) s.ffn = ffn;
        const Type wtype = dtype == "f16" ? Type::F16 : dtype == "bf16" ? Type::BF16 : Type::F32;
        const int head_dim = s.dim / s.heads;
        const int kv_dim = head_dim * s.kv_heads;

        std::vector<TensorDef> defs;
        defs.push_back({"token_embd.weight", {s.dim, s.vocab}, false});
        defs.push_back({"output_norm.weight", {s.dim}, true});
        if (!tied) defs.push_back({"output.weight", {s.dim, s.vocab}, false});
        defs.push_back({"rope_freqs.weight", {head_dim / 2}, true});
        for (int l = 0; l < s.layers; ++l) {
            const std::string p = "blk." + std::to_string(l) + ".";
            defs.push_back({p + "attn_norm.weight", {s.dim}, true});
            defs.push_back({p + "attn_q.weight", {s.dim, s.dim}, false});
            defs.push_back({p + "attn_k.weight", {s.dim, kv_dim}, false});
            defs.push_back({p + "attn_v.weight", {s.dim, kv_dim}, false});
            defs.push_back({p + "attn_output.weight", {s.dim, s.dim}, false});
            defs.push_back({p + "ffn_norm.weight", {s.dim}, true});
            if (experts > 0) {
                defs.push_back({p + "ffn_gate_inp.weight", {s.dim, experts}, false});
                defs.push_back({p + "ffn_gate_exps.weight", {s.dim, s.ffn, experts}, false});
                defs.push_back({p + "ffn_up_exps.weight", {s.dim, s.ffn, experts}, false});
                defs.push_back({p + "ffn_down_exps.weight", {s.ffn, s.dim, experts}, false});
            } else {
                defs.push_back({p + "ffn_gate.weight", {s.dim, s.ffn}, false});
                defs.push_back({p + "ffn_up.weight", {s.dim, s.ffn}, false});
                defs.push_back({p + "ffn_down.weight", {s.ffn, s.dim}, false});
            }
        }

        std::vector<KV> kvs;
        auto u32 = [](uint32_t v) { return Value::of_u32(v); };
        kvs.push_back({"general.architecture", Value::of_string("llama")});
        kvs.push_back({"general.name", Value::of_string("kquant-synth " + preset)});
        kvs.push_back({"general.file_type", u32(wtype == Type::F32 ? 0 : wtype == Type::F16 ? 1 : 32)});
        Value seed_value;
        seed_value.type = ValueType::U64;
        seed_value.u = seed;
        kvs.push_back({"kquant.synth.seed", seed_value});
        kvs.push_back({"llama.block_count", u32(s.layers)});
        kvs.push_back({"llama.context_length", u32(8192)});
        kvs.push_back({"llama.embedding_length", u32(s.dim)});
        kvs.push_back({"llama.feed_forward_length", u32(s.ffn)});
        kvs.push_back({"llama.attention.head_count", u32(s.heads)});
        kvs.push_back({"llama.attention.head_count_kv", u32(s.kv_heads)});
        kvs.push_back({"llama.rope.freq_base", Value::of_f32(500000.0f)});
        kvs.push_back({"llama.attention.layer_norm_rms_epsilon", Value::of_f32(1e-5f)});
        kvs.push_back({"llama.vocab_size", u32(s.vocab)});
        if (experts > 0) {
            kvs.push_back({"llama.expert_count", u32(experts)});
            kvs.push_back({"llama.expert_used_count", u32(std::min(2, experts))});
        }
        kvs.push_back({"tokenizer.ggml.model", Value::of_string("gpt2")});
        std::vector<Value> tokens, types;
        tokens.reserve(s.vocab);
        for (int i = 0; i < s.vocab; ++i) {
            tokens.push_back(Value::of_string("tok" + std::to_string(i)));
            types.push_back(Value::of_i32(1));
        }
        kvs.push_back({"tokenizer.ggml.tokens", Value::of_array(ValueType::STRING, std::move(tokens))});
        kvs.push_back({"tokenizer.ggml.token_type", Value::of_array(ValueType::I32, std::move(types))});
        kvs.push_back({"tokenizer.ggml.bos_token_id", u32(1)});
        kvs.push_back({"tokenizer.ggml.eos_token_id", u32(2)});

        std::vector<kquant::gguf::Writer::TensorSpec> specs;
        for (const TensorDef& d : defs) specs.push_back({d.name, d.ne, d.norm ? Type::F32 : wtype});
        kquant::gguf::Writer w(out, kvs, specs, 32);

        // Work items: (tensor, row range); rows of one tensor are generated independently.
        struct Item { size_t t; int64_t r0, r1; };
        std::vector<Item> items;
        for (size_t t = 0; t < defs.size(); ++t) {
            const int64_t ne0 = defs[t].ne[0];
            int64_t rows = 1;
            for (size_t k = 1; k < defs[t].ne.size(); ++k) rows *= defs[t].ne[k];
            const int64_t step = std::max<int64_t>(1, (1 << 20) / ne0);
            for (int64_t r = 0; r < rows; r += step) items.push_back({t, r, std::min(rows, r + step)});
        }
        std::atomic<bool> failed{false};
        std::string error;
        std::mutex err_mu;
        kquant::run_chunked(static_cast<int64_t>(items.size()), threads, [&](const auto& next) {
            std::vector<float> f;
            std::vector<uint16_t> h;
            for (int64_t k; !failed && (k = next()) >= 0;) {
                try {
                    const Item& it = items[k];
                    const TensorDef& d = defs[it.t];
                    const int64_t ne0 = d.ne[0], n = (it.r1 - it.r0) * ne0;
                    f.resize(static_cast<size_t>(n));
                    const uint64_t tseed = mix(seed ^ fnv1a(d.name));
                    if (d.norm) {
                        Rng r{tseed};
                        for (int64_t i = 0; i < n; ++i) f[i] = 1.0f + 0.1f * r.normal();
                    } else {
                        const float base = 1.0f / std::sqrt(static_cast<float>(ne0));
                        for (int64_t r = it.r0; r < it.r1; ++r)
                            fill_row(f.data() + (r - it.r0) * ne0, ne0, tseed, r, base);
                    }
                    const Type t = specs[it.t].type;
                    if (t == Type::F32) {
                        w.write_tensor(it.t, static_cast<uint64_t>(it.r0 * ne0) * 4, f.data(), n * 4);
                    } else {
                        h.resize(static_cast<size_t>(n));
                        for (int64_t i = 0; i < n; ++i)
                            h[i] = t == Type::F16 ? kquant::fp32_to_fp16(f[i]) : kquant::fp32_to_bf16(f[i]);
                        w.write_tensor(it.t, static_cast<uint64_t>(it.r0 * ne0) * 2, h.data(), n * 2);
                    }
                } catch (const std::exception& e) {
                    std::lock_guard<std::mutex> lk(err_mu);
                    if (!failed.exchange(true)) error = e.what();
                }
            }
        });
        if (failed) throw kquant::Error(error);
        w.commit();
        std::printf("kquant-synth: wrote %s (%s, %s, %zu tensors, %.2f GB)\n", out.c_str(), preset.c_str(),
                    dtype.c_str(), defs.size(), static_cast<double>(w.total_size()) / 1e9);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kquant-synth: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
