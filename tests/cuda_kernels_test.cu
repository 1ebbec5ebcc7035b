// The CUDA kernels against ggml's golden bytes and against the CPU scalar codecs: every quantizable
// type, both paths (plain and imatrix), every kernel variant, F32/F16/BF16 sources. Without a CUDA
// device every GPU test is skipped with the runtime's reason; the device-independent checks still run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "kquant/cuda_backend.h"
#include "kquant/error.h"
#include "kquant/gguf.h"
#include "kquant/numeric.h"
#include "kquant/quantize.h"
#include "kquant/types.h"

namespace kquant {
namespace {

#define KQ_REQUIRE_GPU()                                                    \
    do {                                                                    \
        const cuda::DeviceStatus st_ = cuda::probe();                       \
        if (st_.count == 0) GTEST_SKIP() << "no CUDA device: " << st_.reason; \
    } while (0)

void ck(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw Error(std::string(what) + ": " + cudaGetErrorString(e));
}

// A device buffer that frees itself.
class DevBuf {
public:
    explicit DevBuf(size_t n) : n_(n) {
        if (n > 0) ck(cudaMalloc(&p_, n), "cudaMalloc");
    }
    DevBuf(const void* host, size_t n) : DevBuf(n) {
        if (n > 0) ck(cudaMemcpy(p_, host, n, cudaMemcpyHostToDevice), "cudaMemcpy H2D");
    }
    ~DevBuf() { cudaFree(p_); }
    DevBuf(const DevBuf&) = delete;
    DevBuf& operator=(const DevBuf&) = delete;
    void* get() const { return p_; }
    std::vector<uint8_t> download() const {
        std::vector<uint8_t> v(n_);
        if (n_ > 0) ck(cudaMemcpy(v.data(), p_, n_, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
        return v;
    }

private:
    void* p_ = nullptr;
    size_t n_;
};

// Quantizes host rows on the device; src holds nrows*n elements of src_type. qw: weights per slice.
std::vector<uint8_t> gpu_quantize(Type dst, Type src_type, const void* src, int64_t nrows, int64_t n,
                                  const std::vector<float>* qw, int64_t rows_per_slice, cuda::Variant v) {
    const size_t in_bytes = row_bytes(src_type, n) * static_cast<size_t>(nrows);
    const size_t out_bytes = row_bytes(dst, n) * static_cast<size_t>(nrows);
    DevBuf d_src(src, in_bytes);
    DevBuf d_dst(out_bytes);
    ck(cudaMemset(d_dst.get(), 0xA5, out_bytes), "cudaMemset");  // poison: every byte must be written
    std::unique_ptr<DevBuf> d_qw;
    if (qw != nullptr) d_qw = std::make_unique<DevBuf>(qw->data(), qw->size() * sizeof(float));
    cuda::quantize_device(dst, src_type, d_src.get(), d_dst.get(), nrows, n, rows_per_slice,
                          d_qw ? static_cast<const float*>(d_qw->get()) : nullptr, nullptr, v);
    ck(cudaDeviceSynchronize(), "quantize_device");
    return d_dst.download();
}

// CPU reference: the scalar codec row by row, slice weights as the CPU pipeline passes them.
std::vector<uint8_t> cpu_quantize(Type dst, const std::vector<float>& x, int64_t nrows, int64_t n,
                                  const std::vector<float>* qw, int64_t rows_per_slice) {
    const RowCodec* c = scalar_codec(dst);
    const size_t rb = row_bytes(dst, n);
    std::vector<uint8_t> out(rb * static_cast<size_t>(nrows));
    for (int64_t r = 0; r < nrows; ++r)
        c->quantize_row(x.data() + r * n, out.data() + static_cast<size_t>(r) * rb, n,
                        qw != nullptr ? qw->data() + (r / rows_per_slice) * n : nullptr);
    return out;
}

// "" when equal, else where the first differing block is.
std::string first_difference(Type t, int64_t n, const std::vector<uint8_t>& got, const std::vector<uint8_t>& want) {
    if (got.size() != want.size()) return "size " + std::to_string(got.size()) + " vs " + std::to_string(want.size());
    const size_t bb = type_info(t).block_bytes;
    const size_t per_row = row_bytes(t, n);
    for (size_t i = 0; i < got.size(); ++i)
        if (got[i] != want[i])
            return "first difference at byte " + std::to_string(i) + " (row " + std::to_string(i / per_row) +
                   ", block " + std::to_string((i % per_row) / bb) + ", byte " + std::to_string(i % bb) +
                   " of the block): " + std::to_string(got[i]) + " vs " + std::to_string(want[i]);
    return "";
}

// ---- device-independent ----------------------------------------------------------------------

TEST(CudaProbe, NeverThrowsAndExplainsAnEmptyResult) {
    const cuda::DeviceStatus st = cuda::probe();
    EXPECT_EQ(static_cast<size_t>(st.count), st.names.size());
    if (st.count == 0) EXPECT_FALSE(st.reason.empty());
}

TEST(CudaVariants, EveryQuantizableTypeHasAGenericKernelAndADefault) {
    for (Type t : quantizable_types()) {
        const auto vs = cuda::variants_for(t);
        ASSERT_FALSE(vs.empty()) << type_info(t).name;
        EXPECT_EQ(vs.front(), cuda::Variant::Generic) << type_info(t).name;
        for (const bool imatrix : {false, true}) {
            const cuda::Variant d = cuda::default_variant(t, imatrix);
            EXPECT_NE(std::find(vs.begin(), vs.end(), d), vs.end()) << type_info(t).name;
        }
    }
}

TEST(CudaVariants, KQuantsHaveSubBlockKernelsAndMinScaleTypesWarpKernels) {
    for (Type t : {Type::Q2_K, Type::Q3_K, Type::Q4_K, Type::Q5_K, Type::Q6_K}) {
        const auto vs = cuda::variants_for(t);
        EXPECT_NE(std::find(vs.begin(), vs.end(), cuda::Variant::SubBlock), vs.end()) << type_info(t).name;
        EXPECT_NE(std::find(vs.begin(), vs.end(), cuda::Variant::Tiled), vs.end()) << type_info(t).name;
    }
    for (Type t : {Type::Q2_K, Type::Q4_K, Type::Q5_K, Type::IQ4_NL, Type::IQ4_XS}) {
        const auto vs = cuda::variants_for(t);
        EXPECT_NE(std::find(vs.begin(), vs.end(), cuda::Variant::Warp), vs.end()) << type_info(t).name;
    }
}

// ---- golden bytes ----------------------------------------------------------------------------

TEST(CudaGolden, EveryTypeEveryVariantBothPathsMatchGgml) {
    KQ_REQUIRE_GPU();
    // Each golden file lists its types (golden.types); ggml has no plain path for the types that require
    // an imatrix (and the file no tensor for it).
    int checked = 0, expected = 0;
    for (const char* path : {KQ_GOLDEN_PATH, KQ_EXTRA_GOLDEN_PATH}) {
        const auto r = gguf::Reader::open(path);
        const auto cases = r->get_string_array("golden.cases");
        const auto types = r->get_string_array("golden.types");
        ASSERT_TRUE(cases.has_value() && types.has_value()) << path;
        for (const std::string& cs : *cases) {
            const gguf::TensorInfo* in = r->find_tensor(cs + ".input");
            const gguf::TensorInfo* im = r->find_tensor(cs + ".imatrix");
            ASSERT_NE(in, nullptr) << cs;
            ASSERT_NE(im, nullptr) << cs;
            ASSERT_EQ(in->type, Type::F32);
            const int64_t n = in->ne_at(0), nrows = in->nrows();
            const auto* imp = reinterpret_cast<const float*>(r->tensor_data(*im));
            const std::vector<float> qw(imp, imp + n);
            for (Type t : quantizable_types()) {
                if (std::find(types->begin(), types->end(), std::string(type_info(t).name)) == types->end()) continue;
                for (const bool imat : {false, true}) {
                    if (!imat && type_info(t).requires_imatrix) continue;
                    ++expected;
                    const std::string name = cs + "." + std::string(type_info(t).name) + (imat ? ".imat" : "");
                    const gguf::TensorInfo* want = r->find_tensor(name);
                    ASSERT_NE(want, nullptr) << name;
                    const std::vector<uint8_t> expected_bytes(r->tensor_data(*want),
                                                              r->tensor_data(*want) + want->nbytes);
                    for (cuda::Variant v : cuda::variants_for(t)) {
                        const auto got = gpu_quantize(t, Type::F32, r->tensor_data(*in), nrows, n,
                                                      imat ? &qw : nullptr, nrows, v);
                        EXPECT_EQ(first_difference(t, n, got, expected_bytes), "")
                            << name << " (" << cuda::variant_name(v) << " kernel)";
                        ++checked;
                    }
                }
            }
        }
    }
    EXPECT_GE(checked, expected);
    int per_case = 0;  // every quantizable type is in one of the files
    for (Type t : quantizable_types()) per_case += type_info(t).requires_imatrix ? 1 : 2;
    EXPECT_EQ(expected, 18 * per_case);
}

// A plain launch of a type that ggml only quantizes with an imatrix is refused before any kernel runs.
TEST(CudaGolden, TypesRequiringAnImatrixRefuseAPlainLaunch) {
    KQ_REQUIRE_GPU();
    const int64_t n = 256;
    std::vector<float> x(n, 0.5f);
    DevBuf d_src(x.data(), x.size() * 4), d_dst(row_bytes(Type::IQ1_S, n));
    for (Type t : quantizable_types()) {
        if (!type_info(t).requires_imatrix) continue;
        EXPECT_THROW(cuda::quantize_device(t, Type::F32, d_src.get(), d_dst.get(), 1, n, 1, nullptr, nullptr),
                     Error)
            << type_info(t).name;
    }
}

// ---- GPU vs CPU on random inputs ----------------------------------------------------------------

enum class Dist { Gaussian, StudentT, Outliers, Sparse, Positive, Tiny, Large, ZeroBlocks };

std::vector<float> make_input(Dist d, int64_t count, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::student_t_distribution<float> st(3.0f);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
        float v = 0;
        switch (d) {
            case Dist::Gaussian: v = g(rng) * 0.02f; break;
            case Dist::StudentT: v = st(rng) * 0.01f; break;
            case Dist::Outliers: v = g(rng) * (i % 61 == 7 ? 3.0f : 0.05f); break;
            case Dist::Sparse: v = u(rng) < 0.85f ? 0.0f : g(rng); break;
            case Dist::Positive: v = std::fabs(g(rng)) + 0.01f; break;
            case Dist::Tiny: v = g(rng) * 1e-6f; break;
            case Dist::Large: v = g(rng) * 3000.0f; break;
            case Dist::ZeroBlocks: v = (i / 16) % 5 == 2 ? 0.0f : ((i / 16) % 5 == 3 ? 0.25f : g(rng)); break;
        }
        x[static_cast<size_t>(i)] = v;
    }
    return x;
}

// Rounds the values to the source type's precision, so that the f32 the kernel sees is exactly x.
std::vector<uint8_t> encode_source(Type src, std::vector<float>& x) {
    std::vector<uint8_t> bytes(row_bytes(src, static_cast<int64_t>(x.size())));
    for (size_t i = 0; i < x.size(); ++i) {
        if (src == Type::F16) {
            const uint16_t h = fp32_to_fp16(x[i]);
            x[i] = fp16_to_fp32(h);
            std::memcpy(bytes.data() + 2 * i, &h, 2);
        } else if (src == Type::BF16) {
            const uint16_t h = fp32_to_bf16(x[i]);
            x[i] = bf16_to_fp32(h);
            std::memcpy(bytes.data() + 2 * i, &h, 2);
        } else {
            std::memcpy(bytes.data() + 4 * i, &x[i], 4);
        }
    }
    return bytes;
}

TEST(CudaVsCpu, RandomInputsEveryTypeVariantSourceAndPath) {
    KQ_REQUIRE_GPU();
    // 37 rows (a partial CTA at the end), 3 slices of weights of which the last is partial.
    const int64_t n = 1024, nrows = 37, rows_per_slice = 13;
    const int64_t nslices = (nrows + rows_per_slice - 1) / rows_per_slice;
    std::mt19937 rng(1234);
    std::uniform_real_distribution<float> u(0.0f, 4.0f);
    std::vector<float> qw(static_cast<size_t>(n * nslices));
    for (size_t i = 0; i < qw.size(); ++i) qw[i] = (i % 97 == 5) ? 0.0f : u(rng);
    int checked = 0;
    uint32_t seed = 1;
    for (Dist d : {Dist::Gaussian, Dist::StudentT, Dist::Outliers, Dist::Sparse, Dist::Positive, Dist::Tiny,
                   Dist::Large, Dist::ZeroBlocks}) {
        for (Type src : {Type::F32, Type::F16, Type::BF16}) {
            std::vector<float> x = make_input(d, n * nrows, seed++);
            const std::vector<uint8_t> src_bytes = encode_source(src, x);
            for (Type t : quantizable_types()) {
                for (const bool weighted : {false, true}) {
                    if (!weighted && type_info(t).requires_imatrix) continue;
                    const std::vector<float>* w = weighted ? &qw : nullptr;
                    const auto want = cpu_quantize(t, x, nrows, n, w, rows_per_slice);
                    for (cuda::Variant v : cuda::variants_for(t)) {
                        const auto got = gpu_quantize(t, src, src_bytes.data(), nrows, n, w, rows_per_slice, v);
                        EXPECT_EQ(first_difference(t, n, got, want), "")
                            << type_info(t).name << (weighted ? " weighted" : " plain") << ", "
                            << cuda::variant_name(v) << " kernel, source " << type_info(src).name << ", dist "
                            << static_cast<int>(d);
                        ++checked;
                    }
                }
            }
        }
    }
    EXPECT_GT(checked, 0);
}

// A chunk that starts inside a slice reads the slice of its absolute row (first_row).
TEST(CudaVsCpu, FirstRowSelectsTheWeightSlice) {
    KQ_REQUIRE_GPU();
    const int64_t n = 512, nrows = 20, rows_per_slice = 8, first_row = 5;
    std::vector<float> x = make_input(Dist::Gaussian, n * nrows, 77);
    std::vector<float> qw(static_cast<size_t>(n * 4));
    for (size_t i = 0; i < qw.size(); ++i) qw[i] = 0.5f + static_cast<float>((i * 7919) % 101) / 25.0f;
    for (Type t : quantizable_types()) {
        // CPU: row r of the chunk is tensor row first_row + r.
        const RowCodec* c = scalar_codec(t);
        const size_t rb = row_bytes(t, n);
        std::vector<uint8_t> want(rb * static_cast<size_t>(nrows));
        for (int64_t r = 0; r < nrows; ++r)
            c->quantize_row(x.data() + r * n, want.data() + static_cast<size_t>(r) * rb, n,
                            qw.data() + ((first_row + r) / rows_per_slice) * n);
        DevBuf d_src(x.data(), x.size() * 4), d_dst(want.size()), d_qw(qw.data(), qw.size() * 4);
        cuda::quantize_device(t, Type::F32, d_src.get(), d_dst.get(), nrows, n, rows_per_slice,
                              static_cast<const float*>(d_qw.get()), nullptr, cuda::Variant::Default, first_row);
        ck(cudaDeviceSynchronize(), "sync");
        EXPECT_EQ(first_difference(t, n, d_dst.download(), want), "") << type_info(t).name;
    }
}

TEST(CudaNonFinite, KernelReportsTheFirstBadElement) {
    KQ_REQUIRE_GPU();
    const int64_t n = 256, nrows = 8;
    for (Type src : {Type::F32, Type::F16, Type::BF16}) {
        std::vector<float> x = make_input(Dist::Gaussian, n * nrows, 5);
        x[static_cast<size_t>(6 * n + 100)] = std::numeric_limits<float>::infinity();
        x[static_cast<size_t>(3 * n + 17)] = std::numeric_limits<float>::quiet_NaN();
        const auto bytes = encode_source(src, x);
        for (Type t : {Type::Q4_K, Type::Q8_0, Type::IQ4_NL}) {
            for (cuda::Variant v : cuda::variants_for(t)) {
                DevBuf d_src(bytes.data(), bytes.size()), d_dst(row_bytes(t, n) * nrows);
                const unsigned long long init = std::numeric_limits<unsigned long long>::max();
                DevBuf d_bad(&init, sizeof init);
                cuda::quantize_device(t, src, d_src.get(), d_dst.get(), nrows, n, nrows, nullptr, nullptr, v, 0,
                                      static_cast<unsigned long long*>(d_bad.get()));
                ck(cudaDeviceSynchronize(), "sync");
                unsigned long long bad = 0;
                std::memcpy(&bad, d_bad.download().data(), sizeof bad);
                EXPECT_EQ(bad, static_cast<unsigned long long>(3 * n + 17))
                    << type_info(t).name << " " << cuda::variant_name(v) << " " << type_info(src).name;
            }
        }
    }
}

TEST(CudaErrors, UnsupportedSourceOrShapeThrows) {
    KQ_REQUIRE_GPU();
    DevBuf d(1024);
    EXPECT_THROW(cuda::quantize_device(Type::Q4_K, Type::Q8_0, d.get(), d.get(), 1, 256, 1, nullptr, nullptr),
                 Error);
    EXPECT_THROW(cuda::quantize_device(Type::Q4_K, Type::F32, d.get(), d.get(), 1, 100, 1, nullptr, nullptr), Error);
    EXPECT_THROW(cuda::quantize_device(Type::Q8_0, Type::F32, d.get(), d.get(), 1, 32, 1, nullptr, nullptr,
                                       cuda::Variant::Warp),
                 Error);
}

}  // namespace
}  // namespace kquant
