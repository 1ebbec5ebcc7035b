// Kernel-only throughput of the CUDA quantizers, and one end-to-end run of the streaming pipeline.
//
// Kernels: per type, path (plain / imatrix) and variant, quantize_device on an 8B-like tensor that is
// already in device memory (default 4096 x 14336 F16), timed with cudaEvents around each call, median
// of --repeats calls that rotate over --sets input tensors (so no run reads another's inputs from L2).
// Pipeline: cuda::run over --pipe-tensors host tensors of the same shape, with its per-stage times.
//
// Usage: kquant-bench-cuda-kernels [--rows N] [--cols N] [--src f16|bf16|f32] [--repeats N] [--sets N]
//                                  [--types q4_K,q6_K,...] [--pipe-tensors N] [--pipe-type q4_K]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "kquant/cuda_backend.h"
#include "kquant/error.h"
#include "kquant/numeric.h"
#include "kquant/quantize.h"
#include "kquant/types.h"

namespace {

using kquant::Type;
namespace kc = kquant::cuda;

void ck(cudaError_t e, const char* what) {
    if (e != cudaSuccess) {
        std::fprintf(stderr, "CUDA error in %s: %s\n", what, cudaGetErrorString(e));
        std::exit(2);
    }
}

// LLM-like values without a host pass: a hashed Student-t-ish mix with per-row scales and a few outlier
// columns, written in the source type.
__device__ uint32_t hash32(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return static_cast<uint32_t>(x);
}

__global__ void fill_kernel(void* dst, Type src, int64_t n, int64_t cols, uint32_t seed) {
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
        const float u1 = (hash32(static_cast<uint64_t>(i) * 2 + seed * 0x9e3779b97f4a7c15ull) + 1.0f) * 2.3283064e-10f;
        const float u2 = hash32(static_cast<uint64_t>(i) * 2 + 1 + seed * 0x9e3779b97f4a7c15ull) * 2.3283064e-10f;
        float g = sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
        const int64_t row = i / cols, col = i % cols;
        const float row_scale = 0.01f + 0.02f * static_cast<float>(hash32(row + 7777ull * seed) % 1000) / 1000.0f;
        if (hash32(col * 31ull + seed) % 64 == 0) g *= 8.0f;  // outlier input channels
        if (hash32(i * 13ull + seed) % 50 == 0) g *= 3.0f;   // heavy tail
        const float v = g * row_scale;
        if (src == Type::F32)
            static_cast<float*>(dst)[i] = v;
        else if (src == Type::F16)
            static_cast<uint16_t*>(dst)[i] = kquant::fp32_to_fp16(v);
        else
            static_cast<uint16_t*>(dst)[i] = kquant::fp32_to_bf16(v);
    }
}

struct Args {
    int64_t rows = 4096, cols = 14336;
    Type src = Type::F16;
    int repeats = 15, sets = 3;
    std::vector<Type> types;
    int pipe_tensors = 16;
    Type pipe_type = Type::Q4_K;
};

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", k.c_str());
                std::exit(1);
            }
            return argv[++i];
        };
        auto type = [](const std::string& s) {
            const auto t = kquant::parse_type_name(s);
            if (!t) {
                std::fprintf(stderr, "unknown type %s\n", s.c_str());
                std::exit(1);
            }
            return *t;
        };
        if (k == "--rows") a.rows = std::stoll(val());
        else if (k == "--cols") a.cols = std::stoll(val());
        else if (k == "--src") a.src = type(val());
        else if (k == "--repeats") a.repeats = std::stoi(val());
        else if (k == "--sets") a.sets = std::stoi(val());
        else if (k == "--pipe-tensors") a.pipe_tensors = std::stoi(val());
        else if (k == "--pipe-type") a.pipe_type = type(val());
        else if (k == "--types") {
            std::string s = val();
            for (size_t p = 0; p <= s.size();) {
                const size_t q = std::min(s.find(',', p), s.size());
                a.types.push_back(type(s.substr(p, q - p)));
                p = q + 1;
            }
        } else {
            std::fprintf(stderr, "unknown option %s\n", k.c_str());
            std::exit(1);
        }
    }
    if (a.types.empty()) a.types = kquant::quantizable_types();
    return a;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
    const Args a = parse(argc, argv);
    const kc::DeviceStatus st = kc::probe();
    if (st.count == 0) {
        std::printf("no CUDA device: %s\n", st.reason.c_str());
        return 0;
    }
    cudaDeviceProp prop{};
    ck(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    std::printf("device: %s, %d SMs, %.0f MB L2\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize / 1e6);
    const int64_t n = a.rows * a.cols;
    const size_t in_bytes = kquant::row_bytes(a.src, a.cols) * static_cast<size_t>(a.rows);
    std::printf("tensor: %lld x %lld %s (%.1f MB), %d input sets, median of %d calls\n\n",
                static_cast<long long>(a.cols), static_cast<long long>(a.rows),
                std::string(kquant::type_info(a.src).name).c_str(), in_bytes / 1e6, a.sets, a.repeats);

    std::vector<void*> inputs(static_cast<size_t>(a.sets));
    for (int s = 0; s < a.sets; ++s) {
        ck(cudaMalloc(&inputs[static_cast<size_t>(s)], in_bytes), "cudaMalloc input");
        fill_kernel<<<1024, 256>>>(inputs[static_cast<size_t>(s)], a.src, n, a.cols, 17u + static_cast<uint32_t>(s));
        ck(cudaGetLastError(), "fill");
    }
    std::vector<float> qw_host(static_cast<size_t>(a.cols));
    for (size_t i = 0; i < qw_host.size(); ++i) qw_host[i] = 0.2f + static_cast<float>((i * 2654435761u) % 1000) / 250.0f;
    float* d_qw = nullptr;
    ck(cudaMalloc(reinterpret_cast<void**>(&d_qw), qw_host.size() * sizeof(float)), "cudaMalloc qw");
    ck(cudaMemcpy(d_qw, qw_host.data(), qw_host.size() * sizeof(float), cudaMemcpyHostToDevice), "qw H2D");
    size_t max_out = 0;
    for (Type t : a.types) max_out = std::max(max_out, kquant::row_bytes(t, a.cols) * static_cast<size_t>(a.rows));
    void* d_out = nullptr;
    ck(cudaMalloc(&d_out, max_out), "cudaMalloc output");
    cudaStream_t s;
    ck(cudaStreamCreate(&s), "cudaStreamCreate");
    cudaEvent_t e0, e1;
    ck(cudaEventCreate(&e0), "event");
    ck(cudaEventCreate(&e1), "event");
    ck(cudaDeviceSynchronize(), "fill");

    std::printf("%-8s %-5s %-9s %10s %12s %10s\n", "type", "path", "variant", "median ms", "Gweights/s", "GB/s");
    struct Best {
        kc::Variant v;
        double ms;
    };
    std::map<std::pair<Type, bool>, Best> best;
    for (Type t : a.types) {
        const size_t out_bytes = kquant::row_bytes(t, a.cols) * static_cast<size_t>(a.rows);
        for (const bool imat : {false, true}) {
            for (kc::Variant v : kc::variants_for(t)) {
                std::vector<double> ms;
                for (int r = -1; r < a.repeats; ++r) {  // r = -1: warm-up
                    const void* in = inputs[static_cast<size_t>((r + a.sets) % a.sets)];
                    ck(cudaEventRecord(e0, s), "record");
                    kc::quantize_device(t, a.src, in, d_out, a.rows, a.cols, a.rows, imat ? d_qw : nullptr, s, v);
                    ck(cudaEventRecord(e1, s), "record");
                    ck(cudaEventSynchronize(e1), "kernel");
                    float m = 0;
                    ck(cudaEventElapsedTime(&m, e0, e1), "elapsed");
                    if (r >= 0) ms.push_back(m);
                }
                const double med = median(ms);
                std::printf("%-8s %-5s %-9s %10.3f %12.2f %10.1f\n", std::string(kquant::type_info(t).name).c_str(),
                            imat ? "imat" : "plain", kc::variant_name(v), med, n / (med * 1e-3) / 1e9,
                            (in_bytes + out_bytes) / (med * 1e-3) / 1e9);
                std::fflush(stdout);
                auto key = std::make_pair(t, imat);
                if (!best.count(key) || med < best[key].ms) best[key] = Best{v, med};
            }
        }
    }
    std::printf("\nfastest variant per type, plain / imat (ms), and the current defaults:\n");
    for (Type t : a.types)
        std::printf("  %-8s %-9s %8.3f / %-9s %8.3f   default %s / %s\n", std::string(kquant::type_info(t).name).c_str(),
                    kc::variant_name(best[{t, false}].v), best[{t, false}].ms, kc::variant_name(best[{t, true}].v),
                    best[{t, true}].ms, kc::variant_name(kc::default_variant(t, false)),
                    kc::variant_name(kc::default_variant(t, true)));

    for (void* p : inputs) cudaFree(p);
    cudaFree(d_out);
    cudaFree(d_qw);

    // ---- end-to-end pipeline over host tensors ----
    // The jobs share one host tensor (the bytes are read again for each job, as from a page cache).
    if (a.pipe_tensors > 0) {
        std::vector<uint16_t> host(static_cast<size_t>(n));
        for (int64_t k = 0; k < n; ++k)
            host[static_cast<size_t>(k)] = kquant::fp32_to_fp16(
                static_cast<float>(static_cast<int32_t>((k * 2654435761u) % 2001u) - 1000) * 2e-5f);
        std::vector<kquant::QuantJob> jobs;
        for (int i = 0; i < a.pipe_tensors; ++i) {
            kquant::QuantJob j;
            j.name = "blk." + std::to_string(i) + ".ffn_up.weight";
            j.src_type = Type::F16;
            j.src = host.data();
            j.n_per_row = a.cols;
            j.nrows = a.rows;
            j.rows_per_slice = a.rows;
            j.dst_type = a.pipe_type;
            j.qw = qw_host.data();
            jobs.push_back(j);
        }
        std::vector<std::vector<uint8_t>> out(jobs.size());
        for (auto& o : out) o.resize(kquant::row_bytes(a.pipe_type, a.cols) * static_cast<size_t>(a.rows));
        std::printf("\npipeline: %d tensors f16 -> %s (imatrix), default kernel\n", a.pipe_tensors,
                    std::string(kquant::type_info(a.pipe_type).name).c_str());
        for (const size_t chunk : {size_t(256) << 20, size_t(64) << 20, size_t(16) << 20}) {
            kc::Options opt;
            opt.chunk_bytes = chunk;
            try {
                const kc::Stats ps = kc::run(
                    jobs, opt,
                    [&](size_t job, uint64_t off, const void* d, size_t len) { std::memcpy(out[job].data() + off, d, len); },
                    nullptr);
                const double stream_s = ps.wall_s - ps.setup_s;
                std::printf("  chunk %3zu MB: %zu chunks, %.2f GB in, %.2f GB out; wall %.3f s (setup %.3f s), "
                            "streaming %.2f Gweights/s = %.1f GB/s of source\n"
                            "      stage busy time summed over %d streams: read %.3f s, H2D %.3f s, kernel %.3f s, "
                            "D2H %.3f s, write %.3f s\n",
                            chunk >> 20, ps.chunks, ps.bytes_in / 1e9, ps.bytes_out / 1e9, ps.wall_s, ps.setup_s,
                            a.pipe_tensors * static_cast<double>(n) / stream_s / 1e9, ps.bytes_in / stream_s / 1e9,
                            opt.streams, ps.read_s, ps.h2d_s, ps.kernel_s, ps.d2h_s, ps.write_s);
                std::fflush(stdout);
            } catch (const kquant::Error& e) {
                std::printf("pipeline failed: %s\n", e.what());
                return 1;
            }
        }
    }
    return 0;
}
