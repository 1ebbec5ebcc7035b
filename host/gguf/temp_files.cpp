// The registry is a fixed array of slots whose paths are plain char buffers and whose state is a
// lock-free atomic, so that the signal handler can walk it without locks or allocation
// (only async-signal-safe calls: unlink, sigaction, raise).
#include "gguf/temp_files.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>

#include "kquant/error.h"

namespace kquant::gguf::detail {

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
constexpr int kSignals[] = {SIGINT, SIGTERM};
struct sigaction g_previous[std::size(kSignals)];
std::once_flag g_install_once;

extern "C" void remove_temp_files_and_reraise(int sig) {
    const int saved_errno = errno;
    for (Slot& s : g_slots)
        if (s.state.load(std::memory_order_acquire) == kLive) unlink(s.path);
    // Hand the signal to whatever was installed before us (normally the default action, which ends
    // the process); it is delivered again as soon as this handler returns.
    for (size_t k = 0; k < std::size(kSignals); ++k)
        if (kSignals[k] == sig) sigaction(sig, &g_previous[k], nullptr);
    raise(sig);
    errno = saved_errno;
}

void install_handlers() {
    for (size_t k = 0; k < std::size(kSignals); ++k) {
        struct sigaction current {};
        if (sigaction(kSignals[k], nullptr, &current) != 0) continue;
        if (current.sa_handler == SIG_IGN && !(current.sa_flags & SA_SIGINFO)) continue;  // respect "ignore"
        g_previous[k] = current;
        struct sigaction sa {};
        sa.sa_handler = remove_temp_files_and_reraise;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(kSignals[k], &sa, nullptr);
    }
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

}  // namespace kquant::gguf::detail
