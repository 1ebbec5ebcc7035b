// Device copies of the IQ grids (formats/iq_grid.h, formats/iq3_grid.h): the host's process-wide tables
// uploaded to each device once, on first use, and kept for the life of the process. The views hold
// device pointers, so a kernel receives them by value (Launch) and reads the same arrays the CPU reads.
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

#include "check.cuh"
#include "grids.cuh"

namespace kquant::cuda::detail {
namespace {

template <class T>
const T* upload(const T* host, size_t n) {
    T* d = nullptr;
    KQ_CUDA(cudaMalloc(reinterpret_cast<void**>(&d), n * sizeof(T)));
    KQ_CUDA(cudaMemcpy(d, host, n * sizeof(T), cudaMemcpyHostToDevice));
    return d;
}

// The device copy of host view h on the current device.
template <class View>
View device_view(const View& h) {
    static std::mutex m;
    static std::map<std::pair<int, const void*>, View> cache;  // (device, host grid) -> device view
    int device = 0;
    KQ_CUDA(cudaGetDevice(&device));
    std::lock_guard lk(m);
    const auto key = std::make_pair(device, static_cast<const void*>(h.grid));
    if (auto it = cache.find(key); it != cache.end()) return it->second;
    View d = h;
    d.grid = upload(h.grid, static_cast<size_t>(h.grid_size));
    d.map = upload(h.map, static_cast<size_t>(h.map_size));
    d.neighbours = upload(h.neighbours, static_cast<size_t>(h.neighbours_size));
    cache.emplace(key, d);
    return d;
}

}  // namespace

iq::Grid8View device_grid(const iq::Grid8View& host) { return device_view(host); }
iq::Grid4View device_grid(const iq::Grid4View& host) { return device_view(host); }

}  // namespace kquant::cuda::detail
