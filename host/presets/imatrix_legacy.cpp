// The legacy imatrix .dat format (§7.2): n_entries, then per entry name, ncall and the values (stored
// multiplied by ncall), then an optional trailer with the chunk count and the dataset name.
#include <cstring>

#include "kquant/error.h"
#include "kquant/imatrix.h"

namespace kquant {
namespace {

class Cursor {
public:
    Cursor(std::span<const uint8_t> bytes, const std::string& file) : bytes_(bytes), file_(file) {}

    size_t left() const { return bytes_.size() - pos_; }
    size_t pos() const { return pos_; }

    // Reads a little-endian i32; `what` names the field for the error.
    int32_t i32(const std::string& entry, const std::string& what) {
        if (left() < 4) truncated(entry, what, 4);
        int32_t v;
        std::memcpy(&v, bytes_.data() + pos_, 4);
        pos_ += 4;
        return v;
    }
    std::string_view take(size_t n) {
        std::string_view s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
        pos_ += n;
        return s;
    }
    [[noreturn]] void truncated(const std::string& entry, const std::string& what, size_t need) const {
        fail(file_, entry,
             "truncated imatrix: " + what + " needs " + std::to_string(need) + " bytes at offset " +
                 std::to_string(pos_) + ", " + std::to_string(left()) + " left");
    }

private:
    std::span<const uint8_t> bytes_;
    const std::string& file_;
    size_t pos_ = 0;
};

// llama.cpp reads names into a C string, so a name ends at its first NUL byte.
std::string c_string(std::string_view s) { return std::string(s.substr(0, s.find('\0'))); }

}  // namespace

Imatrix parse_imatrix_legacy(std::span<const uint8_t> bytes, const std::string& file) {
    Imatrix im;
    im.path = file;
    im.legacy = true;
    Cursor in(bytes, file);
    if (in.left() < 4) fail(file, "", "no data in imatrix file (" + std::to_string(in.left()) + " bytes)");
    const int32_t n_entries = in.i32("", "the entry count");
    // Smallest entry: name length, an empty name, ncall, value count, one value.
    constexpr uint64_t kMinEntryBytes = 4 + 4 + 4 + 4;
    if (n_entries < 1) fail(file, "", "no data in imatrix file (entry count " + std::to_string(n_entries) + ")");
    // A count the file cannot hold is a truncated file when it is small; when it is huge (or the file
    // starts like a GGUF one) the file is something else, and the entry-by-entry messages would only
    // confuse ("entry 2 of 1481983815").
    const bool gguf_like = bytes[0] == 'G' && bytes[1] == 'G';
    if (static_cast<uint64_t>(n_entries) > in.left() / kMinEntryBytes && (n_entries > (1 << 16) || gguf_like)) {
        std::string hex;
        for (size_t k = 0; k < 4; ++k) {
            static const char digits[] = "0123456789abcdef";
            hex += std::string(k ? " " : "") + digits[bytes[k] >> 4] + digits[bytes[k] & 15];
        }
        std::string why = "not an imatrix file: read as the legacy .dat format (it does not start with 'GGUF'), "
                          "its first 4 bytes (" + hex + ") give " + std::to_string(n_entries) +
                          " entries, more than its " + std::to_string(bytes.size()) + " bytes can hold";
        if (gguf_like)
            why += " (a GGUF imatrix starts with 47 47 55 46, 'GGUF': a damaged GGUF file?)";
        fail(file, "", why);
    }

    for (int32_t e = 0; e < n_entries; ++e) {
        const std::string which = "entry " + std::to_string(e + 1) + " of " + std::to_string(n_entries);
        const int32_t len = in.i32("", which + ": name length");
        if (len < 0 || static_cast<uint64_t>(len) > in.left())
            fail(file, "", which + ": invalid name length " + std::to_string(len) + " (" +
                               std::to_string(in.left()) + " bytes left)");
        const std::string name = c_string(in.take(static_cast<size_t>(len)));
        const int32_t ncall = in.i32(name, which + ": ncall");
        const int32_t nval = in.i32(name, which + ": value count");
        if (nval < 1) fail(file, name, which + ": invalid value count " + std::to_string(nval));
        const uint64_t nbytes = static_cast<uint64_t>(nval) * 4;
        if (nbytes > in.left()) in.truncated(name, which + ": " + std::to_string(nval) + " values", nbytes);
        std::vector<float> values(static_cast<size_t>(nval));
        std::memcpy(values.data(), in.take(nbytes).data(), nbytes);
        // The writer stored mean * ncall; llama-quantize divides by ncall as a float.
        if (ncall > 0) {
            const float div = static_cast<float>(static_cast<int64_t>(ncall));
            for (float& v : values) v = v / div;
        }
        im.entries[name] = std::move(values);  // a repeated name replaces the earlier entry
    }

    // Optional trailer: chunk count, then the dataset name (i32 length + bytes). Bytes after it are
    // ignored, like llama.cpp does.
    if (in.left() > 0) {
        im.chunk_count = in.i32("", "the trailer's chunk count");
        if (in.left() > 0) {
            const int32_t len = in.i32("", "the trailer's dataset name length");
            if (len > 0) {
                if (static_cast<uint64_t>(len) > in.left())
                    in.truncated("", "the trailer's dataset name", static_cast<size_t>(len));
                im.datasets.push_back(c_string(in.take(static_cast<size_t>(len))));
            }
        }
    }
    return im;
}

}  // namespace kquant
