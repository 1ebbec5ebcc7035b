// The grids of the grid codecs (codec.h: GridCodec) on the device: what a Launch carries, and the
// per-device copies of the host's tables (grids.cu).
#pragma once
#include <type_traits>

#include "kquant/codec.h"
#include "kquant/formats/iq3_grid.h"
#include "kquant/formats/iq_grid.h"

namespace kquant::cuda::detail {

// The device copy of a host grid on the current device (uploaded on first use, then cached).
iq::Grid8View device_grid(const iq::Grid8View& host);
iq::Grid4View device_grid(const iq::Grid4View& host);

// The grid views a launch can carry: at most one is set, the one of the launch's codec.
struct DeviceGrids {
    iq::Grid8View g8{};
    iq::Grid4View g4{};
    NoGrid none{};
};

// Codec C's grid out of a launch's grids (NoGrid for a codec without one).
template <class C>
__host__ __device__ inline const GridT<C>& grid_of(const DeviceGrids& g) {
    if constexpr (std::is_same_v<GridT<C>, iq::Grid8View>) {
        return g.g8;
    } else if constexpr (std::is_same_v<GridT<C>, iq::Grid4View>) {
        return g.g4;
    } else {
        static_assert(!GridCodec<C>, "a grid type DeviceGrids does not carry");
        return g.none;
    }
}

// Sets codec C's device grid in g (nothing for a codec without one).
template <class C>
void set_device_grid(DeviceGrids& g) {
    if constexpr (GridCodec<C>) {
        if constexpr (std::is_same_v<GridT<C>, iq::Grid8View>)
            g.g8 = device_grid(C::host_grid());
        else
            g.g4 = device_grid(C::host_grid());
    }
}

}  // namespace kquant::cuda::detail
