// The pipeline's decision when the accelerator fails (--device auto): the CPU takes over only when no
// quantized byte was written yet, says so, and gives the CPU's bytes; otherwise the error stands and no
// output is left. The accelerator here is a stand-in that fails on purpose, so this runs without a GPU;
// tests/cli_quantize_test.cpp makes a real GPU run fail the same ways (KQUANT_CUDA_FAULT).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "kquant/error.h"
#include "kquant/model.h"
#include "kquant/pipeline.h"
#include "kquant/presets.h"
#include "support/run_cmd.h"

namespace kquant::test {
namespace {

struct Fixture {
    std::string dir, in;
    std::unique_ptr<gguf::Model> model;
    std::vector<gguf::KV> kvs;
    std::vector<PlannedTensor> plan;

    Fixture() : dir(fresh_test_dir()), in(dir + "/m.gguf") {
        const CmdResult r = run_cmd(synth_path() + " --preset tiny --seed 6 --threads 2 " + in);
        EXPECT_EQ(r.exit_code, 0) << r.output;
        model = gguf::Model::open(in);
        QuantParams p;
        p.set_preset(parse_preset("Q4_K_M"));
        const QuantPlan qp = plan_quantization(model->tensors(), model_info_from_kvs(model->kvs()), p);
        kvs = build_output_kvs(model->kvs(), output_file_type(p, model->kvs(), model->tensors()), {});
        plan = to_pipeline_plan(qp, model->tensors());
    }

    // Runs the pipeline; returns the log lines.
    std::vector<std::string> run(const std::string& out, const PipelineOptions& opt, PipelineStats* st = nullptr) {
        std::vector<std::string> log;
        const PipelineStats s = run_pipeline(*model, kvs, plan, out, opt, [&](const std::string& l) { log.push_back(l); });
        if (st) *st = s;
        return log;
    }

    // The run must fail with an error containing `message` and leave no output or temporary file.
    void expect_failure(const std::string& out, const PipelineOptions& opt, const std::string& message) {
        try {
            run(out, opt);
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
        }
        for (const std::string& f : list_dir(dir)) EXPECT_TRUE(f == "m.gguf" || f == "cpu.gguf") << "left " << f;
    }
};

PipelineOptions gpu_options(AcceleratorFn fn, bool fallback) {
    PipelineOptions o;
    o.device = DeviceKind::Cuda;
    o.threads = 2;
    o.accelerator = std::move(fn);
    o.allow_cpu_fallback = fallback;
    return o;
}

AcceleratorStats fail_at_once(const std::vector<QuantJob>&, const WriteFn&, const ProgressFn&) {
    throw Error("CUDA device 0: device allocation: out of memory");
}

// Writes one quantized byte (of the first job), then fails.
AcceleratorStats fail_after_a_write(const std::vector<QuantJob>& jobs, const WriteFn& write, const ProgressFn&) {
    EXPECT_FALSE(jobs.empty());
    const std::vector<uint8_t> block(type_info(jobs[0].dst_type).block_bytes, 0);  // one whole (valid) block
    write(0, 0, block.data(), block.size());
    throw Error("tensor '" + jobs[0].name + "': CUDA error: an illegal memory access was encountered");
}

TEST(PipelineFallback, CpuTakesOverWhenTheGpuFailsBeforeWriting) {
    Fixture f;
    PipelineOptions cpu;
    cpu.threads = 2;
    f.run(f.dir + "/cpu.gguf", cpu);
    PipelineStats st;
    const auto log = f.run(f.dir + "/auto.gguf", gpu_options(fail_at_once, true), &st);
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0], "GPU failed before writing any quantized data (CUDA device 0: device allocation: out of memory); "
                      "falling back to the CPU");
    EXPECT_EQ(st.backend.rfind("cpu (", 0), 0u) << st.backend;
    EXPECT_EQ(read_file(f.dir + "/auto.gguf"), read_file(f.dir + "/cpu.gguf"));
}

TEST(PipelineFallback, WithoutAutoTheGpuErrorStandsAndNothingIsLeft) {
    Fixture f;
    f.expect_failure(f.dir + "/cuda.gguf", gpu_options(fail_at_once, false), "out of memory");
}

TEST(PipelineFallback, NoFallbackOnceQuantizedBytesWereWritten) {
    Fixture f;
    f.expect_failure(f.dir + "/auto.gguf", gpu_options(fail_after_a_write, true), "illegal memory access");
}

TEST(PipelineFallback, AWorkingAcceleratorIsReported) {
    Fixture f;
    PipelineOptions cpu;
    cpu.threads = 2;
    f.run(f.dir + "/cpu.gguf", cpu);
    int calls = 0;
    const auto on_cpu_threads = [&](const std::vector<QuantJob>& jobs, const WriteFn& write, const ProgressFn& progress) {
        ++calls;
        run_cpu_jobs(jobs, 2, write, progress);
        AcceleratorStats s;
        s.backend = "stand-in";
        s.kernel_s = 1.5;
        return s;
    };
    PipelineStats st;
    EXPECT_TRUE(f.run(f.dir + "/acc.gguf", gpu_options(on_cpu_threads, true), &st).empty());
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(st.backend, "stand-in");
    EXPECT_EQ(st.kernel_s, 1.5);
    EXPECT_EQ(read_file(f.dir + "/acc.gguf"), read_file(f.dir + "/cpu.gguf"));
}

}  // namespace
}  // namespace kquant::test
