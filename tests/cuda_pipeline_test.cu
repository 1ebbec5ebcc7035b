// The CUDA job runner (kquant::cuda::run): the bytes of chunked and split tensors equal whole-tensor
// CPU bytes whatever the chunk size, stream and io-thread counts; every byte is written exactly once;
// progress is reported once per job; jobs sharing a source read it once; non-finite input fails naming
// the tensor, row and column.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "kquant/cuda_backend.h"
#include "kquant/error.h"
#include "kquant/numeric.h"
#include "kquant/quantize.h"

namespace kquant {
namespace {

#define KQ_REQUIRE_GPU()                                                    \
    do {                                                                    \
        const cuda::DeviceStatus st_ = cuda::probe();                       \
        if (st_.count == 0) GTEST_SKIP() << "no CUDA device: " << st_.reason; \
    } while (0)

// A tensor of the test: its source bytes, the f32 values they encode, and its weights.
struct TestTensor {
    std::string name;
    Type src, dst;
    int64_t n, nrows, rows_per_slice;
    std::vector<uint8_t> bytes;
    std::vector<float> f32;
    std::vector<float> qw;  // empty: plain path
};

TestTensor make_tensor(const std::string& name, Type src, Type dst, int64_t n, int64_t nrows, int64_t rows_per_slice,
                       bool weighted, uint32_t seed) {
    TestTensor t{name, src, dst, n, nrows, rows_per_slice, {}, {}, {}};
    std::mt19937 rng(seed);
    std::student_t_distribution<float> st(4.0f);
    const size_t count = static_cast<size_t>(n * nrows);
    t.f32.resize(count);
    for (size_t i = 0; i < count; ++i) t.f32[i] = st(rng) * 0.03f;
    if (src == Type::F32 || src == Type::F16 || src == Type::BF16) {
        t.bytes.resize(row_bytes(src, n) * static_cast<size_t>(nrows));
        for (size_t i = 0; i < count; ++i) {
            if (src == Type::F32) {
                std::memcpy(t.bytes.data() + 4 * i, &t.f32[i], 4);
            } else {
                const uint16_t h = src == Type::F16 ? fp32_to_fp16(t.f32[i]) : fp32_to_bf16(t.f32[i]);
                t.f32[i] = src == Type::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
                std::memcpy(t.bytes.data() + 2 * i, &h, 2);
            }
        }
    } else {  // a quantized source (requantization): its dequantized values are what gets quantized
        const RowCodec* c = scalar_codec(src);
        t.bytes.resize(row_bytes(src, n) * static_cast<size_t>(nrows));
        quantize_rows(*c, t.f32.data(), t.bytes.data(), nrows, n, nullptr, 1);
        for (int64_t r = 0; r < nrows; ++r)
            c->dequantize_row(t.bytes.data() + static_cast<size_t>(r) * row_bytes(src, n), t.f32.data() + r * n, n);
    }
    if (weighted) {
        const int64_t slices = (nrows + rows_per_slice - 1) / rows_per_slice;
        t.qw.resize(static_cast<size_t>(n * slices));
        std::uniform_real_distribution<float> u(0.0f, 3.0f);
        for (float& w : t.qw) w = u(rng);
    }
    return t;
}

std::vector<uint8_t> cpu_reference(const TestTensor& t) {
    const RowCodec* c = scalar_codec(t.dst);
    const size_t rb = row_bytes(t.dst, t.n);
    std::vector<uint8_t> out(rb * static_cast<size_t>(t.nrows));
    for (int64_t r = 0; r < t.nrows; ++r)
        c->quantize_row(t.f32.data() + r * t.n, out.data() + static_cast<size_t>(r) * rb, t.n,
                        t.qw.empty() ? nullptr : t.qw.data() + (r / t.rows_per_slice) * t.n);
    return out;
}

std::vector<QuantJob> jobs_of(const std::vector<TestTensor>& ts) {
    std::vector<QuantJob> jobs;
    for (size_t i = 0; i < ts.size(); ++i) {
        const TestTensor& t = ts[i];
        QuantJob j;
        j.name = t.name;
        j.src_type = t.src;
        j.src = t.bytes.data();
        j.n_per_row = t.n;
        j.nrows = t.nrows;
        j.rows_per_slice = t.rows_per_slice;
        j.dst_type = t.dst;
        j.qw = t.qw.empty() ? nullptr : t.qw.data();
        jobs.push_back(j);
    }
    return jobs;
}

// Collects the written bytes and counts how often each byte was written.
struct Sink {
    std::mutex m;
    std::vector<std::vector<uint8_t>> out;
    std::vector<std::vector<uint8_t>> times;
    std::map<size_t, uint64_t> progress;
    int progress_calls = 0;

    explicit Sink(const std::vector<TestTensor>& ts) {
        for (const TestTensor& t : ts) {
            out.emplace_back(row_bytes(t.dst, t.n) * static_cast<size_t>(t.nrows), 0);
            times.emplace_back(out.back().size(), 0);
        }
    }
    WriteFn writer() {
        return [this](size_t job, uint64_t off, const void* data, size_t n) {
            std::lock_guard lk(m);
            ASSERT_LE(off + n, out[job].size());
            std::memcpy(out[job].data() + off, data, n);
            for (size_t i = 0; i < n; ++i) ++times[job][off + i];
        };
    }
    ProgressFn progress_fn() {
        return [this](size_t job, uint64_t bytes) {
            std::lock_guard lk(m);
            progress[job] += bytes;
            ++progress_calls;
        };
    }
};

std::vector<TestTensor> mixed_tensors() {
    std::vector<TestTensor> ts;
    ts.push_back(make_tensor("blk.0.attn_q.weight", Type::F16, Type::Q4_K, 2048, 67, 67, false, 1));
    ts.push_back(make_tensor("blk.0.ffn_up.weight", Type::BF16, Type::Q6_K, 1024, 45, 45, true, 2));
    ts.push_back(make_tensor("blk.0.ffn_down_exps.weight", Type::F32, Type::Q2_K, 512, 48, 16, true, 3));
    ts.push_back(make_tensor("blk.0.attn_v.weight", Type::F16, Type::Q4_0, 1024, 33, 33, true, 4));
    ts.push_back(make_tensor("blk.0.attn_k.weight", Type::F16, Type::IQ4_XS, 768, 9, 9, true, 5));
    ts.push_back(make_tensor("blk.0.attn_output.weight", Type::F32, Type::Q8_0, 256, 31, 31, false, 6));
    ts.push_back(make_tensor("blk.0.ffn_gate.weight", Type::F16, Type::Q5_K, 256, 1, 1, true, 7));
    ts.push_back(make_tensor("empty.weight", Type::F16, Type::Q4_K, 256, 0, 1, false, 8));
    ts.push_back(make_tensor("requant.weight", Type::Q8_0, Type::Q3_K, 512, 21, 21, false, 9));
    return ts;
}

TEST(CudaPipeline, UnsupportedTargetNamesTheTensorWithoutTouchingADevice) {
    std::vector<TestTensor> ts{make_tensor("tok.weight", Type::F32, Type::F16, 256, 2, 2, false, 1)};
    try {
        cuda::run(jobs_of(ts), cuda::Options{}, [](size_t, uint64_t, const void*, size_t) {}, nullptr);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("tensor 'tok.weight'"), std::string::npos) << e.what();
    }
}

TEST(CudaPipeline, ChunkedSplitTensorsEqualWholeCpuBytesForAnyChunking) {
    KQ_REQUIRE_GPU();
    const std::vector<TestTensor> ts = mixed_tensors();
    std::vector<std::vector<uint8_t>> want;
    for (const TestTensor& t : ts) want.push_back(cpu_reference(t));
    struct Config {
        size_t chunk;
        int streams, io;
    };
    // A chunk of 1 row (tiny chunk_bytes), a few rows, and whole tensors; 1..4 streams; 1..8 io threads.
    for (const Config cfg : {Config{1, 1, 1}, Config{5000, 2, 3}, Config{40000, 3, 8}, Config{256u << 20, 4, 2}}) {
        Sink sink(ts);
        cuda::Options opt;
        opt.chunk_bytes = cfg.chunk;
        opt.streams = cfg.streams;
        opt.io_threads = cfg.io;
        const cuda::Stats st = cuda::run(jobs_of(ts), opt, sink.writer(), sink.progress_fn());
        uint64_t in_bytes = 0, out_bytes = 0;
        for (size_t i = 0; i < ts.size(); ++i) {
            EXPECT_EQ(sink.out[i], want[i]) << ts[i].name << " chunk_bytes " << cfg.chunk;
            EXPECT_TRUE(std::all_of(sink.times[i].begin(), sink.times[i].end(), [](uint8_t c) { return c == 1; }))
                << ts[i].name << ": a byte was not written exactly once (chunk_bytes " << cfg.chunk << ")";
            EXPECT_EQ(sink.progress[i], ts[i].bytes.size()) << ts[i].name;
            in_bytes += ts[i].bytes.size();
            out_bytes += want[i].size();
        }
        EXPECT_EQ(sink.progress_calls, static_cast<int>(ts.size()));
        EXPECT_EQ(st.bytes_in, in_bytes);
        EXPECT_EQ(st.bytes_out, out_bytes);
        EXPECT_FALSE(st.devices.empty());
        if (cfg.chunk == 1) {
            int64_t rows = 0;
            for (const TestTensor& t : ts) rows += t.nrows;
            EXPECT_EQ(st.chunks, static_cast<size_t>(rows));  // one row per chunk
        }
    }
}

// One read, several outputs: jobs that read the same source (jobs_by_source) form a group whose chunks are
// read, uploaded and converted once, every job's kernel running on them. Each output still equals its
// own CPU bytes, every byte is written once, and the source counts once: in bytes_in, in the chunk count
// and in progress (for the group's first job). Two groups: an F16 tensor to five types (the imatrix jobs
// sharing one weight array, so the slot keeps it on the device, and one plain job between them) and a
// requantized Q8_0 tensor (dequantized on the host once) to two types.
TEST(CudaPipeline, JobsSharingASourceReadItOnce) {
    KQ_REQUIRE_GPU();
    std::vector<TestTensor> ts;
    const TestTensor a = make_tensor("blk.0.ffn_up.weight", Type::F16, Type::Q4_K, 1024, 37, 37, true, 21);
    for (Type dst : {Type::Q4_K, Type::Q6_K, Type::Q8_0, Type::IQ4_XS, Type::Q4_0}) {
        TestTensor t = a;
        t.dst = dst;
        if (dst == Type::Q8_0) t.qw.clear();
        ts.push_back(t);
    }
    const TestTensor b = make_tensor("requant.weight", Type::Q8_0, Type::Q5_K, 512, 13, 13, false, 22);
    ts.push_back(b);
    ts.push_back(b);
    ts.back().dst = Type::Q3_K;
    std::vector<QuantJob> jobs = jobs_of(ts);
    for (size_t i = 1; i < 5; ++i) {
        jobs[i].src = jobs[0].src;
        if (jobs[i].qw != nullptr) jobs[i].qw = jobs[0].qw;
    }
    jobs[6].src = jobs[5].src;
    ASSERT_EQ(jobs_by_source(jobs).size(), 2u);
    std::vector<std::vector<uint8_t>> want;
    uint64_t out_bytes = 0;
    for (const TestTensor& t : ts) {
        want.push_back(cpu_reference(t));
        out_bytes += want.back().size();
    }
    struct Config {
        size_t chunk;
        int streams, io;
    };
    for (const Config cfg : {Config{1, 1, 1}, Config{9000, 3, 4}, Config{256u << 20, 2, 2}}) {
        Sink sink(ts);
        cuda::Options opt;
        opt.chunk_bytes = cfg.chunk;
        opt.streams = cfg.streams;
        opt.io_threads = cfg.io;
        const cuda::Stats st = cuda::run(jobs, opt, sink.writer(), sink.progress_fn());
        for (size_t i = 0; i < ts.size(); ++i) {
            EXPECT_EQ(sink.out[i], want[i]) << i << " " << type_info(ts[i].dst).name << " chunk_bytes " << cfg.chunk;
            EXPECT_TRUE(std::all_of(sink.times[i].begin(), sink.times[i].end(), [](uint8_t c) { return c == 1; }))
                << i << ": a byte was not written exactly once (chunk_bytes " << cfg.chunk << ")";
            const bool first = i == 0 || i == 5;
            EXPECT_EQ(sink.progress[i], first ? ts[i].bytes.size() : 0u) << i;
        }
        EXPECT_EQ(sink.progress_calls, static_cast<int>(ts.size()));
        EXPECT_EQ(st.bytes_in, a.bytes.size() + b.bytes.size());
        EXPECT_EQ(st.bytes_out, out_bytes);
        if (cfg.chunk == 1) EXPECT_EQ(st.chunks, static_cast<size_t>(a.nrows + b.nrows));  // a row per chunk
    }
}

// --gpu N,M / all: the chunks are shared by the slots of every listed device. Every device is listed,
// and device 0 twice, so that a one-GPU machine runs the multi-device path too (two device entries,
// their own buffers and streams); real cross-device placement needs a machine with two GPUs.
TEST(CudaPipeline, SeveralDevicesShareTheChunks) {
    KQ_REQUIRE_GPU();
    const std::vector<TestTensor> ts = mixed_tensors();
    cuda::Options opt;
    opt.devices.clear();
    for (int d = 0; d < cuda::probe().count; ++d) opt.devices.push_back(d);
    opt.devices.push_back(0);
    opt.chunk_bytes = 5000;  // many chunks, so that every slot gets some
    opt.streams = 2;
    Sink sink(ts);
    const cuda::Stats st = cuda::run(jobs_of(ts), opt, sink.writer(), sink.progress_fn());
    EXPECT_EQ(st.devices.size(), opt.devices.size());
    for (size_t i = 0; i < ts.size(); ++i) {
        EXPECT_EQ(sink.out[i], cpu_reference(ts[i])) << ts[i].name;
        EXPECT_TRUE(std::all_of(sink.times[i].begin(), sink.times[i].end(), [](uint8_t c) { return c == 1; }))
            << ts[i].name << ": a byte was not written exactly once";
    }
    EXPECT_EQ(sink.progress_calls, static_cast<int>(ts.size()));
}

TEST(CudaPipeline, EveryVariantGivesTheSameBytes) {
    KQ_REQUIRE_GPU();
    std::vector<TestTensor> ts;
    uint32_t seed = 100;
    for (Type t : quantizable_types()) ts.push_back(make_tensor(std::string(type_info(t).name), Type::F16, t, 512, 19, 7, true, seed++));
    std::vector<std::vector<uint8_t>> want;
    for (const TestTensor& t : ts) want.push_back(cpu_reference(t));
    for (cuda::Variant v : {cuda::Variant::Default, cuda::Variant::Generic}) {
        Sink sink(ts);
        cuda::Options opt;
        opt.chunk_bytes = 7000;
        opt.variant = v;
        cuda::run(jobs_of(ts), opt, sink.writer(), nullptr);
        for (size_t i = 0; i < ts.size(); ++i) EXPECT_EQ(sink.out[i], want[i]) << ts[i].name << " " << cuda::variant_name(v);
    }
}

TEST(CudaPipeline, NonFiniteInputNamesTensorRowAndColumn) {
    KQ_REQUIRE_GPU();
    struct Bad {
        Type src;
        int64_t row, col;
        float value;
    };
    for (const Bad b : {Bad{Type::F16, 5, 77, std::numeric_limits<float>::quiet_NaN()},
                        Bad{Type::F32, 30, 1000, -std::numeric_limits<float>::infinity()},
                        Bad{Type::BF16, 0, 3, std::numeric_limits<float>::infinity()}}) {
        std::vector<TestTensor> ts = mixed_tensors();
        TestTensor bad = make_tensor("blk.7.bad.weight", b.src, Type::Q4_K, 1024, 40, 40, false, 11);
        const size_t i = static_cast<size_t>(b.row * bad.n + b.col);
        if (b.src == Type::F32) {
            std::memcpy(bad.bytes.data() + 4 * i, &b.value, 4);
        } else {
            const uint16_t h = b.src == Type::F16 ? fp32_to_fp16(b.value) : fp32_to_bf16(b.value);
            std::memcpy(bad.bytes.data() + 2 * i, &h, 2);
        }
        ts.insert(ts.begin() + 2, std::move(bad));
        Sink sink(ts);
        cuda::Options opt;
        opt.chunk_bytes = 9000;  // several chunks: the row is reported in tensor coordinates
        try {
            cuda::run(jobs_of(ts), opt, sink.writer(), nullptr);
            FAIL() << "no error for a non-finite " << type_info(b.src).name << " value";
        } catch (const Error& e) {
            const std::string msg = e.what();
            EXPECT_NE(msg.find("tensor 'blk.7.bad.weight'"), std::string::npos) << msg;
            EXPECT_NE(msg.find("non-finite"), std::string::npos) << msg;
            EXPECT_NE(msg.find("row " + std::to_string(b.row) + ", column " + std::to_string(b.col)), std::string::npos)
                << msg;
        }
    }
}

TEST(CudaPipeline, MissingDeviceIsAnError) {
    KQ_REQUIRE_GPU();
    const std::vector<TestTensor> ts{make_tensor("a", Type::F32, Type::Q8_0, 32, 1, 1, false, 1)};
    cuda::Options opt;
    opt.devices = {cuda::probe().count};  // one past the last device
    EXPECT_THROW(cuda::run(jobs_of(ts), opt, [](size_t, uint64_t, const void*, size_t) {}, nullptr), Error);
}

}  // namespace
}  // namespace kquant
