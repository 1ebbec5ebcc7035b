// Streaming GGUF writer: lays out the whole file at construction, reserves its space, takes tensor
// bytes by positional writes from any thread, and renames the temporary file onto the destination
// only when every tensor is complete.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_set>

#include "gguf/detail.h"
#include "gguf/temp_files.h"
#include "kquant/error.h"
#include "kquant/gguf.h"

namespace kquant::gguf {

namespace {

std::string errno_text(int e) { return std::strerror(e); }

// Writes all of [data, data+n) at `offset`, retrying short and interrupted writes; returns 0 or errno.
int pwrite_all(int fd, const uint8_t* data, size_t n, uint64_t offset) {
    while (n > 0) {
        const ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(offset));
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (w == 0) return EIO;  // a regular file never accepts 0 bytes of a non-empty write
        data += w;
        n -= static_cast<size_t>(w);
        offset += static_cast<uint64_t>(w);
    }
    return 0;
}

// testing::fail_tensor_writes_after: writes left before the injected failure (< 0: none) and its errno.
std::atomic<int> g_writes_before_fault{-1};
std::atomic<int> g_fault_errno{0};

}  // namespace

Writer::Writer(const std::string& path, const std::vector<KV>& kvs, const std::vector<TensorSpec>& tensors,
               size_t alignment)
    : path_(path) {
    if (!detail::is_pow2(alignment) || alignment > UINT32_MAX)
        fail(path, "", "alignment " + std::to_string(alignment) + " is not a power of two that fits in u32");
    // Keep the file self-consistent: readers lay the data out by `general.alignment` (default 32).
    std::unordered_set<std::string_view> keys;
    const KV* align_kv = nullptr;
    for (const KV& kv : kvs) {
        if (kv.key.empty()) fail(path, "", "empty KV key");
        if (!keys.insert(kv.key).second) fail(path, "", "duplicate KV key " + printable(kv.key));
        if (kv.key == "general.alignment") align_kv = &kv;
    }
    if (align_kv) {
        if (align_kv->value.type != ValueType::U32 || align_kv->value.u != alignment)
            fail(path, "", "KV general.alignment (" + value_type_name(align_kv->value.type) + " " +
                               std::to_string(align_kv->value.u) + ") disagrees with the layout alignment " +
                               std::to_string(alignment) + " (it must be u32 " + std::to_string(alignment) + ")");
    } else if (alignment != kDefaultAlignment) {
        fail(path, "", "alignment " + std::to_string(alignment) + " needs a u32 KV general.alignment");
    }

    std::unordered_set<std::string_view> names;
    uint64_t offset = 0;
    infos_.reserve(tensors.size());
    for (const TensorSpec& spec : tensors) {
        if (!names.insert(spec.name).second) fail(path, spec.name, "duplicate tensor name");
        uint64_t nbytes = 0;
        if (std::string why = detail::check_shape(spec.ne, spec.type, nbytes); !why.empty()) fail(path, spec.name, why);
        TensorInfo t;
        t.name = spec.name;
        t.ne = spec.ne;
        t.type = spec.type;
        t.offset = offset;
        t.nbytes = static_cast<size_t>(nbytes);
        // Every tensor, the last included, is followed by zero padding to the alignment (as ggml writes).
        const auto padded = detail::align_up(nbytes, alignment);
        if (!padded || __builtin_add_overflow(offset, *padded, &offset)) fail(path, spec.name, "file size overflows");
        infos_.push_back(std::move(t));
    }

    const std::vector<uint8_t> meta = serialize_metadata(kvs, infos_);
    const auto data_offset = detail::align_up(meta.size(), alignment);
    if (!data_offset || __builtin_add_overflow(*data_offset, offset, &total_size_) ||
        total_size_ > static_cast<uint64_t>(INT64_MAX))
        fail(path, "", "file size overflows");
    data_offset_ = *data_offset;
    written_ = std::make_unique<std::atomic<uint64_t>[]>(infos_.size());

    file_ = std::make_unique<detail::PendingFile>(path);
    fd_ = file_->fd();
    const std::string& temp = file_->temp_name();
    // Reserve the whole file now: a full disk is reported before any work is spent on tensor data,
    // and the padding between tensors reads as zeros without being written.
    // (fallocate, not posix_fallocate: where the filesystem cannot reserve, glibc's emulation would
    // write every block; a sparse file is the better fallback.)
    if (::fallocate(fd_, 0, 0, static_cast<off_t>(total_size_)) != 0) {
        const int e = errno;
        if (e != EOPNOTSUPP && e != ENOSYS && e != EINVAL)
            fail(path, "", "cannot reserve " + std::to_string(total_size_) + " bytes for " + temp + ": " + errno_text(e));
        if (::ftruncate(fd_, static_cast<off_t>(total_size_)) != 0)
            fail(path, "", "cannot extend " + temp + " to " + std::to_string(total_size_) + " bytes: " +
                               errno_text(errno));
    }
    if (int e = pwrite_all(fd_, meta.data(), meta.size(), 0))
        fail(path, "", "cannot write the header to " + temp + ": " + errno_text(e));
}

Writer::~Writer() = default;  // file_ removes what was not published

const std::string& Writer::temp_path() const { return file_->temp_name(); }

std::string Writer::readable_path() const { return file_->readable_path(); }

void testing::fail_tensor_writes_after(int n, int err) {
    g_fault_errno.store(err);
    g_writes_before_fault.store(n);
}

void Writer::write_tensor(size_t i, uint64_t offset, const void* data, size_t n) {
    if (i >= infos_.size())
        fail(path_, "", "tensor index " + std::to_string(i) + " out of range (" + std::to_string(infos_.size()) +
                            " tensors)");
    const TensorInfo& t = infos_[i];
    if (offset > t.nbytes || n > t.nbytes - offset)
        fail(path_, t.name, "write of " + std::to_string(n) + " bytes at offset " + std::to_string(offset) +
                                " exceeds the tensor's " + std::to_string(t.nbytes) + " bytes");
    if (fd_ < 0) fail(path_, t.name, "write after commit");
    const uint64_t at = data_offset_ + t.offset + offset;
    int e = 0;
    if (g_writes_before_fault.load(std::memory_order_relaxed) >= 0 && g_writes_before_fault.fetch_sub(1) == 0)
        e = g_fault_errno.load();
    if (e != 0 || (e = pwrite_all(fd_, static_cast<const uint8_t*>(data), n, at)) != 0)
        fail(path_, t.name, "cannot write " + std::to_string(n) + " bytes at offset " + std::to_string(at) + " of " +
                                file_->temp_name() + ": " + errno_text(e));
    written_[i].fetch_add(n, std::memory_order_relaxed);
}

void Writer::commit(bool durable) {
    finish(durable);
    publish(durable);
}

void Writer::finish(bool durable) {
    if (committed_ || fd_ < 0) fail(path_, "", "finish called twice");
    for (size_t i = 0; i < infos_.size(); ++i) {
        const uint64_t w = written_[i].load(std::memory_order_relaxed);
        if (w != infos_[i].nbytes)
            fail(path_, infos_[i].name,
                 w < infos_[i].nbytes
                     ? "data incomplete at commit: " + std::to_string(w) + " of " + std::to_string(infos_[i].nbytes) +
                           " bytes written"
                     : "data overwritten at commit: " + std::to_string(w) + " bytes written for a " +
                           std::to_string(infos_[i].nbytes) + "-byte tensor");
    }
    // Without `durable` the data reaches the disk when the kernel writes it back (as llama-quantize's
    // output does); every write error has been reported already, and the file is named only after all
    // bytes were written.
    fd_ = -1;
    file_->finish(durable);
    finished_ = true;
}

void Writer::publish(bool durable) {
    if (!finished_ || committed_) fail(path_, "", "publish needs a finished, unpublished file");
    file_->publish(durable);
    committed_ = true;
}

}  // namespace kquant::gguf
