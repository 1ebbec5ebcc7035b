// Loading an imatrix file of either format, filtering its entries, and finding a tensor's weights.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "kquant/error.h"
#include "kquant/imatrix.h"
#include "presets/detail.h"

namespace kquant {
namespace {

bool contains_any(const std::string& name, std::span<const std::string> parts) {
    for (const std::string& p : parts)
        if (name.find(p) != std::string::npos) return true;
    return false;
}

// strncpy into llama.cpp's char[128]: at most 127 bytes.
std::string cut127(const std::string& s) { return s.substr(0, 127); }

}  // namespace

Imatrix load_imatrix(const std::string& path) {
    // The format is decided from the first bytes; nothing is read whole: a GGUF file is mapped and only
    // its metadata parsed, a legacy file is mapped and parsed in place (a model passed by mistake, or
    // /dev/zero, costs nothing before the error).
    uint64_t size = 0;
    const int fd = gguf::open_regular_file(path, &size);
    char magic[4] = {};
    const bool is_gguf = size >= 4 && ::pread(fd, magic, 4, 0) == 4 && std::memcmp(magic, "GGUF", 4) == 0;
    if (is_gguf) {
        ::close(fd);
        Imatrix im = read_imatrix_gguf(*gguf::Reader::open(path));
        im.path = path;
        return im;
    }
    if (size == 0) {
        ::close(fd);
        return parse_imatrix_legacy({}, path);
    }
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int e = errno;
    ::close(fd);
    if (map == MAP_FAILED) fail(path, "", std::string("cannot mmap the imatrix file: ") + std::strerror(e));
    struct Unmap {
        void* p;
        uint64_t n;
        ~Unmap() { ::munmap(p, n); }
    } unmap{map, size};
    return parse_imatrix_legacy({static_cast<const uint8_t*>(map), static_cast<size_t>(size)}, path);
}

void filter_imatrix(Imatrix& im, std::span<const std::string> include, std::span<const std::string> exclude) {
    if (!include.empty() && !exclude.empty())
        throw Error("--include-weights and --exclude-weights cannot be used together");
    if (!exclude.empty())
        std::erase_if(im.entries, [&](const auto& e) { return contains_any(e.first, exclude); });
    if (!include.empty())
        std::erase_if(im.entries, [&](const auto& e) { return !contains_any(e.first, include); });
}

void check_imatrix_finite(const Imatrix& im) {
    for (const auto& [name, values] : im.entries) {
        for (size_t i = 0; i < values.size(); ++i) {
            if (std::isfinite(values[i])) continue;
            char v[64];
            std::snprintf(v, sizeof v, "%f", static_cast<double>(values[i]));
            fail(im.path, name, "imatrix contains non-finite value " + std::string(v) + " at index " + std::to_string(i));
        }
    }
}

std::vector<std::string> imatrix_warnings(const Imatrix& im) {
    std::vector<std::string> out;
    for (const auto& [name, values] : im.entries) {
        size_t zero = 0, negative = 0, denormal = 0;
        for (const float v : values) {
            if (v == 0.0f) ++zero;
            else if (v < 0.0f) ++negative;
            else if (std::fpclassify(v) == FP_SUBNORMAL) ++denormal;
        }
        std::string why;
        if (zero == values.size())
            why = "all " + std::to_string(values.size()) + " values are zero";
        else if (negative > 0)
            why = std::to_string(negative) + " of " + std::to_string(values.size()) +
                  " values are negative (sums of squares cannot be)";
        else if (zero + denormal == values.size())
            why = "all " + std::to_string(values.size()) + " values are zero or denormal";
        if (why.empty()) continue;
        out.push_back("warning: " + context(im.path, "", "imatrix entry " + printable(name) + ": " + why +
                                                          "; its tensor will likely quantize to zeros "
                                                          "(llama-quantize does the same)"));
    }
    return out;
}

const std::vector<float>* imatrix_lookup(const Imatrix& im, const std::string& tensor, int64_t ne0, int64_t ne2,
                                         std::string* note) {
    const auto it = im.entries.find(tensor);
    if (it == im.entries.end()) {
        if (note) *note = "did not find weights for " + tensor;
        return nullptr;
    }
    const uint64_t want = static_cast<uint64_t>(ne0) * static_cast<uint64_t>(ne2);
    if (it->second.size() == want) return &it->second;
    const std::string msg = "imatrix size " + std::to_string(it->second.size()) + " is different from tensor size " +
                            std::to_string(want) + " for " + tensor;
    // A token embedding is never measured by llama-imatrix; a stray entry is ignored rather than fatal.
    if (!detail::is_token_embd_name(tensor)) fail(im.path, tensor, msg);
    if (note) *note = msg;
    return nullptr;
}

std::vector<KvOverride> imatrix_kv_overrides(const Imatrix& im, const std::string& path_as_typed) {
    std::vector<KvOverride> out;
    if (im.empty()) return out;
    auto str = [](const char* key, std::string v) {
        KvOverride o;
        o.key = key;
        o.kind = KvOverride::Kind::Str;
        o.s = std::move(v);
        return o;
    };
    auto integer = [](const char* key, int64_t v) {
        KvOverride o;
        o.key = key;
        o.kind = KvOverride::Kind::Int;
        o.i = v;
        return o;
    };
    out.push_back(str("quantize.imatrix.file", cut127(path_as_typed)));
    if (!im.datasets.empty()) out.push_back(str("quantize.imatrix.dataset", cut127(im.datasets[0])));
    out.push_back(integer("quantize.imatrix.entries_count", static_cast<int64_t>(im.entry_count())));
    if (im.chunk_count > 0) out.push_back(integer("quantize.imatrix.chunks_count", im.chunk_count));
    return out;
}

}  // namespace kquant
