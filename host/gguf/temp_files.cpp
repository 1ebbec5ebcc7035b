// Pending output files and the registry of named temporary files.
//
// The registry is a fixed array of slots whose paths are plain char buffers and whose state is a
// lock-free atomic, so that the signal handler can walk it without locks or allocation (only
// async-signal-safe calls: unlink, sigaction, raise).
#include "gguf/temp_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>

#include "common/file_kind.h"
#include "kquant/error.h"
#include "kquant/gguf.h"

#if defined(__SANITIZE_ADDRESS__)
#define KQ_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KQ_SANITIZED 1
#endif
#endif
#if KQ_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

namespace kquant::gguf {

namespace {
// -1: not decided yet (the environment decides on first use).
std::atomic<int> g_temp_mode{-1};
}  // namespace

void set_temp_mode(TempMode m) { g_temp_mode.store(static_cast<int>(m)); }

TempMode temp_mode() {
    int m = g_temp_mode.load();
    if (m < 0) {
        const char* env = std::getenv("KQUANT_NAMED_TEMP");
        m = static_cast<int>(env && *env && std::strcmp(env, "0") != 0 ? TempMode::Named : TempMode::Anonymous);
        int expected = -1;
        g_temp_mode.compare_exchange_strong(expected, m);
        m = g_temp_mode.load();
    }
    return static_cast<TempMode>(m);
}

namespace detail {

namespace {

constexpr int kSlots = 128;
constexpr size_t kMaxPath = 4096;
enum SlotState : int { kFree = 0, kClaimed = 1, kLive = 2 };

struct Slot {
    std::atomic<int> state{kFree};
    char path[kMaxPath];
};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free state");

Slot g_slots[kSlots];

// Every signal whose default action ends the process (SIGKILL and SIGSTOP cannot be caught; an
// anonymous temporary file covers SIGKILL). The first group arrives from outside and is blocked while a
// file is created and registered; the second are the process's own faults.
constexpr int kAsyncSignals[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGTERM,   SIGUSR1, SIGUSR2, SIGALRM,
                                 SIGPIPE, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGABRT};
constexpr int kFaultSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGSYS};
constexpr size_t kAllSignals = std::size(kAsyncSignals) + std::size(kFaultSignals);
int g_signals[kAllSignals];
struct sigaction g_previous[kAllSignals];
std::once_flag g_install_once;
// An alternate stack for the installing thread, so that a stack overflow still reaches the handler.
alignas(64) char g_alt_stack[1 << 16];

bool is_fault(int sig) {
    for (int f : kFaultSignals)
        if (f == sig) return true;
    return false;
}

void remove_live_temp_files() {
    for (Slot& s : g_slots)
        if (s.state.load(std::memory_order_acquire) == kLive) unlink(s.path);
}

extern "C" void remove_temp_files_and_reraise(int sig, siginfo_t* info, void*) {
    const int saved_errno = errno;
    remove_live_temp_files();
    // Hand the signal to whatever was installed before us (normally the default action, which ends the
    // process). A fault raised by the CPU happens again when the handler returns; any other signal is
    // raised again and delivered as soon as the handler returns.
    for (size_t k = 0; k < kAllSignals; ++k)
        if (g_signals[k] == sig) sigaction(sig, &g_previous[k], nullptr);
    if (!(is_fault(sig) && info && info->si_code > 0)) raise(sig);
    errno = saved_errno;
}

void install_handlers() {
#if KQ_SANITIZED
    // A sanitizer's report ends the process without a signal; it runs this first.
    __sanitizer_set_death_callback(remove_live_temp_files);
#endif
    size_t k = 0;
    for (int s : kAsyncSignals) g_signals[k++] = s;
    for (int s : kFaultSignals) g_signals[k++] = s;
    stack_t current_stack {};
    if (sigaltstack(nullptr, &current_stack) == 0 && (current_stack.ss_flags & SS_DISABLE)) {
        stack_t ss {};
        ss.ss_sp = g_alt_stack;
        ss.ss_size = sizeof g_alt_stack;
        sigaltstack(&ss, nullptr);
    }
    for (k = 0; k < kAllSignals; ++k) {
        struct sigaction current {};
        if (sigaction(g_signals[k], nullptr, &current) != 0) continue;
        // Respect "ignore" (nohup ignores SIGHUP; a test may ignore SIGXFSZ to see EFBIG).
        if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN) {
            g_signals[k] = 0;
            continue;
        }
        g_previous[k] = current;
        struct sigaction sa {};
        sa.sa_sigaction = remove_temp_files_and_reraise;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
        sigaction(g_signals[k], &sa, nullptr);
    }
}

// Blocks the signals that come from outside for the lifetime of the guard.
class SignalBlock {
public:
    SignalBlock() {
        sigset_t block;
        sigemptyset(&block);
        for (int s : kAsyncSignals) sigaddset(&block, s);
        pthread_sigmask(SIG_BLOCK, &block, &old_);
    }
    ~SignalBlock() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

private:
    sigset_t old_;
};

std::string errno_text(int e) { return std::strerror(e); }

// Permissions a plainly created file would get (0666 & ~umask); mkstemp gives 0600. The umask is read
// from /proc because umask(2) can only be queried by changing it, which races with other threads.
mode_t default_file_mode() {
    mode_t mask = 022;
    if (FILE* f = std::fopen("/proc/self/status", "re")) {
        char line[256];
        while (std::fgets(line, sizeof line, f))
            if (std::strncmp(line, "Umask:", 6) == 0) {
                mask = static_cast<mode_t>(std::strtoul(line + 6, nullptr, 8));
                break;
            }
        std::fclose(f);
    }
    return 0666 & ~mask;
}

// Directory and file name parts of a path ("." for a bare name).
std::pair<std::string, std::string> split_path(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return {".", path};
    return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

size_t name_max(const std::string& dir) {
    const long n = pathconf(dir.c_str(), _PC_NAME_MAX);
    return n > 32 ? static_cast<size_t>(n) : 255;
}

std::string proc_fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// An output may replace a regular file, never anything else: publishing renames onto the name, which
// would put a regular file where a device (/dev/null), FIFO or socket was.
void check_destination(const std::string& path) {
    if (path.empty()) fail(path, "", "empty output file name");
    if (path.back() == '/')
        fail(path, "", "the output names a directory (it ends in '/'); give a file name inside it");
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
        fail(path, "", std::string("the output exists and is ") + file_kind(st.st_mode) +
                           "; kquant-cuda only replaces regular files (remove it or choose another name)");
}

}  // namespace

int register_temp_file(const std::string& path) {
    if (path.size() >= kMaxPath) throw Error(path + ": temporary file path too long");
    std::call_once(g_install_once, install_handlers);
    for (int i = 0; i < kSlots; ++i) {
        int expected = kFree;
        if (g_slots[i].state.compare_exchange_strong(expected, kClaimed, std::memory_order_acq_rel)) {
            std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
            g_slots[i].state.store(kLive, std::memory_order_release);
            return i;
        }
    }
    throw Error(path + ": too many temporary files open at once (" + std::to_string(kSlots) + ")");
}

void unregister_temp_file(int slot) {
    if (slot >= 0 && slot < kSlots) g_slots[slot].state.store(kFree, std::memory_order_release);
}

std::string temp_name_template(const std::string& base, size_t name_max) {
    static constexpr char kSuffix[] = ".kquant-tmp-XXXXXX";
    const size_t room = name_max - 1 - (sizeof kSuffix - 1);  // the leading '.' and the suffix
    std::string cut = base.substr(0, room);
    // Do not leave half a UTF-8 character at the cut.
    if (cut.size() < base.size())
        while (!cut.empty() && (static_cast<unsigned char>(base[cut.size()]) & 0xc0u) == 0x80u) cut.pop_back();
    return "." + cut + kSuffix;
}

PendingFile::PendingFile(const std::string& path) : path_(path) {
    check_destination(path_);
    const auto [dir, base] = split_path(path_);
    dir_ = dir;
    if (base.empty() || base == "." || base == "..")
        fail(path_, "", "the output names a directory; give a file name inside it");
    std::call_once(g_install_once, install_handlers);

    if (temp_mode() == TempMode::Anonymous) {
        // O_TMPFILE applies the mode and the umask as a plain creation would.
        const int fd = ::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0666);
        if (fd >= 0) {
            // publish() names the file through /proc; without it the named path is the safe one.
            if (::access(proc_fd_path(fd).c_str(), F_OK) == 0) {
                fd_ = fd;
                anonymous_ = true;
                temp_name_ = dir_ + "/(unnamed temporary file)";
                return;
            }
            ::close(fd);
        }
        // Otherwise (a filesystem without O_TMPFILE: EOPNOTSUPP, EISDIR or EINVAL on old kernels, or any
        // other failure, which the named path reports) fall through.
    }

    std::string name = dir_ + "/" + temp_name_template(base, name_max(dir_));
    int create_errno = 0;
    {
        // An interrupt cannot fall between creating and registering, and leave an unregistered file.
        SignalBlock block;
        fd_ = ::mkostemp(name.data(), O_CLOEXEC);
        create_errno = errno;
        if (fd_ >= 0) {
            temp_name_ = name;
            try {
                slot_ = register_temp_file(temp_name_);
            } catch (...) {
                ::close(fd_);
                ::unlink(temp_name_.c_str());
                fd_ = -1;
                throw;
            }
        }
    }
    if (fd_ < 0) fail(path_, "", "cannot create a temporary file in " + dir_ + ": " + errno_text(create_errno));
    // A lock held while the file lives tells a later run that it is not stale (stale_temp_files()).
    ::flock(fd_, LOCK_EX | LOCK_NB);
    if (fchmod(fd_, default_file_mode()) != 0) {
        const int e = errno;
        ::close(fd_);
        fd_ = -1;
        ::unlink(temp_name_.c_str());
        unregister_temp_file(slot_);
        slot_ = -1;
        fail(path_, "", "cannot set permissions of " + temp_name_ + ": " + errno_text(e));
    }
}

PendingFile::~PendingFile() {
    if (fd_ >= 0) ::close(fd_);  // an anonymous file that was never linked vanishes here
    if (!published_ && !anonymous_ && !temp_name_.empty()) ::unlink(temp_name_.c_str());
    unregister_temp_file(slot_);
}

std::string PendingFile::readable_path() const { return anonymous_ ? proc_fd_path(fd_) : temp_name_; }

void PendingFile::finish(bool durable) {
    if (finished_ || fd_ < 0) fail(path_, "", "finish called twice");
    if (durable && ::fsync(fd_) != 0) fail(path_, "", "cannot flush " + temp_name_ + ": " + errno_text(errno));
    if (!anonymous_) {
        const int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) fail(path_, "", "cannot close " + temp_name_ + ": " + errno_text(errno));
    }
    finished_ = true;
}

void PendingFile::publish(bool durable) {
    if (!finished_ || published_) fail(path_, "", "publish needs a finished, unpublished file");
    check_destination(path_);  // again: something may have appeared there meanwhile
    if (anonymous_) {
        const std::string proc = proc_fd_path(fd_);
        if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path_.c_str(), AT_SYMLINK_FOLLOW) != 0) {
            if (errno != EEXIST) fail(path_, "", "cannot give the output its name: " + errno_text(errno));
            // The destination exists: name the file next to it, then rename over it (which replaces it
            // atomically). Only this moment has a named temporary file, registered like the others.
            std::mt19937_64 rng(std::random_device{}());
            std::string name;
            int slot = -1;
            for (int attempt = 0;; ++attempt) {
                name = dir_ + "/" + temp_name_template(split_path(path_).second, name_max(dir_));
                static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
                for (size_t k = name.size() - 6; k < name.size(); ++k) name[k] = kChars[rng() % (sizeof kChars - 1)];
                SignalBlock block;
                if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, name.c_str(), AT_SYMLINK_FOLLOW) == 0) {
                    try {
                        slot = register_temp_file(name);
                    } catch (...) {
                        ::unlink(name.c_str());
                        throw;
                    }
                    break;
                }
                const int e = errno;
                if (e != EEXIST || attempt >= 100)
                    fail(path_, "", "cannot create a temporary name in " + dir_ + ": " + errno_text(e));
            }
            if (::rename(name.c_str(), path_.c_str()) != 0) {
                const int e = errno;
                ::unlink(name.c_str());
                unregister_temp_file(slot);
                fail(path_, "", "cannot rename " + name + " onto the destination: " + errno_text(e));
            }
            unregister_temp_file(slot);
        }
        ::close(fd_);
        fd_ = -1;
    } else {
        if (::rename(temp_name_.c_str(), path_.c_str()) != 0)
            fail(path_, "", "cannot rename " + temp_name_ + " onto the destination: " + errno_text(errno));
        unregister_temp_file(slot_);
        slot_ = -1;
    }
    published_ = true;
    // Make the new name durable; a failure here leaves a complete file, so it is not an error.
    const int dfd = durable ? ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

std::unique_ptr<PendingFile> pending_text_file(const std::string& path, std::string_view text) {
    auto f = std::make_unique<PendingFile>(path);
    const char* p = text.data();
    size_t left = text.size();
    while (left > 0) {
        const ssize_t w = ::write(f->fd(), p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) fail(path, "", "cannot write " + f->temp_name() + ": " + errno_text(w < 0 ? errno : EIO));
        p += w;
        left -= static_cast<size_t>(w);
    }
    f->finish(false);
    return f;
}

}  // namespace detail

std::vector<std::string> stale_temp_files(const std::string& path) {
    std::vector<std::string> out;
    const auto [dir, base] = detail::split_path(path);
    if (base.empty() || base == "." || base == "..") return out;
    std::string prefix = detail::temp_name_template(base, detail::name_max(dir));
    prefix.resize(prefix.size() - 6);  // without the XXXXXX
    DIR* d = ::opendir(dir.c_str());
    if (!d) return out;
    while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name.size() != prefix.size() + 6 || name.compare(0, prefix.size(), prefix) != 0) continue;
        const std::string full = dir + "/" + name;
        const int fd = ::open(full.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st {};
        // A live writer holds an exclusive lock on its file; a file nobody locks was left behind.
        if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ::flock(fd, LOCK_SH | LOCK_NB) == 0) out.push_back(full);
        ::close(fd);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace kquant::gguf
