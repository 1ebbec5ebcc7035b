// Device probing and the device-memory entry point: picks the kernel family for a (type, variant) and
// runs the row-sigma2 pre-pass where the codec needs it.
#include <string>

#include "check.cuh"
#include "kquant/cuda_backend.h"
#include "codecs.cuh"
#include "launch.cuh"

namespace kquant::cuda {

DeviceStatus probe() {
    DeviceStatus st;
    try {
        int n = 0;
        const cudaError_t e = cudaGetDeviceCount(&n);
        if (e != cudaSuccess) {
            st.reason = cudaGetErrorString(e);
            cudaGetLastError();  // clear the sticky error state of the runtime API
            return st;
        }
        if (n == 0) {
            st.reason = "cudaGetDeviceCount reported 0 devices";
            return st;
        }
        for (int i = 0; i < n; ++i) {
            cudaDeviceProp p{};
            if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
                st.names.emplace_back("device " + std::to_string(i));
                continue;
            }
            st.names.emplace_back(p.name);
        }
        st.count = n;
    } catch (...) {
        st.count = 0;
        st.names.clear();
        st.reason = "unexpected exception while probing CUDA devices";
    }
    return st;
}

void quantize_device(Type dst, Type src_type, const void* d_src, void* d_dst, int64_t nrows, int64_t n_per_row,
                     int64_t rows_per_slice, const float* d_qw, cudaStream_t s, Variant v, int64_t first_row,
                     unsigned long long* d_first_bad) {
    const std::string tname(type_info(dst).name);
    if (src_type != Type::F32 && src_type != Type::F16 && src_type != Type::BF16)
        throw Error("CUDA kernels read F32, F16 or BF16 sources, not " + std::string(type_info(src_type).name));
    if (!is_block_quantized(dst) || n_per_row % type_info(dst).block_elems != 0)
        throw Error("cannot quantize rows of " + std::to_string(n_per_row) + " elements to " + tname);
    if (v == Variant::Default) v = default_variant(dst, d_qw != nullptr);
    if (d_qw == nullptr && type_info(dst).requires_imatrix)
        throw Error(tname + " cannot be quantized without an importance matrix");

    detail::Launch l;
    l.dst = dst;
    l.src = src_type;
    l.d_src = d_src;
    l.d_dst = d_dst;
    l.nrows = nrows;
    l.n_per_row = n_per_row;
    l.rows_per_slice = rows_per_slice > 0 ? rows_per_slice : (nrows > 0 ? nrows : 1);
    l.first_row = first_row;
    l.d_qw = d_qw;
    l.d_first_bad = d_first_bad;
    l.stream = s;
    if (nrows == 0) return;
    detail::visit_codec(dst, [&]<class C>(detail::Tag<C>) { detail::set_device_grid<C>(l.grids); });

    // The row sigma2 pre-pass's buffer, freed on the stream however this call ends (a launch may throw).
    struct StreamBuffer {
        float* p = nullptr;
        cudaStream_t s;
        ~StreamBuffer() {
            if (p != nullptr) cudaFreeAsync(p, s);
        }
    } sigma2{nullptr, s};
    if (d_qw != nullptr && detail::needs_row_sigma2(dst)) {
        KQ_CUDA(cudaMallocAsync(reinterpret_cast<void**>(&sigma2.p), sizeof(float) * static_cast<size_t>(nrows), s));
        detail::launch_row_sigma2(l, sigma2.p);
        l.d_row_sigma2 = sigma2.p;
    }
    bool ok = false;
    switch (v) {
        case Variant::Generic: ok = detail::launch_generic(l); break;
        case Variant::SubBlock: ok = detail::launch_subblock(l); break;
        case Variant::Warp: ok = detail::launch_warp(l); break;
        case Variant::Tiled: ok = detail::launch_tiled(l); break;
        case Variant::Default: break;
    }
    if (!ok)
        throw Error(std::string("no ") + variant_name(v) + " CUDA kernel for " + tname + " from " +
                    std::string(type_info(src_type).name));
}

}  // namespace kquant::cuda
