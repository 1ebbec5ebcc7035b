// GGUF v2/v3 parser. Nothing in the image is trusted: every length, count and offset is checked
// against the bytes that remain before it is used, so that no input can make us read out of bounds
// or allocate more than the file could describe.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>

#include "gguf/detail.h"
#include "kquant/error.h"
#include "kquant/gguf.h"

namespace kquant::gguf {

using detail::kMaxArrayDepth;
using detail::kMaxDims;

namespace {

// Reservations are capped: a count is only bounded by the bytes left, and one parsed element costs far
// more memory than its smallest encoding, so vectors grow with what is actually read.
constexpr uint64_t kMaxReserve = 1u << 16;

// Smallest encodings, used to reject counts that the remaining bytes cannot hold before allocating.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;           // key length, 1-byte key, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;   // name length, n_dims, type, offset

uint64_t min_value_bytes(uint32_t t) {
    switch (static_cast<ValueType>(t)) {
        case ValueType::U8: case ValueType::I8: case ValueType::BOOL: return 1;
        case ValueType::U16: case ValueType::I16: return 2;
        case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
        case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
        case ValueType::STRING: return 8;      // its length
        case ValueType::ARRAY: return 4 + 8;   // element type and count
    }
    return 0;
}

std::string quoted(std::string_view s) { return printable(s); }

// ggml's GGML_MAX_NAME: a tensor name has at most 63 bytes (ggml refuses longer ones).
constexpr size_t kMaxTensorName = 63;

// What the parsed metadata may cost in memory. A value costs far more parsed than encoded (an empty
// string takes 8 bytes in the file and sizeof(Value) in memory), so a small, hostile header could ask for
// many times its size; real models (tokenizer arrays of a few hundred thousand entries) stay far below.
constexpr uint64_t kMaxMetadataMemory = uint64_t{512} << 20;

// A bounds-checked position in the image. `where` callables describe the field for error messages and
// are only evaluated when something is wrong.
class Cursor {
public:
    Cursor(const uint8_t* data, uint64_t size, const std::string& file) : data_(data), size_(size), file_(file) {}
    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return size_ - pos_; }
    uint64_t size() const { return size_; }

    template <class Where>
    const uint8_t* take(uint64_t n, const Where& where) {
        if (n > size_ - pos_)
            fail(file_, "", "truncated file: " + where() + " needs " + std::to_string(n) + " bytes at offset " +
                                std::to_string(pos_) + ", file has " + std::to_string(size_));
        const uint8_t* p = data_ + pos_;
        pos_ += n;
        return p;
    }
    template <class T, class Where>
    T read(const Where& where) {
        T v;
        std::memcpy(&v, take(sizeof(T), where), sizeof(T));
        return v;
    }
    // A u64 length followed by that many bytes; the view points into the image.
    template <class Where>
    std::string_view read_string(const Where& where) {
        const uint64_t n = read<uint64_t>([&] { return where() + " length"; });
        const uint8_t* p = take(n, [&] { return where() + " (" + std::to_string(n) + "-byte string)"; });
        return {reinterpret_cast<const char*>(p), static_cast<size_t>(n)};
    }

private:
    const uint8_t* data_;
    uint64_t size_;
    uint64_t pos_ = 0;
    const std::string& file_;
};

}  // namespace

struct ReaderParser {
    Reader& r;
    Cursor cur;
    uint64_t memory_left = kMaxMetadataMemory;
    uint64_t values = 0;

    // Accounts for `bytes` of parsed metadata before they are allocated.
    void charge(uint64_t bytes, uint64_t at) {
        if (bytes > memory_left)
            error("the metadata would take more than " + std::to_string(kMaxMetadataMemory >> 20) +
                  " MiB of memory once read (" + std::to_string(values) + " values before offset " +
                  std::to_string(at) + "); refusing it (a real model's metadata takes far less)");
        memory_left -= bytes;
    }

    ReaderParser(Reader& reader, const uint8_t* data, uint64_t size)
        : r(reader), cur(data, size, reader.path_) {}

    [[noreturn]] void error(const std::string& what) { fail(r.path_, "", what); }
    [[noreturn]] void tensor_error(const std::string& tensor, const std::string& what) {
        fail(r.path_, tensor, what);
    }

    void run() {
        uint64_t n_tensors = 0, n_kv = 0;
        read_header(n_tensors, n_kv);
        read_kvs(n_kv);
        read_alignment();
        read_tensor_infos(n_tensors);
        place_data(n_tensors);
    }

    void read_header(uint64_t& n_tensors, uint64_t& n_kv) {
        const uint8_t* magic = cur.take(4, [] { return std::string("magic"); });
        if (std::memcmp(magic, "GGUF", 4) != 0) {
            char hex[64];
            std::snprintf(hex, sizeof hex, "%02x %02x %02x %02x", magic[0], magic[1], magic[2], magic[3]);
            error("bad magic at offset 0: expected 'GGUF' (47 47 55 46), found " + std::string(hex));
        }
        const uint64_t version_at = cur.pos();
        const uint32_t version = cur.read<uint32_t>([] { return std::string("version"); });
        if (version != 2 && version != 3) {
            std::string why = "unsupported GGUF version " + std::to_string(version) + " at offset " +
                              std::to_string(version_at) + " (versions 2 and 3 are supported";
            if (version == 1) why += "; version 1 is obsolete";
            if (version != 0 && (version & 0xffffu) == 0) why += "; the file may be big-endian";
            error(why + ")");
        }
        r.version_ = version;
        const uint64_t counts_at = cur.pos();
        const int64_t nt = cur.read<int64_t>([] { return std::string("tensor count"); });
        const int64_t nk = cur.read<int64_t>([] { return std::string("KV count"); });
        if (nt < 0) error("negative tensor count " + std::to_string(nt) + " at offset " + std::to_string(counts_at));
        if (nk < 0) error("negative KV count " + std::to_string(nk) + " at offset " + std::to_string(counts_at + 8));
        n_tensors = static_cast<uint64_t>(nt);
        n_kv = static_cast<uint64_t>(nk);
        // (The tensor count is checked the same way once the KVs are read, before its infos are allocated.)
        if (n_kv > cur.remaining() / kMinKvBytes)
            error("KV count " + std::to_string(n_kv) + " (at offset " + std::to_string(counts_at + 8) +
                  ") cannot fit in the " + std::to_string(cur.remaining()) + " bytes after the header (a KV takes at least " +
                  std::to_string(kMinKvBytes) + "): truncated file or corrupt count");
    }

    // Describes where a value lies: "KV 3 ('key') value" or "... array element 7".
    struct ValueLoc {
        uint64_t kv;
        std::string_view key;
        const uint64_t* elem;  // null for the KV's own value
        std::string operator()() const {
            std::string s = "KV " + std::to_string(kv) + " (" + quoted(key) + ")";
            return elem ? s + " array element " + std::to_string(*elem) : s + " value";
        }
    };

    Value read_value(uint32_t type_id, const ValueLoc& loc, int depth) {
        ++values;
        Value v;
        v.type = static_cast<ValueType>(type_id);
        switch (v.type) {
            case ValueType::U8: v.u = cur.read<uint8_t>(loc); break;
            case ValueType::I8: v.i = cur.read<int8_t>(loc); break;
            case ValueType::U16: v.u = cur.read<uint16_t>(loc); break;
            case ValueType::I16: v.i = cur.read<int16_t>(loc); break;
            case ValueType::U32: v.u = cur.read<uint32_t>(loc); break;
            case ValueType::I32: v.i = cur.read<int32_t>(loc); break;
            case ValueType::U64: v.u = cur.read<uint64_t>(loc); break;
            case ValueType::I64: v.i = cur.read<int64_t>(loc); break;
            case ValueType::F32: v.f = detail::f32_bits_to_double(cur.read<uint32_t>(loc)); break;
            case ValueType::F64: v.f = cur.read<double>(loc); break;
            // ggml treats any non-zero byte as true; so do we.
            case ValueType::BOOL: v.u = cur.read<uint8_t>(loc) != 0 ? 1 : 0; break;
            case ValueType::STRING: {
                const std::string_view sv = cur.read_string(loc);
                charge(sv.size(), cur.pos());
                v.str = std::string(sv);
                break;
            }
            case ValueType::ARRAY: read_array(v, loc, depth); break;
            default:
                error(loc() + ": unknown value type " + std::to_string(type_id) + " before offset " +
                      std::to_string(cur.pos()));
        }
        return v;
    }

    void read_array(Value& v, const ValueLoc& loc, int depth) {
        if (depth >= kMaxArrayDepth)
            error(loc() + ": arrays nested deeper than " + std::to_string(kMaxArrayDepth) + " levels at offset " +
                  std::to_string(cur.pos()));
        const uint64_t at = cur.pos();
        const uint32_t elem = cur.read<uint32_t>([&] { return loc() + " array element type"; });
        const uint64_t n = cur.read<uint64_t>([&] { return loc() + " array length"; });
        const uint64_t min_bytes = min_value_bytes(elem);
        if (min_bytes == 0)
            error(loc() + ": unknown array element type " + std::to_string(elem) + " at offset " + std::to_string(at));
        if (n > cur.remaining() / min_bytes)
            error(loc() + ": array length " + std::to_string(n) + " at offset " + std::to_string(at + 4) +
                  " cannot fit in the remaining " + std::to_string(cur.remaining()) +
                  " bytes: truncated file or corrupt length");
        v.elem_type = static_cast<ValueType>(elem);
        // Every element costs a Value: charged (and reserved) at once, so that the vector never grows by
        // doubling and a count beyond the bound allocates nothing.
        if (n > memory_left / sizeof(Value)) charge(UINT64_MAX, at);
        charge(n * sizeof(Value), at);
        v.arr.reserve(n);
        for (uint64_t j = 0; j < n; ++j) v.arr.push_back(read_value(elem, ValueLoc{loc.kv, loc.key, &j}, depth + 1));
    }

    void read_kvs(uint64_t n_kv) {
        std::unordered_map<std::string_view, uint64_t> seen;  // views into the image
        seen.reserve(std::min(n_kv, kMaxReserve));
        r.kvs_.reserve(std::min(n_kv, kMaxReserve));
        for (uint64_t i = 0; i < n_kv; ++i) {
            const uint64_t at = cur.pos();
            const std::string_view key = cur.read_string([&] { return "KV " + std::to_string(i) + " key"; });
            if (key.empty()) error("KV " + std::to_string(i) + " at offset " + std::to_string(at) + " has an empty key");
            if (auto [it, fresh] = seen.emplace(key, i); !fresh)
                error("duplicate key " + quoted(key) + ": KV " + std::to_string(i) + " at offset " + std::to_string(at) +
                      " repeats KV " + std::to_string(it->second));
            const ValueLoc loc{i, key, nullptr};
            const uint32_t type = cur.read<uint32_t>(
                [&] { return "KV " + std::to_string(i) + " (" + quoted(key) + ") type"; });
            charge(sizeof(KV) + key.size(), at);
            KV kv;
            kv.key = std::string(key);
            kv.value = read_value(type, loc, 0);
            r.kvs_.push_back(std::move(kv));
        }
    }

    void read_alignment() {
        const KV* kv = r.find_kv("general.alignment");
        if (!kv) return;
        if (kv->value.type != ValueType::U32)
            error("key 'general.alignment' must be of type u32, found " + value_type_name(kv->value.type));
        if (!detail::is_pow2(kv->value.u))
            error("general.alignment = " + std::to_string(kv->value.u) + " is not a non-zero power of two");
        r.alignment_ = static_cast<size_t>(kv->value.u);
    }

    void read_tensor_infos(uint64_t n_tensors) {
        if (n_tensors > cur.remaining() / kMinTensorInfoBytes)
            error("tensor count " + std::to_string(n_tensors) + " (at offset 8) cannot fit in the " +
                  std::to_string(cur.remaining()) + " bytes after the KVs at offset " + std::to_string(cur.pos()) +
                  " (a tensor info takes at least " + std::to_string(kMinTensorInfoBytes) +
                  "): truncated file or corrupt count");
        std::unordered_map<std::string_view, uint64_t> seen;
        seen.reserve(std::min(n_tensors, kMaxReserve));
        r.tensors_.reserve(std::min(n_tensors, kMaxReserve));
        for (uint64_t i = 0; i < n_tensors; ++i) {
            const uint64_t at = cur.pos();
            const std::string label = "tensor info " + std::to_string(i);
            const std::string_view name = cur.read_string([&] { return label + " name"; });
            if (name.size() > kMaxTensorName)
                error(label + " at offset " + std::to_string(at) + ": the name " + quoted(name) + " has " +
                      std::to_string(name.size()) + " bytes; ggml allows at most " + std::to_string(kMaxTensorName));
            charge(sizeof(TensorInfo) + name.size() + kMaxDims * sizeof(int64_t), at);
            TensorInfo t;
            t.name = std::string(name);
            if (auto [it, fresh] = seen.emplace(name, i); !fresh)
                tensor_error(t.name, "duplicate tensor name: tensor info " + std::to_string(i) + " at offset " +
                                         std::to_string(at) + " repeats tensor info " + std::to_string(it->second));
            const std::string where = label + " (" + quoted(name) + ")";
            const uint64_t dims_at = cur.pos();
            const uint32_t nd = cur.read<uint32_t>([&] { return where + " n_dims"; });
            if (nd > kMaxDims)
                tensor_error(t.name, "n_dims " + std::to_string(nd) + " at offset " + std::to_string(dims_at) +
                                         " exceeds the maximum of " + std::to_string(kMaxDims));
            t.ne.resize(nd);
            for (uint32_t j = 0; j < nd; ++j)
                t.ne[j] = cur.read<int64_t>([&] { return where + " ne[" + std::to_string(j) + "]"; });
            const uint64_t type_at = cur.pos();
            const int32_t type_id = cur.read<int32_t>([&] { return where + " type"; });
            const TypeInfo* ti = find_type(static_cast<uint32_t>(type_id));
            if (!ti)
                tensor_error(t.name, "unknown ggml type id " + std::to_string(type_id) + " at offset " +
                                         std::to_string(type_at));
            t.type = ti->id;
            uint64_t nbytes = 0;
            if (std::string why = detail::check_shape(t.ne, t.type, nbytes); !why.empty())
                tensor_error(t.name, why + " (tensor info " + std::to_string(i) + " at offset " + std::to_string(at) + ")");
            t.nbytes = static_cast<size_t>(nbytes);
            const uint64_t offset_at = cur.pos();
            t.offset = cur.read<uint64_t>([&] { return where + " data offset"; });
            if (t.offset % r.alignment_ != 0)
                tensor_error(t.name, "data offset " + std::to_string(t.offset) + " (at offset " + std::to_string(offset_at) +
                                         ") is not a multiple of the alignment " + std::to_string(r.alignment_));
            r.tensors_.push_back(std::move(t));
        }
    }

    void place_data(uint64_t n_tensors) {
        const uint64_t infos_end = cur.pos();
        const auto data = detail::align_up(infos_end, r.alignment_);
        if (!data) error("data section offset overflows");  // unreachable for a real file size
        r.data_offset_ = *data;
        // A file without tensors may end right after its KVs, unpadded (ggml writes it so).
        if (n_tensors == 0) return;
        if (r.data_offset_ > cur.size())
            error("truncated file: padding before the data section needs " + std::to_string(r.data_offset_ - infos_end) +
                  " bytes at offset " + std::to_string(infos_end) + ", file has " + std::to_string(cur.size()));
        const uint64_t room = cur.size() - r.data_offset_;
        for (const TensorInfo& t : r.tensors_) {
            if (t.offset > room || t.nbytes > room - t.offset)
                tensor_error(t.name, "data (" + std::to_string(t.nbytes) + " bytes at data offset " +
                                         std::to_string(t.offset) + ", data section at file offset " +
                                         std::to_string(r.data_offset_) + ") extends past the end of the file (" +
                                         std::to_string(cur.size()) + " bytes)");
        }
    }

    // The one entry point of open() and parse(): a Reader over `size` bytes at `data`.
    static std::unique_ptr<Reader> create(const std::string& name, const uint8_t* data, uint64_t size, bool owns) {
        std::unique_ptr<Reader> r(new Reader());
        r->path_ = name;
        r->base_ = data;
        r->size_ = size;
        r->owns_mapping_ = owns;  // set before parsing, so that a failed parse still unmaps
        try {
            ReaderParser(*r, data, size).run();
        } catch (const std::bad_alloc&) {
            fail(name, "", "out of memory while reading the metadata");
        }
        return r;
    }
};

std::unique_ptr<Reader> parse(const uint8_t* data, uint64_t size, const std::string& name_for_errors) {
    return ReaderParser::create(name_for_errors, data, size, false);
}

std::unique_ptr<Reader> Reader::open(const std::string& path) { return open(path, path); }

std::unique_ptr<Reader> Reader::open(const std::string& path, const std::string& name_for_errors) {
    const std::string& name = name_for_errors;
    uint64_t size = 0;
    const int fd = open_regular_file(path, &size, name);
    if (size == 0) {  // mmap rejects an empty mapping; the parser reports the truncation
        ::close(fd);
        return ReaderParser::create(name, nullptr, 0, false);
    }
    void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int e = errno;
    ::close(fd);  // the mapping keeps the file referenced
    if (map == MAP_FAILED) fail(name, "", std::string("cannot mmap: ") + std::strerror(e));
    return ReaderParser::create(name, static_cast<const uint8_t*>(map), size, true);
}

int open_regular_file(const std::string& path, uint64_t* size, const std::string& name_for_errors) {
    const std::string& name = name_for_errors.empty() ? path : name_for_errors;
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        const int e = errno;
        fail(name, "", std::string("cannot open: ") + std::strerror(e));
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        fail(name, "", std::string("cannot stat: ") + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        const char* kind = S_ISDIR(st.st_mode)    ? "a directory"
                           : S_ISFIFO(st.st_mode) ? "a FIFO (named pipe)"
                           : S_ISCHR(st.st_mode)  ? "a character device"
                           : S_ISBLK(st.st_mode)  ? "a block device"
                           : S_ISSOCK(st.st_mode) ? "a socket"
                                                  : "an unknown kind of file";
        fail(name, "", std::string("not a regular file (") + kind + "); kquant-cuda reads only regular files");
    }
    // Back to blocking reads (for a regular file O_NONBLOCK changes nothing, but say what we mean).
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    if (size) *size = static_cast<uint64_t>(st.st_size);
    return fd;
}

Reader::~Reader() {
    if (owns_mapping_ && base_) munmap(const_cast<uint8_t*>(base_), size_);
}

const KV* Reader::find_kv(std::string_view key) const {
    for (const KV& kv : kvs_)
        if (kv.key == key) return &kv;
    return nullptr;
}

const TensorInfo* Reader::find_tensor(std::string_view name) const {
    for (const TensorInfo& t : tensors_)
        if (t.name == name) return &t;
    return nullptr;
}

}  // namespace kquant::gguf
