// Single-thread CPU quantization throughput per type (weights/s), plain and with importance weights: the
// scalar path ("scalar/<type>") and each SIMD level this CPU has where the type has a lane driver
// ("avx2/<type>", "avx512/<type>"). The scalar path is byte-identical to ggml's reference, so it stands
// for llama-quantize's per-thread speed.
// Built with -DKQUANT_GGML_DIR=<ggml checkout>, the same run also times ggml's own quantize_<type> (what
// ggml_quantize_chunk, and so llama-quantize, calls) on the same data as "ggml/<type>", after checking
// that its bytes equal the scalar path's (the IQ grids are built first, as ggml_quantize_init would).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "kquant/codecs.h"
#include "kquant/quantize.h"

#if KQ_BENCH_GGML
// ggml's public quantizers (src/ggml-quants.h), declared here so that no ggml header enters this C++ file.
extern "C" {
#define KQ_GGML_QUANTIZER(t) size_t quantize_##t(const float*, void*, int64_t, int64_t, const float*);
KQ_GGML_QUANTIZER(q4_0) KQ_GGML_QUANTIZER(q4_1) KQ_GGML_QUANTIZER(q5_0) KQ_GGML_QUANTIZER(q5_1)
KQ_GGML_QUANTIZER(q8_0) KQ_GGML_QUANTIZER(q2_K) KQ_GGML_QUANTIZER(q3_K) KQ_GGML_QUANTIZER(q4_K)
KQ_GGML_QUANTIZER(q5_K) KQ_GGML_QUANTIZER(q6_K) KQ_GGML_QUANTIZER(iq4_nl) KQ_GGML_QUANTIZER(iq4_xs)
KQ_GGML_QUANTIZER(iq2_xxs) KQ_GGML_QUANTIZER(iq2_xs) KQ_GGML_QUANTIZER(iq2_s) KQ_GGML_QUANTIZER(iq3_xxs)
KQ_GGML_QUANTIZER(iq3_s) KQ_GGML_QUANTIZER(iq1_s) KQ_GGML_QUANTIZER(iq1_m) KQ_GGML_QUANTIZER(tq1_0)
KQ_GGML_QUANTIZER(tq2_0) KQ_GGML_QUANTIZER(mxfp4) KQ_GGML_QUANTIZER(nvfp4) KQ_GGML_QUANTIZER(q1_0)
KQ_GGML_QUANTIZER(q2_0)
#undef KQ_GGML_QUANTIZER
// The grid tables of the IQ quantizers (what ggml_quantize_init builds): the type argument is ggml's
// enum value, passed as an int here.
void iq2xs_init_impl(int type);
void iq3xs_init_impl(int grid_size);
}
#endif

namespace {

constexpr int64_t kCols = 4096, kRows = 64;

const std::vector<float>& input() {
    static const std::vector<float> x = [] {
        std::vector<float> v(static_cast<size_t>(kCols * kRows));
        std::mt19937 rng(1234);
        std::student_t_distribution<float> t(4.0f);
        for (float& f : v) f = 0.02f * t(rng);
        return v;
    }();
    return x;
}

const std::vector<float>& weights() {
    static const std::vector<float> w = [] {
        std::vector<float> v(static_cast<size_t>(kCols));
        std::mt19937 rng(99);
        std::exponential_distribution<float> e(1.0f);
        for (float& f : v) f = e(rng);
        return v;
    }();
    return w;
}

void BM_quantize(benchmark::State& state, kquant::Type t, kquant::CpuIsa isa, bool imat) {
    const kquant::RowCodec* c = kquant::cpu_codec(t, isa);
    const auto& x = input();
    std::vector<uint8_t> out(kquant::row_bytes(t, kCols) * kRows);
    for (auto _ : state) {
        kquant::quantize_rows(*c, x.data(), out.data(), kRows, kCols, imat ? weights().data() : nullptr, 1);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.counters["weights/s"] =
        benchmark::Counter(static_cast<double>(kCols * kRows), benchmark::Counter::kIsIterationInvariantRate);
}

#if KQ_BENCH_GGML
using GgmlQuantizer = size_t (*)(const float*, void*, int64_t, int64_t, const float*);

GgmlQuantizer ggml_quantizer(const std::string& name) {
    static const std::map<std::string, GgmlQuantizer> m{
        {"q4_0", quantize_q4_0}, {"q4_1", quantize_q4_1}, {"q5_0", quantize_q5_0}, {"q5_1", quantize_q5_1},
        {"q8_0", quantize_q8_0}, {"q2_K", quantize_q2_K}, {"q3_K", quantize_q3_K}, {"q4_K", quantize_q4_K},
        {"q5_K", quantize_q5_K}, {"q6_K", quantize_q6_K}, {"iq4_nl", quantize_iq4_nl}, {"iq4_xs", quantize_iq4_xs},
        {"iq2_xxs", quantize_iq2_xxs}, {"iq2_xs", quantize_iq2_xs}, {"iq2_s", quantize_iq2_s},
        {"iq3_xxs", quantize_iq3_xxs}, {"iq3_s", quantize_iq3_s}, {"iq1_s", quantize_iq1_s},
        {"iq1_m", quantize_iq1_m}, {"tq1_0", quantize_tq1_0}, {"tq2_0", quantize_tq2_0},
        {"mxfp4", quantize_mxfp4}, {"nvfp4", quantize_nvfp4}, {"q1_0", quantize_q1_0}, {"q2_0", quantize_q2_0}};
    const auto it = m.find(name);
    return it == m.end() ? nullptr : it->second;
}

void BM_ggml(benchmark::State& state, kquant::Type t, GgmlQuantizer q, bool imat) {
    const auto& x = input();
    const float* w = imat ? weights().data() : nullptr;
    std::vector<uint8_t> out(kquant::row_bytes(t, kCols) * kRows), ours(out.size());
    kquant::quantize_rows(*kquant::scalar_codec(t), x.data(), ours.data(), kRows, kCols, w, 1);
    q(x.data(), out.data(), kRows, kCols, w);
    if (out != ours) {  // the comparison is only meaningful between equal outputs
        state.SkipWithError("ggml's bytes differ from the scalar path's");
        return;
    }
    for (auto _ : state) {
        q(x.data(), out.data(), kRows, kCols, w);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.counters["weights/s"] =
        benchmark::Counter(static_cast<double>(kCols * kRows), benchmark::Counter::kIsIterationInvariantRate);
}
#endif

const int registered = [] {
#if KQ_BENCH_GGML
    // ggml_quantize_init's grids: IQ2_XXS (16), IQ2_XS (17), IQ1_S (19), IQ2_S (22) and IQ1_M (29) share the
    // 2-bit tables by grid size; IQ3_XXS uses the 256-entry 3-bit grid, IQ3_S the 512-entry one.
    for (int t : {16, 17, 19, 22, 29}) iq2xs_init_impl(t);
    iq3xs_init_impl(256);
    iq3xs_init_impl(512);
#endif
    for (kquant::Type t : kquant::quantizable_types()) {
        if (!kquant::is_block_quantized(t)) continue;
        const std::string name(kquant::type_info(t).name);
        // ggml asserts on a plain call of a type that requires an imatrix (IQ2_XXS, IQ2_XS, IQ1_S).
        const bool plain = !kquant::type_info(t).requires_imatrix;
        // The scalar path, and each SIMD level this CPU has where the type has a lane driver.
        for (kquant::CpuIsa isa : {kquant::CpuIsa::Scalar, kquant::CpuIsa::Avx2, kquant::CpuIsa::Avx512}) {
            if (!kquant::cpu_isa_supported(isa)) continue;
            if (isa != kquant::CpuIsa::Scalar && !kquant::has_lane_driver(t)) continue;
            const std::string path = std::string(kquant::cpu_isa_name(isa)) + "/" + name;
            if (plain)
                benchmark::RegisterBenchmark(path.c_str(), BM_quantize, t, isa, false)->Unit(benchmark::kMillisecond);
            if (kquant::type_info(t).uses_imatrix)
                benchmark::RegisterBenchmark((path + ".imat").c_str(), BM_quantize, t, isa, true)
                    ->Unit(benchmark::kMillisecond);
        }
#if KQ_BENCH_GGML
        const GgmlQuantizer q = ggml_quantizer(name);
        if (q == nullptr) {
            std::fprintf(stderr, "no ggml quantizer mapped for %s\n", name.c_str());
            std::abort();
        }
        if (plain)
            benchmark::RegisterBenchmark(("ggml/" + name).c_str(), BM_ggml, t, q, false)->Unit(benchmark::kMillisecond);
        if (kquant::type_info(t).uses_imatrix)
            benchmark::RegisterBenchmark(("ggml/" + name + ".imat").c_str(), BM_ggml, t, q, true)
                ->Unit(benchmark::kMillisecond);
#endif
    }
    return 0;
}();

}  // namespace

BENCHMARK_MAIN();
