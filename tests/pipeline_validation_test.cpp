// Quantized rows are validated as ggml_validate_row_data does, as llama-quantize does for every tensor it
// writes: a row that fails (the golden file's known cases: Q4_1/Q5_1 with an imatrix on blocks of ±65504
// give an inf scale; MXFP4 on blocks whose maximum is below 2^-125 gives the E8M0 exponent 255) stops the
// run with an error naming the tensor, the row and the field, and leaves no file; a GPU run does not fall
// back to the CPU for it (the CPU would make the same bytes).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "kquant/error.h"
#include "kquant/gguf.h"
#include "kquant/model.h"
#include "kquant/pipeline.h"
#include "support/gguf_builder.h"
#include "support/run_cmd.h"

namespace kquant::test {
namespace {

struct GoldenRows {
    std::vector<int64_t> ne;
    std::vector<uint8_t> input;  // F32 bytes
    std::vector<float> imatrix;
};

GoldenRows golden_rows(const char* path, const std::string& name) {
    const auto r = gguf::Reader::open(path);
    const gguf::TensorInfo* in = r->find_tensor(name + ".input");
    const gguf::TensorInfo* im = r->find_tensor(name + ".imatrix");
    EXPECT_TRUE(in != nullptr && im != nullptr) << name;
    GoldenRows g;
    g.ne = {in->ne_at(0), in->nrows()};
    g.input.assign(r->tensor_data(*in), r->tensor_data(*in) + in->nbytes);
    g.imatrix.resize(static_cast<size_t>(im->nelements()));
    std::memcpy(g.imatrix.data(), r->tensor_data(*im), g.imatrix.size() * sizeof(float));
    return g;
}

// Quantizes the golden case's rows as tensor blk.0.ffn_up.weight to type t; returns the error (empty when
// the output was written).
std::string quantize_error(const GoldenRows& g, Type t, bool imat, DeviceKind device = DeviceKind::Cpu,
                           AcceleratorFn accelerator = nullptr) {
    const std::string dir = fresh_test_dir(), in = dir + "/in.gguf", out = dir + "/out.gguf";
    GgufBuilder b;
    b.kv("general.architecture", gguf::Value::of_string("llama"));
    b.tensor("blk.0.ffn_up.weight", g.ne, Type::F32, g.input);
    write_file(in, b.build().bytes);
    const auto model = gguf::Model::open(in);
    PlannedTensor p;
    p.src = &model->tensors()[0];
    p.name = p.src->name;
    p.dst = t;
    p.action = TensorAction::Quantize;
    p.qw = imat ? g.imatrix.data() : nullptr;
    PipelineOptions opt;
    opt.threads = 2;
    opt.device = device;
    opt.accelerator = std::move(accelerator);
    opt.allow_cpu_fallback = true;
    std::string what;
    try {
        run_pipeline(*model, model->kvs(), {p}, out, opt, nullptr);
    } catch (const Error& e) {
        what = e.what();
    }
    const std::vector<std::string> want = what.empty() ? std::vector<std::string>{"in.gguf", "out.gguf"}
                                                       : std::vector<std::string>{"in.gguf"};
    std::vector<std::string> files = list_dir(dir);
    std::sort(files.begin(), files.end());
    EXPECT_EQ(files, want) << (what.empty() ? "the output is missing" : "a file was left behind");
    return what;
}

TEST(PipelineValidation, InfScaleStopsTheRunNamingTensorRowAndField) {
    const GoldenRows g = golden_rows(KQ_GOLDEN_PATH, "huge_6e4");
    for (Type t : {Type::Q4_1, Type::Q5_1}) {
        const std::string e = quantize_error(g, t, true);
        EXPECT_NE(e.find("tensor 'blk.0.ffn_up.weight'"), std::string::npos) << e;
        EXPECT_NE(e.find("quantized data validation failed: row "), std::string::npos) << e;
        EXPECT_NE(e.find("inf min m"), std::string::npos) << e;
        // Without the imatrix the same rows quantize to finite scales.
        EXPECT_EQ(quantize_error(g, t, false), "");
    }
}

TEST(PipelineValidation, InvalidE8m0ExponentStopsTheRun) {
    const std::string e = quantize_error(golden_rows(KQ_EXTRA_GOLDEN_PATH, "tiny_1e-38"), Type::MXFP4, false);
    EXPECT_NE(e.find("invalid E8M0 exponent 255"), std::string::npos) << e;
}

// An accelerator that writes what the CPU would (so its rows fail validation the same way): the error
// stands, with no fallback to the CPU.
TEST(PipelineValidation, AValidationFailureOnTheGpuPathIsNotAGpuFailure) {
    const GoldenRows g = golden_rows(KQ_GOLDEN_PATH, "huge_6e4");
    bool fell_back = false;
    const AcceleratorFn acc = [&](const std::vector<QuantJob>& jobs, const WriteFn& write, const ProgressFn&) {
        run_cpu_jobs(jobs, 1, write, nullptr);
        fell_back = true;  // not reached: the write throws
        return AcceleratorStats{};
    };
    const std::string e = quantize_error(g, Type::Q4_1, true, DeviceKind::Cuda, acc);
    EXPECT_NE(e.find("quantized data validation failed"), std::string::npos) << e;
    EXPECT_EQ(e.find("falling back"), std::string::npos) << e;
    EXPECT_FALSE(fell_back);
}

}  // namespace
}  // namespace kquant::test
