// The project's threads, in one place: the short-lived chunk pools of the CPU backend, the row driver,
// the reports and kquant-synth (run_chunked, parallel_for), and the persistent pool of the GPU
// pipeline's I/O (TaskPool). Every one carries the first exception a worker throws back to the caller,
// after every worker has stopped, and hands out no new work once one has failed. Which thread takes which
// chunk never affects the bytes: every chunk is processed on its own.
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kquant {

// The thread count an option asks for: n, or all cores when n <= 0.
inline int resolve_threads(int n) {
    return n > 0 ? n : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// The first exception of a group of workers.
class FirstError {
public:
    // Call from a catch block.
    void capture() {
        std::lock_guard lk(m_);
        if (!error_) error_ = std::current_exception();
        failed_.store(true);
    }
    bool failed() const { return failed_.load(); }
    void rethrow() {
        if (error_) std::rethrow_exception(error_);
    }

private:
    std::mutex m_;
    std::exception_ptr error_;
    std::atomic<bool> failed_{false};
};

// Runs worker(next) on min(resolve_threads(threads), nchunks) threads, the calling one included. A worker
// keeps its own state and loops `for (int64_t c; (c = next()) >= 0;)` over the chunks it takes. The first
// exception of any worker is rethrown here once all have stopped; after it, next() hands out nothing.
template <class Worker>
void run_chunked(int64_t nchunks, int threads, Worker&& worker) {
    std::atomic<int64_t> counter{0};
    FirstError error;
    const auto next = [&]() -> int64_t {
        if (error.failed()) return -1;
        const int64_t c = counter.fetch_add(1);
        return c < nchunks ? c : -1;
    };
    const auto guarded = [&] {
        try {
            worker(next);
        } catch (...) {
            error.capture();
        }
    };
    const int nt = static_cast<int>(std::min<int64_t>(resolve_threads(threads), std::max<int64_t>(1, nchunks)));
    {
        std::vector<std::jthread> pool;
        pool.reserve(static_cast<size_t>(nt - 1));
        for (int t = 1; t < nt; ++t) pool.emplace_back(guarded);
        guarded();
    }
    error.rethrow();
}

// fn(i) for i in [0, n) on `threads` threads (<= 0: all cores), one index at a time.
template <class Fn>
void parallel_for(int64_t n, int threads, Fn&& fn) {
    run_chunked(n, threads, [&](const auto& next) {
        for (int64_t i; (i = next()) >= 0;) fn(i);
    });
}

// A fixed pool of threads for work that comes in groups from several callers at once (the GPU pipeline's
// stream slots). parallel_for runs a group's pieces on the pool and on the calling thread, which helps
// with queued pieces instead of idling; pieces never wait on other pieces, so callers cannot deadlock it.
class TaskPool {
public:
    explicit TaskPool(int n) {
        for (int i = 0; i < n; ++i) threads_.emplace_back([this] { loop(); });
    }
    ~TaskPool() {
        {
            std::lock_guard lk(m_);
            stop_ = true;
        }
        cv_.notify_all();
    }
    TaskPool(const TaskPool&) = delete;
    TaskPool& operator=(const TaskPool&) = delete;

    // f(i) for i in [0, n); the first exception is rethrown once every piece has finished (pieces not yet
    // started when one fails are skipped).
    void parallel_for(int n, const std::function<void(int)>& f) {
        if (n <= 0) return;
        struct Group {
            std::mutex m;
            std::condition_variable cv;
            int left;
            FirstError error;
        } g;
        g.left = n;
        auto run_one = [&g, &f](int i) {
            if (!g.error.failed()) {
                try {
                    f(i);
                } catch (...) {
                    g.error.capture();
                }
            }
            std::lock_guard lk(g.m);
            if (--g.left == 0) g.cv.notify_all();
        };
        {
            std::lock_guard lk(m_);
            for (int i = 1; i < n; ++i) tasks_.emplace_back([run_one, i] { run_one(i); });
        }
        cv_.notify_all();
        run_one(0);
        for (;;) {
            {
                std::lock_guard lk(g.m);
                if (g.left == 0) break;
            }
            std::function<void()> t;
            {
                std::lock_guard lk(m_);
                if (!tasks_.empty()) {
                    t = std::move(tasks_.front());
                    tasks_.pop_front();
                }
            }
            if (t) {
                t();
                continue;
            }
            std::unique_lock lk(g.m);
            g.cv.wait(lk, [&] { return g.left == 0; });
        }
        g.error.rethrow();
    }

private:
    void loop() {
        for (;;) {
            std::function<void()> t;
            {
                std::unique_lock lk(m_);
                cv_.wait(lk, [&] { return stop_ || !tasks_.empty(); });
                if (tasks_.empty()) return;
                t = std::move(tasks_.front());
                tasks_.pop_front();
            }
            t();
        }
    }
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> tasks_;
    bool stop_ = false;
    std::vector<std::jthread> threads_;  // declared last: joined before the queue is destroyed
};

}  // namespace kquant
