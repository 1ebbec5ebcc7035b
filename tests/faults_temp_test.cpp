// Issue 12, item 7: nothing is left behind, whatever ends the process. An anonymous temporary file
// (O_TMPFILE) leaves nothing even after SIGKILL; a named one (where O_TMPFILE is missing, or with
// KQUANT_NAMED_TEMP=1) is removed on every terminating signal that can be caught.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>

#include "gguf/temp_files.h"
#include "kquant/error.h"
#include "kquant/gguf.h"
#include "support/fault_models.h"
#include "support/run_cmd.h"

namespace kquant::test {
namespace {

namespace fs = std::filesystem;
using gguf::TempMode;

// Sets the process-wide temporary-file mode for one test.
class ModeGuard {
public:
    explicit ModeGuard(TempMode m) : old_(gguf::temp_mode()) { gguf::set_temp_mode(m); }
    ~ModeGuard() { gguf::set_temp_mode(old_); }

private:
    TempMode old_;
};

const std::vector<gguf::KV> kKvs = {{"general.architecture", gguf::Value::of_string("llama")}};

std::unique_ptr<gguf::Writer> writer(const std::string& path) {
    return std::make_unique<gguf::Writer>(path, kKvs,
                                          std::vector<gguf::Writer::TensorSpec>{{"a", {64, 2}, Type::F32}});
}

void fill(gguf::Writer& w) {
    const std::vector<uint8_t> d = f32_wave(128);
    w.write_tensor(0, 0, d.data(), d.size());
}

TEST(FaultsTemp, AnonymousFileHasNoNameUntilCommit) {
    ModeGuard mode(TempMode::Anonymous);
    const std::string dir = fresh_test_dir("anon");
    const std::string path = dir + "/model.gguf";
    auto w = writer(path);
    fill(*w);
    EXPECT_TRUE(list_dir(dir).empty()) << "a named file exists before commit";
    EXPECT_NE(w->temp_path().find("unnamed"), std::string::npos) << w->temp_path();
    // Readable before it is named (how --verify checks the result first).
    w->finish(false);
    EXPECT_EQ(gguf::Reader::open(w->readable_path(), path)->tensors().size(), 1u);
    w->publish(false);
    EXPECT_EQ(list_dir(dir), std::vector<std::string>{"model.gguf"});
    // Replacing an existing file goes through a name that exists only for the rename.
    auto w2 = writer(path);
    fill(*w2);
    w2->commit(false);
    EXPECT_EQ(list_dir(dir), std::vector<std::string>{"model.gguf"});
    EXPECT_EQ(gguf::Reader::open(path)->tensors().size(), 1u);
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0666u & ~[] {
        const mode_t m = umask(022);
        umask(m);
        return m;
    }());
    // Dropped without commit: nothing.
    { auto w3 = writer(dir + "/other.gguf"); }
    EXPECT_EQ(list_dir(dir), std::vector<std::string>{"model.gguf"});
}

// SIGKILL cannot be caught: only an anonymous file leaves nothing.
TEST(FaultsTemp, SigkillLeavesNothingWithAnAnonymousFile) {
    ModeGuard mode(TempMode::Anonymous);
    const std::string dir = fresh_test_dir("kill");
    const std::string path = dir + "/model.gguf";
    auto [status, out] = in_child(
        [&](int fd) {
            auto w = writer(path);
            fill(*w);
            send_to_parent(fd, w->temp_path() + "\n");
            pause();
        },
        [](pid_t pid) { kill(pid, SIGKILL); });
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    EXPECT_NE(out.find("unnamed"), std::string::npos) << out;
    EXPECT_TRUE(list_dir(dir).empty());
}

// Every terminating signal that can be caught removes a named temporary file (today only SIGINT and
// SIGTERM did), keeps an existing destination, and still ends the process by that signal.
TEST(FaultsTemp, EveryTerminatingSignalRemovesANamedFile) {
    ModeGuard mode(TempMode::Named);
    for (const int sig : {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE, SIGXFSZ, SIGXCPU,
                          SIGVTALRM, SIGPROF, SIGABRT, SIGSEGV, SIGBUS, SIGFPE}) {
        struct sigaction current {};
        sigaction(sig, nullptr, &current);
        if (current.sa_handler == SIG_IGN) continue;  // inherited "ignore" is respected (nohup)
        const std::string dir = fresh_test_dir("sig" + std::to_string(sig));
        const std::string path = dir + "/model.gguf";
        write_file(path, {'o', 'l', 'd'});
        auto [status, out] = in_child([&](int fd) {
            auto w = writer(path);
            fill(*w);
            send_to_parent(fd, w->temp_path());
            raise(sig);
            _exit(4);
        });
        // Faults go on to the handler that was there before: the default action, or the sanitizer's
        // report (which exits) in the ASan build.
        const bool fault = sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGABRT;
        EXPECT_TRUE((WIFSIGNALED(status) && WTERMSIG(status) == sig) ||
                    (fault && WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 4))
            << strsignal(sig) << ": status " << status;
        EXPECT_NE(out.find(".model.gguf.kquant-tmp-"), std::string::npos) << out;
        EXPECT_EQ(list_dir(dir), std::vector<std::string>{"model.gguf"}) << strsignal(sig);
        EXPECT_EQ(read_file(path), (std::vector<uint8_t>{'o', 'l', 'd'}));
    }
}

// A real fault (not a raised signal) in the data phase: the file goes, and the fault is reported as
// before (the default action, or the sanitizer's report in the ASan build).
TEST(FaultsTemp, ACrashRemovesANamedFile) {
    ModeGuard mode(TempMode::Named);
    const std::string dir = fresh_test_dir("crash");
    auto [status, out] = in_child([&](int fd) {
        auto w = writer(dir + "/model.gguf");
        fill(*w);
        send_to_parent(fd, w->temp_path());
        volatile int* volatile p = reinterpret_cast<int*>(uintptr_t{64});  // unmapped (and not null, which
        *p = 1;                                                              // UBSan would report first)
        _exit(4);
    });
    EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    EXPECT_NE(out.find(".model.gguf.kquant-tmp-"), std::string::npos) << out;
    EXPECT_TRUE(list_dir(dir).empty());
}

// Item 9 for the named path: the temporary name is cut to fit the file name limit.
TEST(FaultsTemp, NamedTemporaryNamesFitTheNameLimit) {
    ModeGuard mode(TempMode::Named);
    const std::string dir = fresh_test_dir("long");
    const std::string name = std::string(250, 'x') + ".gguf";  // 255 bytes: the longest name
    auto w = writer(dir + "/" + name);
    const std::string temp = fs::path(w->temp_path()).filename().string();
    EXPECT_LE(temp.size(), 255u);
    EXPECT_EQ(temp.rfind(".xxx", 0), 0u) << temp;
    EXPECT_NE(temp.find(".kquant-tmp-"), std::string::npos) << temp;
    fill(*w);
    w->commit(false);
    EXPECT_EQ(list_dir(dir), std::vector<std::string>{name});
    EXPECT_EQ(gguf::detail::temp_name_template("ab", 255), ".ab.kquant-tmp-XXXXXX");
    // A cut never splits a UTF-8 character.
    const std::string t = gguf::detail::temp_name_template(std::string(235, 'a') + "\xc3\xa9z", 255);
    EXPECT_EQ(t, "." + std::string(235, 'a') + ".kquant-tmp-XXXXXX");
}

// Named temporary files left by a killed run are recognised (no process holds their lock); a live
// writer's file is not.
TEST(FaultsTemp, StaleTemporaryFilesAreRecognised) {
    ModeGuard mode(TempMode::Named);
    const std::string dir = fresh_test_dir("stale");
    const std::string path = dir + "/model.gguf";
    write_file(dir + "/.model.gguf.kquant-tmp-a1b2c3", {1, 2, 3});
    write_file(dir + "/.other.gguf.kquant-tmp-a1b2c3", {1, 2, 3});
    auto w = writer(path);
    EXPECT_EQ(gguf::stale_temp_files(path), std::vector<std::string>{dir + "/.model.gguf.kquant-tmp-a1b2c3"});
    w.reset();
    // From the command line: a note, and the run goes on.
    GgufBuilder b = llama_builder();
    b.tensor("blk.0.attn_q.weight", {64, 2}, Type::F32, f32_wave(128));
    const std::string in = write_image(dir + "/in.gguf", b.build());
    const CmdResult r = run_cmd(kq() + " --type q8_0 " + in + " " + path);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("left by an interrupted kquant-cuda run"), std::string::npos) << r.output;
}

// The command line, killed in the data phase: SIGHUP (a closed terminal) with a named file, SIGKILL with
// the default anonymous one. Nothing is left in either case.
TEST(FaultsTemp, KilledCommandLeavesNothing) {
    const std::string dir = fresh_test_dir("cli");
    const std::string in = dir + "/model.gguf";
    ASSERT_EQ(run_cmd(synth_path() + " --preset small --dtype f16 --seed 5 --layers 4 " + in).exit_code, 0);
    fs::create_directories(dir + "/out");
    const std::string cmd = kq() + " --threads 1 --type q2_k " + in + " " + dir + "/out/q.gguf";
    // Waits until the run has its temporary file: named in the directory, or an open "(deleted)" file of
    // the directory in /proc/PID/fd.
    const std::string wait_named = "for i in $(seq 2000); do ls -A " + dir + "/out | grep -q kquant-tmp && break; sleep 0.005; done";
    const std::string wait_anon = "for i in $(seq 2000); do ls -l /proc/$pid/fd 2>/dev/null | grep -q \"" + dir +
                                  "/out/.*(deleted)\" && break; sleep 0.005; done";
    CmdResult r = run_cmd("bash -c 'KQUANT_NAMED_TEMP=1 " + cmd + " & pid=$!; " + wait_named +
                          "; kill -HUP $pid; wait $pid'");
    EXPECT_EQ(r.term_signal, SIGHUP) << "the run was not interrupted (exit " << r.exit_code << "): " << r.output;
    EXPECT_TRUE(list_dir(dir + "/out").empty());
    r = run_cmd("bash -c '" + cmd + " & pid=$!; " + wait_anon + "; kill -KILL $pid; wait $pid'");
    EXPECT_EQ(r.term_signal, SIGKILL) << "the run was not killed (exit " << r.exit_code << "): " << r.output;
    EXPECT_TRUE(list_dir(dir + "/out").empty());
}

}  // namespace
}  // namespace kquant::test
