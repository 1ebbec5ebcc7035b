// Single-thread CPU quantization throughput per type (weights/s), plain and with importance weights.
// The scalar path is byte-identical to ggml's reference, so it stands for llama-quantize's per-thread speed.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "kquant/quantize.h"

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

void BM_quantize(benchmark::State& state, kquant::Type t, bool imat) {
    const kquant::RowCodec* c = kquant::scalar_codec(t);
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

const int registered = [] {
    for (kquant::Type t : kquant::quantizable_types()) {
        if (!kquant::is_block_quantized(t)) continue;
        const std::string name(kquant::type_info(t).name);
        benchmark::RegisterBenchmark(("scalar/" + name).c_str(), BM_quantize, t, false)->Unit(benchmark::kMillisecond);
        if (kquant::type_info(t).uses_imatrix)
            benchmark::RegisterBenchmark(("scalar/" + name + ".imat").c_str(), BM_quantize, t, true)
                ->Unit(benchmark::kMillisecond);
    }
    return 0;
}();

}  // namespace

BENCHMARK_MAIN();
