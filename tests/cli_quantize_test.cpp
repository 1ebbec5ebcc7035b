// End-to-end tests of the kquant-cuda command line on synthetic models made by kquant-synth.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "kquant/gguf.h"
#include "kquant/numeric.h"
#include "kquant/quantize.h"
#include "support/run_cmd.h"
#if KQUANT_HAVE_CUDA
#include "kquant/cuda_backend.h"
#endif

namespace kquant::test {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string make_synth(const std::string& dir, const std::string& args = "--preset tiny --dtype f16 --seed 3") {
    const std::string path = dir + "/model.gguf";
    const CmdResult r = run_cmd(synth_path() + " " + args + " " + path);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return path;
}

CmdResult quantize(const std::string& args) { return run_cmd(cli_path() + " " + args); }

bool gpu_present() {
#if KQUANT_HAVE_CUDA
    return cuda::probe().count > 0;
#else
    return false;
#endif
}

// Whether a tensor is one llama-quantize quantizes in a llama model (2-D weights that are not norms).
bool eligible(const gguf::TensorInfo& t) {
    return gguf::n_dims(t.ne) >= 2 && t.name.find("_norm.weight") == std::string::npos;
}

TEST(CliQuantize, Q8_0EndToEndMatchesTheBlockQuantizer) {
    const std::string dir = fresh_test_dir();
    const std::string in = make_synth(dir), out = dir + "/q8.gguf";
    const CmdResult r = quantize("--device cpu --pure --type q8_0 " + in + " " + out);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("done: 22 tensors (16 quantized)"), std::string::npos) << r.output;

    const auto src = gguf::Reader::open(in);
    const auto dst = gguf::Reader::open(out);
    ASSERT_EQ(src->tensors().size(), dst->tensors().size());
    const RowCodec* q8 = scalar_codec(Type::Q8_0);
    int quantized = 0;
    for (const gguf::TensorInfo& s : src->tensors()) {
        const gguf::TensorInfo* d = dst->find_tensor(s.name);
        ASSERT_NE(d, nullptr) << s.name;
        EXPECT_EQ(d->ne, s.ne) << s.name;
        if (!eligible(s)) {
            EXPECT_EQ(d->type, s.type) << s.name;
            ASSERT_EQ(d->nbytes, s.nbytes);
            EXPECT_EQ(0, std::memcmp(dst->tensor_data(*d), src->tensor_data(s), s.nbytes)) << s.name;
            continue;
        }
        ++quantized;
        ASSERT_EQ(d->type, Type::Q8_0) << s.name;
        const int64_t ne0 = s.ne[0], rows = s.nrows();
        ASSERT_EQ(d->nbytes, static_cast<size_t>(rows) * row_bytes(Type::Q8_0, ne0)) << s.name;
        std::vector<float> f(static_cast<size_t>(ne0));
        std::vector<uint8_t> want(row_bytes(Type::Q8_0, ne0));
        for (int64_t r0 = 0; r0 < rows; ++r0) {
            convert_to_f32(s.type, src->tensor_data(s) + r0 * row_bytes(s.type, ne0), f.data(), ne0);
            q8->quantize_row(f.data(), want.data(), ne0, nullptr);
            ASSERT_EQ(0, std::memcmp(dst->tensor_data(*d) + r0 * want.size(), want.data(), want.size()))
                << s.name << " row " << r0;
        }
    }
    EXPECT_EQ(quantized, 16);
    const gguf::KV* ft = dst->find_kv("general.file_type");
    ASSERT_NE(ft, nullptr);
    EXPECT_EQ(ft->value.as_int(), 7);  // LLAMA_FTYPE_MOSTLY_Q8_0
}

TEST(CliQuantize, BytesDoNotDependOnTheThreadCount) {
    const std::string dir = fresh_test_dir();
    const std::string in = make_synth(dir, "--preset tiny --dtype bf16 --seed 11");
    std::string first;
    for (int threads : {1, 2, 3, 7}) {
        const std::string out = dir + "/t" + std::to_string(threads) + ".gguf";
        const CmdResult r = quantize("--device cpu --threads " + std::to_string(threads) + " --type q4_k_m " + in + " " + out);
        ASSERT_EQ(r.exit_code, 0) << r.output;
        const std::string bytes = slurp(out);
        ASSERT_GT(bytes.size(), 1000u);
        if (first.empty()) first = bytes;
        else EXPECT_TRUE(bytes == first) << "threads=" << threads << " gave different bytes";
    }
}

// Writes a small llama-like model whose blk.0.attn_q.weight has one non-finite value.
std::string model_with_bad_value(const std::string& dir, float bad, int64_t row, int64_t col) {
    const std::string path = dir + "/bad.gguf";
    std::vector<gguf::KV> kvs = {{"general.architecture", gguf::Value::of_string("llama")},
                                 {"llama.block_count", gguf::Value::of_u32(1)},
                                 {"llama.attention.head_count", gguf::Value::of_u32(4)},
                                 {"llama.attention.head_count_kv", gguf::Value::of_u32(4)}};
    gguf::Writer w(path, kvs, {{"blk.0.attn_q.weight", {256, 8}, Type::F32}});
    std::vector<float> v(256 * 8);
    for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<float>(i));
    v[static_cast<size_t>(row * 256 + col)] = bad;
    w.write_tensor(0, 0, v.data(), v.size() * 4);
    w.commit();
    return path;
}

TEST(CliQuantize, NanInputIsRefusedNamingTensorRowAndColumnAndLeavesNoFile) {
    for (const float bad : {NAN, INFINITY}) {
        const std::string dir = fresh_test_dir();
        const std::string in = model_with_bad_value(dir, bad, 3, 17);
        const std::string out = dir + "/out.gguf";
        const CmdResult r = quantize("--device cpu --type q4_k_m " + in + " " + out);
        EXPECT_EQ(r.exit_code, 1) << r.output;
        EXPECT_NE(r.output.find("blk.0.attn_q.weight"), std::string::npos) << r.output;
        EXPECT_NE(r.output.find("row 3, column 17"), std::string::npos) << r.output;
        EXPECT_EQ(list_dir(dir), std::vector<std::string>{"bad.gguf"}) << "a file was left behind";
    }
}

TEST(CliQuantize, FailureLeavesAnExistingDestinationUntouched) {
    const std::string dir = fresh_test_dir();
    const std::string in = model_with_bad_value(dir, NAN, 0, 0);
    const std::string out = dir + "/out.gguf";
    std::ofstream(out) << "keep me";
    const CmdResult r = quantize("--device cpu --type q8_0 " + in + " " + out);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(slurp(out), "keep me");
    EXPECT_EQ(list_dir(dir).size(), 2u);
}

TEST(CliQuantize, FullDiskIsAnErrorAndLeavesNoFile) {
    const std::string dir = fresh_test_dir();
    const std::string in = make_synth(dir);
    fs::create_directories(dir + "/out");
    // A file-size limit makes every write past 64 KiB fail with EFBIG, as a full disk fails with ENOSPC.
    const CmdResult r = run_cmd("bash -c 'trap \"\" XFSZ; ulimit -f 64; exec " + cli_path() +
                                " --device cpu --type q8_0 " + in + " " + dir + "/out/q8.gguf'");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("error"), std::string::npos) << r.output;
    EXPECT_TRUE(list_dir(dir + "/out").empty()) << "a partial file was left behind";
}

TEST(CliQuantize, InterruptLeavesNoFile) {
    const std::string dir = fresh_test_dir();
    const std::string in = make_synth(dir, "--preset small --dtype f16 --seed 5 --layers 4");
    fs::create_directories(dir + "/out");
    // SIGTERM is sent as soon as the temporary output exists, i.e. in the data phase (one thread on
    // Q2_K keeps that phase going for a good fraction of a second). The named temporary file is the one
    // a signal must remove (an anonymous one vanishes by itself: tests/faults_temp_test.cpp).
    const CmdResult r = run_cmd("bash -c 'KQUANT_NAMED_TEMP=1 " + cli_path() + " --device cpu --threads 1 --type q2_k " + in + " " + dir +
                                "/out/q.gguf & pid=$!; for i in $(seq 1000); do ls -A " + dir +
                                "/out | grep -q kquant-tmp && break; sleep 0.005; done; kill -TERM $pid; wait $pid'");
    EXPECT_EQ(r.term_signal, SIGTERM) << "the run was not interrupted (exit " << r.exit_code << "): " << r.output;
    EXPECT_TRUE(list_dir(dir + "/out").empty()) << "a partial file was left behind";
}

TEST(CliQuantize, SameInputAndOutputIsAnError) {
    const std::string dir = fresh_test_dir();
    const std::string in = make_synth(dir);
    const std::string before = slurp(in);
    const CmdResult r = quantize("--device cpu --type q8_0 " + in + " " + dir + "/../" +
                                 fs::path(dir).filename().string() + "/model.gguf");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("same file"), std::string::npos) << r.output;
    EXPECT_TRUE(slurp(in) == before);
}

TEST(CliQuantize, UnknownTypeListsTheValidNames) {
    const std::string dir = fresh_test_dir();
    const std::string in = make_synth(dir);
    const CmdResult r = quantize("--type q4_k_x " + in + " " + dir + "/o.gguf");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("q4_k_x"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("Q4_K_M"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("IQ4_XS"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir + "/o.gguf"));
}

TEST(CliQuantize, TypeNamesAreCaseInsensitive) {
    const std::string dir = fresh_test_dir();
    const std::string in = make_synth(dir);
    ASSERT_EQ(quantize("-q --device cpu --type Q4_K_M " + in + " " + dir + "/a.gguf").exit_code, 0);
    ASSERT_EQ(quantize("-q --device cpu --type q4_k_m " + in + " " + dir + "/b.gguf").exit_code, 0);
    ASSERT_EQ(quantize("-q --device cpu --type 15 " + in + " " + dir + "/c.gguf").exit_code, 0);
    EXPECT_TRUE(slurp(dir + "/a.gguf") == slurp(dir + "/b.gguf"));
    EXPECT_TRUE(slurp(dir + "/a.gguf") == slurp(dir + "/c.gguf"));
}

TEST(CliQuantize, DeviceCudaWithoutAGpuIsAClearError) {
    const std::string dir = fresh_test_dir();
    const std::string in = make_synth(dir);
    const CmdResult r = quantize("--device cuda --type q8_0 " + in + " " + dir + "/o.gguf");
    if (gpu_present()) {
        EXPECT_EQ(r.exit_code, 0) << r.output;
        return;
    }
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("--device cuda"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir + "/o.gguf"));
}

TEST(CliQuantize, DeviceAutoSaysWhichDeviceItUses) {
    const std::string dir = fresh_test_dir();
    const std::string in = make_synth(dir);
    const CmdResult r = quantize("--device auto --type q8_0 " + in + " " + dir + "/o.gguf");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(gpu_present() ? "on cuda" : "on cpu"), std::string::npos) << r.output;
}

// A real GPU run made to fail (KQUANT_CUDA_FAULT, kernels/pipeline.cu): --device auto falls back to
// the CPU only before any quantized byte was written, and says so; --device cuda reports the error; a
// failure after output was written is an error under auto too. No output or temporary file is left.
// (tests/pipeline_fallback_test.cpp checks the same decision without a GPU.)
TEST(CliQuantize, GpuFailureFallsBackOnlyBeforeAnyOutput) {
    if (!gpu_present()) GTEST_SKIP() << "no CUDA device: a GPU run is needed to make one fail";
    const std::string dir = fresh_test_dir();
    const std::string in = make_synth(dir);
    ASSERT_EQ(quantize("-q --device cpu --type q4_k_m " + in + " " + dir + "/cpu.gguf").exit_code, 0);
    const std::string cli = "KQUANT_CUDA_FAULT=alloc " + cli_path() + " --type q4_k_m " + in + " ";

    CmdResult r = run_cmd(cli + "--device auto " + dir + "/auto.gguf");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("falling back to the CPU"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("out of memory"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("on cpu"), std::string::npos) << r.output;
    EXPECT_TRUE(slurp(dir + "/auto.gguf") == slurp(dir + "/cpu.gguf"));

    r = run_cmd(cli + "--device cuda " + dir + "/cuda.gguf");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("out of memory"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir + "/cuda.gguf"));

    r = run_cmd("KQUANT_CUDA_FAULT=after-write " + cli_path() + " --device auto --type q4_k_m " + in + " " + dir +
                "/late.gguf");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("after-write"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("tensor '"), std::string::npos) << r.output;  // names the tensor
    EXPECT_EQ(r.output.find("falling back"), std::string::npos) << r.output;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        EXPECT_TRUE(name == "model.gguf" || name == "cpu.gguf" || name == "auto.gguf") << "left behind: " << name;
    }
}

TEST(CliQuantize, DryRunSizeEqualsTheRealFileSize) {
    const std::string dir = fresh_test_dir();
    const std::string in = make_synth(dir, "--preset tiny --dtype f16 --seed 9 --ffn 608");
    for (const char* type : {"q4_k_m", "q2_k", "q6_k", "q5_0", "iq4_xs"}) {
        const std::string out = dir + "/" + type + ".gguf";
        const CmdResult dry = quantize(std::string("--device cpu --dry-run --type ") + type + " " + in + " " + out);
        ASSERT_EQ(dry.exit_code, 0) << dry.output;
        EXPECT_FALSE(fs::exists(out)) << "--dry-run wrote a file";
        const size_t at = dry.output.find("file size = ");
        ASSERT_NE(at, std::string::npos) << dry.output;
        const uint64_t predicted = std::stoull(dry.output.substr(at + 12));
        const CmdResult real = quantize(std::string("-q --device cpu --type ") + type + " " + in + " " + out);
        ASSERT_EQ(real.exit_code, 0) << real.output;
        EXPECT_EQ(predicted, fs::file_size(out)) << type;
    }
}

}  // namespace
}  // namespace kquant::test

namespace kquant::test {
namespace {

TEST(CliReports, VerifyPrintsPerTensorErrorsAndWritesJson) {
    const std::string dir = fresh_test_dir();
    const std::string in = make_synth(dir);
    const CmdResult r = quantize("--device cpu --type q6_k --verify --report " + dir + "/r.json " + in + " " + dir + "/o.gguf");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("blk.0.attn_q.weight"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("rel err"), std::string::npos) << r.output;
    const std::string json = slurp(dir + "/r.json");
    EXPECT_NE(json.find("\"kind\": \"verify\""), std::string::npos) << json.substr(0, 200);
}

TEST(CliReports, CompareExitsZeroOnlyForIdenticalFiles) {
    const std::string dir = fresh_test_dir();
    const std::string in = make_synth(dir);
    ASSERT_EQ(quantize("-q --device cpu --threads 1 --type q4_k_m " + in + " " + dir + "/a.gguf").exit_code, 0);
    ASSERT_EQ(quantize("-q --device cpu --threads 2 --type q4_k_m " + in + " " + dir + "/b.gguf").exit_code, 0);
    ASSERT_EQ(quantize("-q --device cpu --threads 2 --type q4_k_s " + in + " " + dir + "/c.gguf").exit_code, 0);
    const CmdResult same = quantize("compare " + dir + "/a.gguf " + dir + "/b.gguf");
    EXPECT_EQ(same.exit_code, 0) << same.output;
    EXPECT_NE(same.output.find("identical"), std::string::npos) << same.output;
    const CmdResult diff = quantize("compare " + dir + "/a.gguf " + dir + "/c.gguf");
    EXPECT_EQ(diff.exit_code, 2) << diff.output;
    EXPECT_NE(diff.output.find("different"), std::string::npos) << diff.output;
}

}  // namespace
}  // namespace kquant::test
