// Small models for the fault tests (tests/faults_*_test.cpp, tests/cli_faults_test.cpp), built with the
// test GGUF builder so that they can hold what the project's writer refuses (n_dims 0, zero-sized
// dimensions, alignment 1, odd data offsets).
#pragma once
#include <string>
#include <vector>

#include "support/gguf_builder.h"
#include "support/run_cmd.h"

namespace kquant::test {

// The KVs a llama model needs to be planned: architecture, block count, head counts.
GgufBuilder llama_builder(int n_layer = 1);

// F32 bytes of n values sin(i + seed) (finite, varied).
std::vector<uint8_t> f32_wave(size_t n, float seed = 0.0f);

// Writes the image and returns the path.
std::string write_image(const std::string& path, const GgufImage& img);

// The kquant-cuda command line prefix used by the fault tests: the binary and `--device cpu`.
std::string kq();

// Whether `dir` holds a file whose name contains `part`.
bool dir_has(const std::string& dir, const std::string& part);

}  // namespace kquant::test
