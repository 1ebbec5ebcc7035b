#include "support/run_cmd.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace kquant::test {

CmdResult run_cmd(const std::string& cmd) {
    CmdResult r;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (p == nullptr) return r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
    const int st = pclose(p);
    if (WIFEXITED(st)) {
        r.exit_code = WEXITSTATUS(st);
        // /bin/sh reports a child killed by signal N as exit status 128+N
        if (r.exit_code > 128 && r.exit_code < 160) r.term_signal = r.exit_code - 128;
    } else if (WIFSIGNALED(st)) {
        r.term_signal = WTERMSIG(st);
    }
    return r;
}

std::string fresh_test_dir() { return fresh_test_dir("work"); }

// KQ_CLI_OVERRIDE runs the CLI tests against another build of kquant-cuda (e.g. to see a new test fail
// on an older binary).
std::string cli_path() {
    const char* other = std::getenv("KQ_CLI_OVERRIDE");
    return other && *other ? other : KQ_CLI_PATH;
}
std::string synth_path() { return KQ_SYNTH_PATH; }

}  // namespace kquant::test
