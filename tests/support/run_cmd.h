// Runs the project's executables from tests: exit status, captured output, and the files they leave.
#pragma once
#include <string>
#include <vector>

#include "support/gguf_builder.h"

namespace kquant::test {

struct CmdResult {
    int exit_code = -1;   // exit status, or -1 when killed by a signal
    int term_signal = 0;  // the signal that ended it, or 0
    std::string output;   // stdout and stderr together
};

// Runs `cmd` through /bin/sh, capturing stdout+stderr.
CmdResult run_cmd(const std::string& cmd);

// A fresh empty directory under KQ_TEST_TMPDIR named after the running test (see gguf_builder.h).
std::string fresh_test_dir();

std::string cli_path();
std::string synth_path();

}  // namespace kquant::test
