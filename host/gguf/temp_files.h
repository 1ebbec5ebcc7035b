// Output files that appear under their name only when complete, and the process-wide registry of the
// named temporary files that live ones own, removed when a terminating signal arrives.
#pragma once
#include <memory>
#include <string>
#include <string_view>

namespace kquant::gguf::detail {

// Registers `path` (installing the signal handlers on first use) and returns its slot.
// Throws kquant::Error when every slot is taken or the path is too long.
int register_temp_file(const std::string& path);
// Forgets a slot (a no-op for -1). The file itself is not touched.
void unregister_temp_file(int slot);

// The name of a named temporary file for `base` in its directory: `.<base>.kquant-tmp-XXXXXX`, with
// <base> cut so that the name fits in `name_max` bytes.
std::string temp_name_template(const std::string& base, size_t name_max);

// A file being written at `path`, created next to it. Where the filesystem allows it, the file has no
// name until publish() (O_TMPFILE, then linkat): a process killed by anything, SIGKILL and power loss
// included, leaves nothing. Elsewhere it is `<dir>/.<name>.kquant-tmp-XXXXXX`, registered so that a
// terminating signal removes it. The destination is checked first: an existing non-regular file (a
// device such as /dev/null, a FIFO, a socket, a directory) is refused, since publishing replaces it.
class PendingFile {
public:
    explicit PendingFile(const std::string& path);  // throws kquant::Error
    ~PendingFile();                                  // removes the file unless published
    PendingFile(const PendingFile&) = delete;
    PendingFile& operator=(const PendingFile&) = delete;

    int fd() const { return fd_; }
    bool anonymous() const { return anonymous_; }
    // For messages: the named temporary file, or "<dir>/(unnamed temporary file)".
    const std::string& temp_name() const { return temp_name_; }
    // A path that opens the file's current contents until publish(): the named temporary file, or
    // /proc/self/fd/N.
    std::string readable_path() const;
    // Flushes (with `durable`); a named file is closed, an anonymous one stays open for publish().
    void finish(bool durable);
    // Gives the file its name, replacing whatever regular file had it, atomically.
    void publish(bool durable);

private:
    std::string path_, dir_, temp_name_;
    int fd_ = -1;
    bool anonymous_ = false;
    bool finished_ = false, published_ = false;
    int slot_ = -1;
};

// A small file (a report) written completely and flushed, waiting for publish().
std::unique_ptr<PendingFile> pending_text_file(const std::string& path, std::string_view text);

}  // namespace kquant::gguf::detail
