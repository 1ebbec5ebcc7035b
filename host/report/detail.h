// Helpers shared by the report files (not part of the public API).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kquant/gguf.h"
#include "kquant/types.h"

namespace kquant::report::detail {

std::string type_name(Type t);
// "[4096, 32000]"
std::string shape_str(const std::vector<int64_t>& ne);
// Shapes equal up to trailing 1s (the writer trims them; a reader keeps n_dims as stored).
bool same_shape(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

// A metadata value as text: "u32 7", "f32 0.5", "string \"llama\"", "array<i32>[512]". Long strings are
// cut at 80 bytes ("...").
std::string value_text(const gguf::Value& v);

// Whether rows of this type can be read back as f32 (a float type, or a type with a dequantizer).
bool readable(Type t);

// Runs fn(i) for i in [0, n) on `threads` threads (<= 0: all cores); the first exception is rethrown
// after every thread has stopped.
template <class Fn>
void parallel_for(size_t n, int threads, Fn&& fn);

}  // namespace kquant::report::detail

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

template <class Fn>
void kquant::report::detail::parallel_for(size_t n, int threads, Fn&& fn) {
    const unsigned hc = std::max(1u, std::thread::hardware_concurrency());
    const size_t nt = std::min<size_t>(n, threads > 0 ? static_cast<size_t>(threads) : hc);
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex mu;
    auto worker = [&] {
        for (size_t i; !failed && (i = next.fetch_add(1)) < n;) {
            try {
                fn(i);
            } catch (...) {
                std::lock_guard<std::mutex> lk(mu);
                if (!failed.exchange(true)) error = std::current_exception();
            }
        }
    };
    {
        std::vector<std::jthread> pool;
        for (size_t t = 1; t < nt; ++t) pool.emplace_back(worker);
        worker();
    }
    if (error) std::rethrow_exception(error);
}
