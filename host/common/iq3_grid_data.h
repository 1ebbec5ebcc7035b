// The packed source points of the IQ3 grids (iq3_grid_data.cpp), from which iq3_grid.cpp derives the
// tables of kquant/formats/iq3_grid.h.
#pragma once
#include <cstdint>

namespace kquant::iq {

// Point i: four 3-bit levels, level k (0..7) at bits 3k..3k+2; the value is 2*level + 1.
extern const uint16_t kIq3PackedGrid256[256];
extern const uint16_t kIq3PackedGrid512[512];

}  // namespace kquant::iq
