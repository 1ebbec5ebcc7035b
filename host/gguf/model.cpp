// Opening split models the way llama.cpp's loader does (split keys, shard names, the checks it makes).
#include <cstdio>
#include <unordered_map>

#include "kquant/error.h"
#include "kquant/model.h"

namespace kquant::gguf {
namespace {

std::string shard_suffix(int index, int count) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "-%05d-of-%05d.gguf", index + 1, count);
    return buf;
}

// The split keys have fixed types (u16 split.no/split.count, i32 split.tensors.count); another type is an
// error, as in the loader.
std::optional<int64_t> split_key(const Reader& r, const std::string& key, ValueType want) {
    const KV* kv = r.find_kv(key);
    if (!kv) return std::nullopt;
    if (kv->value.type != want)
        fail(r.path(), "", "key '" + key + "' has type " + value_type_name(kv->value.type) + ", expected " +
                               value_type_name(want));
    return kv->value.as_int();
}

}  // namespace

std::string shard_path(const std::string& prefix, int index, int count) { return prefix + shard_suffix(index, count); }

std::optional<std::string> shard_prefix(const std::string& path, int index, int count) {
    const std::string suffix = shard_suffix(index, count);
    if (path.size() <= suffix.size() || path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0)
        return std::nullopt;
    return path.substr(0, path.size() - suffix.size());
}

void Model::index_tensors() {
    std::unordered_map<std::string, size_t> seen;  // tensor name -> shard
    for (size_t k = 0; k < shards_.size(); ++k) {
        const Reader& s = *shards_[k];
        for (const TensorInfo& t : s.tensors()) {
            const auto [it, fresh] = seen.emplace(t.name, k);
            if (!fresh)
                fail(s.path(), t.name, "invalid model: tensor is duplicated (also in " + shards_[it->second]->path() + ")");
            tensors_.push_back(t);
            shard_of_.push_back(static_cast<uint16_t>(k));
        }
    }
}

std::unique_ptr<Model> Model::open_files(const std::vector<File>& files) {
    std::unique_ptr<Model> m(new Model());
    if (files.empty()) throw Error("internal: a model needs at least one file");
    for (const File& f : files) m->shards_.push_back(Reader::open(f.path, f.name));
    m->index_tensors();
    return m;
}

std::unique_ptr<Model> Model::open(const std::string& path) {
    std::unique_ptr<Model> m(new Model());
    m->shards_.push_back(Reader::open(path));
    const Reader& first = *m->shards_.front();
    const int64_t count = split_key(first, "split.count", ValueType::U16).value_or(1);
    if (count > 1) {
        const std::optional<int64_t> no = split_key(first, "split.no", ValueType::U16);
        if (!no) fail(path, "", "split model (split.count " + std::to_string(count) + ") without the key split.no");
        if (*no != 0)
            fail(path, "", "this is shard " + std::to_string(*no + 1) + " of " + std::to_string(count) +
                               " of a split model; open the first shard (" +
                               shard_suffix(0, static_cast<int>(count)).substr(1) + ")");
        const std::optional<std::string> prefix = shard_prefix(path, 0, static_cast<int>(count));
        if (!prefix)
            fail(path, "", "invalid split file name: the first of " + std::to_string(count) + " shards must end in " +
                               shard_suffix(0, static_cast<int>(count)));
        for (int k = 1; k < count; ++k) {
            m->shards_.push_back(Reader::open(shard_path(*prefix, k, static_cast<int>(count))));
            const Reader& s = *m->shards_.back();
            const std::optional<int64_t> sno = split_key(s, "split.no", ValueType::U16);
            if (!sno) fail(s.path(), "", "missing key split.no in a shard of a split model");
            if (*sno != k)
                fail(s.path(), "", "invalid split file index " + std::to_string(*sno) + ", expected " + std::to_string(k));
        }
    }
    m->index_tensors();
    if (count > 1) {
        const std::optional<int64_t> total = split_key(first, "split.tensors.count", ValueType::I32);
        if (!total) fail(path, "", "split model without the key split.tensors.count");
        if (*total != static_cast<int64_t>(m->tensors_.size()))
            fail(path, "", "corrupted model: " + std::to_string(*total) + " tensors expected but " +
                               std::to_string(m->tensors_.size()) + " found in " + std::to_string(count) + " shards");
    }
    return m;
}

}  // namespace kquant::gguf
