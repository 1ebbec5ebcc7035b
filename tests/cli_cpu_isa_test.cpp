// The --cpu-isa option end to end: every instruction-set level this CPU runs writes the scalar level's
// file byte for byte, names itself in the summary line, and an unknown level is a clear error.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "kquant/quantize.h"
#include "support/run_cmd.h"

namespace kquant::test {
namespace {

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(CliCpuIsa, EveryLevelWritesTheScalarBytes) {
    const std::string dir = fresh_test_dir();
    const std::string in = dir + "/model.gguf";
    const CmdResult s = run_cmd(synth_path() + " --preset tiny --dtype f16 --seed 5 " + in);
    ASSERT_EQ(s.exit_code, 0) << s.output;
    for (const char* type : {"q4_K_M", "q2_K", "iq4_xs", "q5_1"}) {
        const std::string want_path = dir + "/" + type + ".scalar.gguf";
        const CmdResult r0 = run_cmd(cli_path() + " --device cpu --cpu-isa scalar --type " + type + " " + in + " " +
                                     want_path);
        ASSERT_EQ(r0.exit_code, 0) << r0.output;
        EXPECT_NE(r0.output.find("on cpu (scalar, "), std::string::npos) << r0.output;
        const std::string want = slurp(want_path);
        ASSERT_FALSE(want.empty());
        for (CpuIsa isa : {CpuIsa::Avx2, CpuIsa::Avx512}) {
            if (!cpu_isa_supported(isa)) {
                std::cout << "[ skipped  ] " << cpu_isa_name(isa) << ": not supported by this CPU\n";
                continue;
            }
            const std::string name = cpu_isa_name(isa);
            const std::string path = dir + "/" + type + "." + name + ".gguf";
            const CmdResult r = run_cmd(cli_path() + " --device cpu --cpu-isa " + name + " --type " + type + " " +
                                        in + " " + path);
            ASSERT_EQ(r.exit_code, 0) << r.output;
            EXPECT_NE(r.output.find("on cpu (" + name + ", "), std::string::npos) << r.output;
            EXPECT_TRUE(slurp(path) == want) << type << ": " << name << " output differs from scalar";
        }
    }
}

TEST(CliCpuIsa, DefaultIsTheBestLevel) {
    const std::string dir = fresh_test_dir();
    const std::string in = dir + "/model.gguf";
    ASSERT_EQ(run_cmd(synth_path() + " --preset tiny --dtype f16 --seed 5 " + in).exit_code, 0);
    const CmdResult r = run_cmd(cli_path() + " --device cpu --type q8_0 " + in + " " + dir + "/out.gguf");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(std::string("on cpu (") + cpu_isa_name(best_cpu_isa()) + ", "), std::string::npos)
        << r.output;
}

TEST(CliCpuIsa, UnknownLevelIsAnError) {
    const std::string dir = fresh_test_dir();
    const std::string in = dir + "/model.gguf";
    ASSERT_EQ(run_cmd(synth_path() + " --preset tiny --dtype f16 --seed 5 " + in).exit_code, 0);
    const CmdResult r = run_cmd(cli_path() + " --device cpu --cpu-isa sse9 --type q8_0 " + in + " " + dir + "/o.gguf");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.output.find("--cpu-isa: unknown instruction set 'sse9'"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace kquant::test
