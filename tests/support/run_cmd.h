// Runs the project's executables from tests: exit status, captured output, and the files they leave.
#pragma once
#include <sys/types.h>

#include <functional>
#include <string>
#include <utility>
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

// Forks; the child runs `child` with the write end of a pipe (without core files: some tests end it by a
// signal that dumps core by default) and exits 0 when it returns. `parent`, if given, is called with the
// child's pid once the child has written its first line. Returns the wait status and everything the
// child wrote ({-1, "pipe failed"} if no pipe could be made).
std::pair<int, std::string> in_child(const std::function<void(int fd)>& child,
                                     const std::function<void(pid_t)>& parent = {});
// Writes s to the pipe of in_child's child; a failed write ends the child with status 3.
void send_to_parent(int fd, const std::string& s);

std::string cli_path();
std::string synth_path();

}  // namespace kquant::test
