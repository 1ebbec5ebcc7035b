// A model as llama.cpp's loader sees it: one GGUF file, or every shard of a split model (gguf-split's
// "<prefix>-00001-of-00003.gguf" files), opened from the first shard.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kquant/gguf.h"

namespace kquant::gguf {

// gguf-split's shard names: "<prefix>-%05d-of-%05d.gguf" with the 1-based shard number (index is 0-based).
std::string shard_path(const std::string& prefix, int index, int count);
// The prefix of shard `index`'s path, or nullopt when `path` does not end in that shard's suffix.
std::optional<std::string> shard_prefix(const std::string& path, int index, int count);

class Model {
public:
    // Opens `path`. When its `split.count` (u16) is above 1, it must be the first shard (`split.no` 0)
    // and every other shard is opened from the same prefix; each must say its own `split.no`, no tensor
    // name may repeat across shards, and the total must equal the first shard's `split.tensors.count`
    // (i32). Errors name the file.
    static std::unique_ptr<Model> open(const std::string& path);

    // The given files as the shards of one model, in order, without the split keys' naming rules (for
    // reading outputs back before they have their names): each is opened from `path` and named `name`
    // in messages. Tensor names must not repeat across shards.
    struct File {
        std::string path, name;
    };
    static std::unique_ptr<Model> open_files(const std::vector<File>& files);

    const std::string& path() const { return shards_.front()->path(); }
    size_t shard_count() const { return shards_.size(); }
    const Reader& shard(size_t i) const { return *shards_.at(i); }
    // The first shard's KVs: the model's metadata (the other shards carry only the split keys).
    const std::vector<KV>& kvs() const { return shards_.front()->kvs(); }
    // Every tensor, shard by shard, each shard's in its file order. Offsets are relative to the
    // data section of the tensor's own shard.
    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    // The shard of each tensor (parallel to tensors()).
    const std::vector<uint16_t>& tensor_shards() const { return shard_of_; }
    const Reader& file_of(size_t tensor) const { return *shards_.at(shard_of_.at(tensor)); }
    const uint8_t* tensor_data(size_t tensor) const { return file_of(tensor).tensor_data(tensors_.at(tensor)); }

private:
    Model() = default;
    void index_tensors();  // tensors_ and shard_of_ from shards_
    std::vector<std::unique_ptr<Reader>> shards_;
    std::vector<TensorInfo> tensors_;
    std::vector<uint16_t> shard_of_;
};

}  // namespace kquant::gguf
