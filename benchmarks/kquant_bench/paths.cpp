// The benchmark paths: how each one sets up the pipeline, and whether this build and machine can run it.
#include "kquant/error.h"
#include "kquant/quantize.h"
#include "kquant_bench/bench.h"
#if KQUANT_HAVE_CUDA
#include "kquant/cuda_backend.h"
#endif

namespace kquant::bench {

std::vector<std::string> known_paths() { return {"scalar", "avx2", "avx512", "cuda"}; }

PathSpec make_path(const std::string& name, const DeviceSettings& d) {
    PathSpec p;
    p.name = name;
    p.options.threads = d.threads;
    // The benchmark must measure the device it names: no silent CPU fallback.
    p.options.allow_cpu_fallback = false;
    p.options.progress = false;  // the runner decides
    if (name == "scalar") {
        p.options.device = DeviceKind::Cpu;
        p.available = true;
    } else if (name == "avx2" || name == "avx512") {
        const CpuIsa isa = name == "avx2" ? CpuIsa::Avx2 : CpuIsa::Avx512;
        p.options.device = DeviceKind::Cpu;
        p.options.cpu_isa = isa;
        p.available = cpu_isa_supported(isa);
        if (!p.available) p.reason = std::string("this CPU has no ") + cpu_isa_name(isa);
    } else if (name == "cuda") {
        p.options.device = DeviceKind::Cuda;
        p.options.gpus = {d.gpu};
        p.options.gpu_chunk_bytes = d.gpu_chunk_mb << 20;
        p.options.gpu_streams = d.gpu_streams;
        if (d.io_threads > 0) p.options.io_threads = d.io_threads;
#if KQUANT_HAVE_CUDA
        const cuda::DeviceStatus st = cuda::probe();
        if (st.count == 0)
            p.reason = st.reason.empty() ? "no CUDA device" : "no CUDA device: " + st.reason;
        else if (d.gpu < 0 || d.gpu >= st.count)
            p.reason = "--gpu " + std::to_string(d.gpu) + ": there are only " + std::to_string(st.count) +
                       " CUDA device(s)";
        else
            p.available = true;
#else
        p.reason = "this build has no CUDA support (nvcc was not found when it was built)";
#endif
    } else {
        std::string names;
        for (const std::string& n : known_paths()) names += (names.empty() ? "" : ", ") + n;
        throw Error("unknown path '" + name + "' (known: " + names + ")");
    }
    return p;
}

}  // namespace kquant::bench
