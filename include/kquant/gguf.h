// GGUF v2/v3 reader (memory-mapped, every field validated) and streaming writer (temporary file,
// renamed when complete).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kquant/types.h"

namespace kquant::gguf {

enum class ValueType : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
    STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};

// A metadata value. Scalars keep their exact type; arrays keep their element type (nested arrays too).
struct Value {
    ValueType type = ValueType::U32;
    uint64_t u = 0;       // U8/U16/U32/U64/BOOL (0/1)
    int64_t i = 0;        // I8/I16/I32/I64
    double f = 0.0;       // F32/F64 (F32 stored exactly as a double)
    std::string str;      // STRING
    ValueType elem_type = ValueType::U8;  // ARRAY: element type
    std::vector<Value> arr;               // ARRAY: elements

    static Value of_u16(uint16_t v);
    static Value of_u32(uint32_t v);
    static Value of_i32(int32_t v);
    static Value of_f32(float v);
    static Value of_bool(bool v);
    static Value of_string(std::string v);
    static Value of_array(ValueType elem, std::vector<Value> v);

    bool operator==(const Value&) const = default;
    // Integer value of any integer/bool type; throws kquant::Error otherwise.
    int64_t as_int() const;
};

struct KV {
    std::string key;
    Value value;
    bool operator==(const KV&) const = default;
};

// "u8", "i32", "f32", "string", "array", ... ("type 42" for an id outside the enum).
std::string value_type_name(ValueType t);

// GGUF's default data alignment, used when a file has no `general.alignment` key.
inline constexpr size_t kDefaultAlignment = 32;

struct TensorInfo {
    std::string name;
    std::vector<int64_t> ne;       // n_dims entries as stored in the file
    Type type = Type::F32;
    uint64_t offset = 0;           // relative to the data section
    size_t nbytes = 0;             // computed from ne and type
    int64_t nelements() const;
    int64_t ne_at(size_t i) const { return i < ne.size() ? ne[i] : 1; }
    // ne1 * ne2 * ne3 (1 for a 0- or 1-dim tensor); a product, so that ne0 = 0 divides nothing.
    int64_t nrows() const {
        int64_t n = 1;
        for (size_t i = 1; i < ne.size(); ++i) n *= ne[i];
        return n;
    }
};

// A memory-mapped GGUF file. Every count, size and offset is validated at open; errors name the file,
// the field and the byte offset. Rejected, beyond truncation and absurd counts: files that are not
// regular files, versions other than 2 and 3, empty or duplicate keys, duplicate tensor names, tensor
// names over 63 bytes (ggml's limit), metadata that would take more than 512 MiB of memory once parsed,
// n_dims > 4, negative ne, element counts or
// byte sizes that overflow, unknown type ids, ne0 not a multiple of the block size, data offsets not a
// multiple of the alignment or data past the end of the file, arrays nested deeper than 16 levels.
// A bool byte other than 0 reads as true (as in ggml). Tensors may overlap or leave gaps (not checked).
class Reader {
public:
    static std::unique_ptr<Reader> open(const std::string& path);
    // The same, naming the file `name_for_errors` in messages (a temporary file read before it is named).
    static std::unique_ptr<Reader> open(const std::string& path, const std::string& name_for_errors);
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    size_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }
    uint64_t file_size() const { return size_; }
    const std::vector<KV>& kvs() const { return kvs_; }
    const KV* find_kv(std::string_view key) const;

    // Typed KV getters: nullopt when the key is absent; kquant::Error (naming the file and key) when
    // it is present with another type. get_int accepts every integer type (and bool) that fits int64.
    std::optional<std::string> get_string(std::string_view key) const;
    std::optional<uint32_t> get_u32(std::string_view key) const;
    std::optional<int64_t> get_int(std::string_view key) const;
    std::optional<float> get_f32(std::string_view key) const;
    std::optional<bool> get_bool(std::string_view key) const;
    std::optional<std::vector<std::string>> get_string_array(std::string_view key) const;

    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find_tensor(std::string_view name) const;
    // Pointer to a tensor's bytes in the mapping (valid while the Reader lives).
    const uint8_t* tensor_data(const TensorInfo& t) const { return base_ + data_offset_ + t.offset; }

private:
    Reader() = default;
    std::string path_;
    const uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    bool owns_mapping_ = false;  // open() maps the file; parse() borrows the caller's bytes
    uint32_t version_ = 0;
    size_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<KV> kvs_;
    std::vector<TensorInfo> tensors_;
    friend struct ReaderParser;
};

// Opens a file for reading after checking, without blocking, that it is a regular file: a directory,
// FIFO, device or socket is an Error saying which (a FIFO would otherwise block open() forever, a device
// such as /dev/zero never end). Returns the descriptor (the caller closes it) and sets *size.
int open_regular_file(const std::string& path, uint64_t* size, const std::string& name_for_errors = "");

// Parses a GGUF image held in memory (used by Reader::open and by the malformed-input tests).
// The returned Reader does not own `data`.
std::unique_ptr<Reader> parse(const uint8_t* data, uint64_t size, const std::string& name_for_errors);

// How output files are made before they are complete. Anonymous (the default): O_TMPFILE in the
// destination directory, given its name by linkat only when complete, so that nothing is left even
// after SIGKILL or a power loss; where the filesystem lacks O_TMPFILE, as Named. Named: a temporary file
// `<dir>/.<name>.kquant-tmp-XXXXXX` (<name> cut to fit the file name limit), renamed when complete and
// removed on error or on any terminating signal that can be caught. Process-wide; KQUANT_NAMED_TEMP=1 in
// the environment chooses Named (the tests of the named path use it).
enum class TempMode { Anonymous, Named };
void set_temp_mode(TempMode m);
TempMode temp_mode();

// Named temporary files of ours for the output `path` that no live process holds (left by a run that
// was killed): `<dir>/.<name>.kquant-tmp-XXXXXX`, sorted.
std::vector<std::string> stale_temp_files(const std::string& path);

namespace detail {
class PendingFile;
}

// Streaming writer. Construction lays out the file: header, KVs, tensor infos with offsets aligned to
// `alignment`, padding; the header is written at once. Tensor data is then written with write_tensor
// (any order, any thread: positional writes) and the file gets its name, replacing a regular file of
// that name atomically, at commit(). A Writer destroyed without commit() leaves nothing; the destination
// is never touched before commit(). The file is made as temp_mode() says (see above); its full size is
// reserved at construction (so a full disk fails there), and the padding after each tensor, the last
// included, reads as zeros. An existing destination that is not a regular file (a device such as
// /dev/null, a FIFO, a directory) is refused.
// The writer never edits KVs but rejects an inconsistent layout: a `general.alignment` KV must be u32 and
// equal `alignment`, and an alignment other than 32 needs that KV. Duplicate KV keys or tensor names,
// and shapes the reader would reject, are errors.
class Writer {
public:
    struct TensorSpec {
        std::string name;
        std::vector<int64_t> ne;  // written with n_dims = ne.size()
        Type type;
    };
    Writer(const std::string& path, const std::vector<KV>& kvs, const std::vector<TensorSpec>& tensors,
           size_t alignment = 32);
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    // The temporary file's name for messages: `<dir>/.<name>.kquant-tmp-XXXXXX`, or
    // `<dir>/(unnamed temporary file)` for an anonymous one.
    const std::string& temp_path() const;
    // A path that reads the file as written so far, until commit (for checking it before it is named).
    std::string readable_path() const;
    size_t tensor_count() const { return infos_.size(); }
    const TensorInfo& info(size_t i) const { return infos_[i]; }
    uint64_t total_size() const { return total_size_; }
    // Writes `n` bytes at byte `offset` inside tensor i's data (offset + n <= nbytes). Thread-safe.
    void write_tensor(size_t i, uint64_t offset, const void* data, size_t n);
    // Completes the file and names it; with `durable`, fsyncs the data before and the directory
    // after. Throws on any I/O error (disk full included). Same as finish() then publish().
    void commit(bool durable = true);
    // The two halves of commit(), for outputs made of several files: finish() checks that every tensor
    // was fully written and flushes (with `durable`); publish() names the file.
    void finish(bool durable = true);
    void publish(bool durable = true);

private:
    std::string path_;
    std::unique_ptr<detail::PendingFile> file_;
    int fd_ = -1;  // file_'s descriptor while writing
    uint64_t data_offset_ = 0, total_size_ = 0;
    std::vector<TensorInfo> infos_;
    bool finished_ = false;
    bool committed_ = false;
    // Bytes written per tensor, so that commit() can name a tensor that was not (fully) written.
    std::unique_ptr<std::atomic<uint64_t>[]> written_;
};

namespace testing {
// Fault injection for the tests: the tensor write after the next n ones fails as if pwrite had returned
// errno `err` (once; n < 0 turns it off). Lets a test reach the error paths of a failing disk.
void fail_tensor_writes_after(int n, int err);
}  // namespace testing

// The header, KVs and tensor infos of a GGUF file (magic, version, counts, KVs in order with their
// exact types, infos with n_dims = ne.size() and their offsets), without the padding that follows.
// Throws kquant::Error for a value that cannot be encoded (an array element whose type differs from
// the array's element type).
std::vector<uint8_t> serialize_metadata(const std::vector<KV>& kvs, const std::vector<TensorInfo>& infos,
                                        uint32_t version = 3);

// n_dims as ggml counts it: trailing dimensions equal to 1 dropped, minimum 1.
int n_dims(const std::vector<int64_t>& ne);

// The shape as ggml writes it back: the first n_dims(ne) entries; [1] for a tensor stored with n_dims 0
// (ggml reads that as a one-element scalar).
std::vector<int64_t> written_shape(const std::vector<int64_t>& ne);

}  // namespace kquant::gguf
