#include "support/run_cmd.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace kquant::test {

std::pair<int, std::string> in_child(const std::function<void(int fd)>& child, const std::function<void(pid_t)>& parent) {
    int fds[2];
    if (pipe(fds) != 0) return {-1, "pipe failed"};
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        struct rlimit no_core {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        child(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    std::string out;
    char buf[512];
    ssize_t n;
    bool told = false;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) {
        out.append(buf, static_cast<size_t>(n));
        if (!told && parent && out.find('\n') != std::string::npos) {
            told = true;
            parent(pid);
        }
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return {status, out};
}

void send_to_parent(int fd, const std::string& s) {
    if (write(fd, s.data(), s.size()) < 0) _exit(3);
}

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
