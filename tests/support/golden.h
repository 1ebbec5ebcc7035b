// The golden files of tests/data (README.md there says how they were made), opened once per test process.
#pragma once
#include <string>
#include <vector>

#include "kquant/gguf.h"

namespace kquant::test {

const gguf::Reader& kquants_golden();  // tests/data/kquants-golden.gguf: the twelve first types
const gguf::Reader& extra_golden();    // tests/data/extra-types-golden.gguf: the thirteen others

// The file's golden.cases (empty when the key is missing or not an array).
std::vector<std::string> golden_cases(const gguf::Reader& r);

// An F32 tensor's values.
std::vector<float> golden_f32(const gguf::Reader& r, const gguf::TensorInfo& t);

}  // namespace kquant::test
