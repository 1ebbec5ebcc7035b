// A disk write that fails while CPU worker threads quantize (pwrite's errno injected into the writer): the
// worker's exception reaches the caller as a clear error naming the output, the other workers stop, and
// neither the output nor its temporary file is left. Before the pool carried exceptions back, the failing
// worker called std::terminate and the temporary file stayed.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "kquant/error.h"
#include "kquant/model.h"
#include "kquant/pipeline.h"
#include "kquant/presets.h"
#include "support/gguf_builder.h"
#include "support/run_cmd.h"

namespace kquant::test {
namespace {

struct InjectedFault {
    InjectedFault(int after, int err) { gguf::testing::fail_tensor_writes_after(after, err); }
    ~InjectedFault() { gguf::testing::fail_tensor_writes_after(-1, 0); }
};

TEST(PipelineWriteFailure, WorkerWriteErrorIsReportedAndNothingIsLeft) {
    const std::string dir = fresh_test_dir(), in = dir + "/m.gguf", out = dir + "/out.gguf";
    const CmdResult r = run_cmd(synth_path() + " --preset tiny --seed 3 --threads 2 " + in);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto model = gguf::Model::open(in);
    QuantParams p;
    p.set_preset(parse_preset("Q8_0"));
    const QuantPlan qp = plan_quantization(model->tensors(), model_info_from_kvs(model->kvs()), p);
    const auto kvs = build_output_kvs(model->kvs(), output_file_type(p, model->kvs(), model->tensors()), {});
    const auto plan = to_pipeline_plan(qp, model->tensors());

    for (int after : {0, 5}) {
        SCOPED_TRACE("failing write after " + std::to_string(after) + " good ones");
        PipelineOptions opt;
        opt.threads = 4;
        const InjectedFault fault(after, ENOSPC);
        try {
            run_pipeline(*model, kvs, plan, out, opt, nullptr);
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("No space left on device"), std::string::npos) << what;
            EXPECT_NE(what.find("out.gguf"), std::string::npos) << what;
        }
        for (const std::string& f : list_dir(dir)) EXPECT_EQ(f, "m.gguf") << "left " << f;
    }
}

}  // namespace
}  // namespace kquant::test
