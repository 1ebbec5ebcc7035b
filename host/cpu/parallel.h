// The CPU thread pool pattern of the project, in one place: chunks handed out in order from an atomic
// counter to short-lived threads. Which thread takes which chunk never affects the bytes, because every
// chunk is quantized on its own.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace kquant {

// The thread count an option asks for: n, or all cores when n <= 0.
inline int resolve_threads(int n) {
    return n > 0 ? n : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Runs worker(next) on min(resolve_threads(threads), nchunks) threads, the calling one included. A worker
// keeps its own state and loops `for (int64_t c; (c = next()) >= 0;)` over the chunks it takes.
template <class Worker>
void run_chunked(int64_t nchunks, int threads, Worker&& worker) {
    std::atomic<int64_t> counter{0};
    const auto next = [&]() -> int64_t {
        const int64_t c = counter.fetch_add(1);
        return c < nchunks ? c : -1;
    };
    const int nt = static_cast<int>(std::min<int64_t>(resolve_threads(threads), std::max<int64_t>(1, nchunks)));
    std::vector<std::jthread> pool;
    pool.reserve(static_cast<size_t>(nt - 1));
    for (int t = 1; t < nt; ++t) pool.emplace_back([&] { worker(next); });
    worker(next);
}

}  // namespace kquant
