// Split models for tests, laid out as gguf-split writes them, with the tests' own GGUF builder (not the
// project's writer).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "support/gguf_builder.h"

namespace kquant::test {

// One shard before it is built: its KVs and tensors, for a test to change.
struct ShardContent {
    std::vector<gguf::KV> kvs;
    std::vector<GgufBuilder::Tensor> tensors;
};

// Writes the GGUF file `in` as the shards `<prefix>-%05d-of-%05d.gguf`: shard k holds the next
// sizes[k] tensors (the last shard the rest); every shard's KVs start with split.no (u16), split.count
// (u16) and split.tensors.count (i32), and the first shard's continue with all of `in`'s KVs.
// `edit(k, shard)`, when given, may change shard k before it is written. Returns the shard paths.
std::vector<std::string> write_split(const std::string& in, const std::string& prefix, const std::vector<size_t>& sizes,
                                     const std::function<void(int, ShardContent&)>& edit = {});

}  // namespace kquant::test
