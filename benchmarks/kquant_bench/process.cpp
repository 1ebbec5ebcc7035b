// Child processes (kquant-synth, kquant-cuda, gnuplot) and finding their executables.
#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kquant/error.h"
#include "kquant_bench/bench.h"

extern char** environ;

namespace kquant::bench {

int run_process(const std::vector<std::string>& argv, bool discard_stdout) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    posix_spawn_file_actions_t fa;
    ::posix_spawn_file_actions_init(&fa);
    if (discard_stdout) ::posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    const int rc = ::posix_spawn(&pid, argv.at(0).c_str(), &fa, nullptr, args.data(), environ);
    ::posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw Error("cannot run " + argv[0] + ": " + std::strerror(rc));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throw Error("waiting for " + argv[0] + ": " + std::strerror(errno));
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

std::string find_tool(const std::string& name) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const fs::path sibling = self.parent_path() / name;
        if (::access(sibling.c_str(), X_OK) == 0) return sibling.string();
    }
    const char* path = std::getenv("PATH");
    if (!path) return "";
    const std::string dirs = path;
    for (size_t start = 0; start <= dirs.size();) {
        size_t end = dirs.find(':', start);
        if (end == std::string::npos) end = dirs.size();
        const std::string dir = dirs.substr(start, end - start);
        const fs::path cand = fs::path(dir.empty() ? "." : dir) / name;
        if (::access(cand.c_str(), X_OK) == 0 && fs::is_regular_file(cand, ec)) return cand.string();
        start = end + 1;
    }
    return "";
}

}  // namespace kquant::bench
