// Writers for both imatrix file formats, for tests: GGUF (llama-imatrix's current output) and the
// legacy .dat layout. They follow the format descriptions in llama-quantize-behaviour.md §7, not the
// project's reader.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "support/gguf_builder.h"

namespace kquant::test {

// One weight's statistics as llama-imatrix stores them in GGUF.
struct ImatrixGgufEntry {
    std::string name;                          // the weight name, e.g. "blk.0.attn_q.weight"
    int64_t n_cols = 0;
    std::vector<float> in_sum2;                // n_cols * n_mat
    std::vector<float> counts;                 // n_mat
    std::optional<std::vector<float>> in_sum;  // optional, same size as in_sum2
};

struct ImatrixGgufMeta {
    std::vector<std::string> datasets{"calibration.txt"};
    uint32_t chunk_count = 100;
    uint32_t chunk_size = 512;
};

// A builder holding the KVs (general.type, imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size)
// and, per entry, W.in_sum2 [n_cols, n_mat], W.counts [1, n_mat] (1-D when n_mat is 1) and W.in_sum.
// Callers may add or change things before build() to make malformed files.
GgufBuilder imatrix_gguf_builder(const std::vector<ImatrixGgufEntry>& entries, const ImatrixGgufMeta& meta = {});

// Little-endian float bytes.
std::vector<uint8_t> f32_bytes(const std::vector<float>& v);

// One legacy entry: the values as stored (already multiplied by ncall).
struct ImatrixLegacyEntry {
    std::string name;
    int32_t ncall = 1;
    std::vector<float> values;
};

// The .dat layout: i32 n_entries; per entry i32 name length, name, i32 ncall, i32 nval, nval floats;
// then, if given, the trailer: i32 chunk count and, if given, i32 length + dataset name.
std::vector<uint8_t> imatrix_legacy_bytes(const std::vector<ImatrixLegacyEntry>& entries,
                                          std::optional<int32_t> chunk_count = std::nullopt,
                                          std::optional<std::string> dataset = std::nullopt);

}  // namespace kquant::test
