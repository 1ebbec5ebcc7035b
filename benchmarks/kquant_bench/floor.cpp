// The I/O floor: how long this machine takes to read the source and to write an output of the same size
// with the pipeline's thread counts, doing nothing else. Also the page-cache drop for --cold and a plain
// one-thread sequential read of the source.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "kquant/error.h"
#include "kquant_bench/bench.h"

namespace kquant::bench {
namespace {

constexpr size_t kBlock = size_t{8} << 20;  // bytes per pread/pwrite call

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string errno_text(int e) { return std::strerror(e); }

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

uint64_t file_size_of(int fd, const std::string& path) {
    struct stat st{};
    if (::fstat(fd, &st) != 0) throw Error("floor: cannot stat " + path + ": " + errno_text(errno));
    return static_cast<uint64_t>(st.st_size);
}

// Reads [begin, end) of the logical concatenation of the files with pread into `buf`.
void read_range(const std::vector<int>& fds, const std::vector<uint64_t>& sizes, uint64_t begin, uint64_t end,
                uint8_t* buf, size_t block, int* err) {
    uint64_t base = 0;
    for (size_t f = 0; f < fds.size() && begin < end; ++f) {
        const uint64_t fend = base + sizes[f];
        while (begin < end && begin < fend) {
            const uint64_t off = begin - base;
            const size_t n = static_cast<size_t>(std::min<uint64_t>({block, end - begin, fend - begin}));
            const ssize_t r = ::pread(fds[f], buf, n, static_cast<off_t>(off));
            if (r < 0) {
                if (errno == EINTR) continue;
                *err = errno;
                return;
            }
            if (r == 0) break;  // file shrank: stop
            begin += static_cast<uint64_t>(r);
        }
        base = fend;
    }
}

double timed_read(const std::vector<std::string>& files, int threads, size_t block) {
    std::vector<Fd> fds(files.size());
    std::vector<int> raw;
    std::vector<uint64_t> sizes;
    uint64_t total = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t k = 0; k < files.size(); ++k) {
        fds[k].fd = ::open(files[k].c_str(), O_RDONLY | O_CLOEXEC);
        if (fds[k].fd < 0) throw Error("floor: cannot open " + files[k] + ": " + errno_text(errno));
        raw.push_back(fds[k].fd);
        sizes.push_back(file_size_of(fds[k].fd, files[k]));
        total += sizes.back();
    }
    threads = std::max(1, threads);
    std::vector<int> errs(threads, 0);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            const uint64_t b = total * t / threads, e = total * (t + 1) / threads;
            std::unique_ptr<uint8_t[]> buf(new uint8_t[block]);
            read_range(raw, sizes, b, e, buf.get(), block, &errs[t]);
        });
    for (std::thread& th : pool) th.join();
    const double s = seconds_since(t0);
    for (const int e : errs)
        if (e) throw Error("floor: read failed: " + errno_text(e));
    return s;
}

}  // namespace

bool drop_page_cache(std::string* why) {
    if (::geteuid() != 0) {
        if (why) *why = "not root";
        return false;
    }
    ::sync();
    const int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        if (why) *why = "cannot open /proc/sys/vm/drop_caches: " + errno_text(errno);
        return false;
    }
    const ssize_t w = ::write(fd, "3", 1);
    const int e = errno;
    ::close(fd);
    if (w != 1) {
        if (why) *why = "cannot write /proc/sys/vm/drop_caches: " + errno_text(e);
        return false;
    }
    return true;
}

double floor_read(const std::vector<std::string>& files, int readers) { return timed_read(files, readers, kBlock); }

double sequential_read(const std::vector<std::string>& files) {
    return timed_read(files, 1, size_t{16} << 20);
}

double floor_write(const std::string& dir, uint64_t bytes, int writers) {
    namespace fs = std::filesystem;
    std::string tmpl = (fs::path(dir) / ".kquant-bench-floor-XXXXXX").string();
    writers = std::max(1, writers);
    // The data: one non-zero block shared by all writers (the page cache copies it either way).
    std::unique_ptr<uint8_t[]> block(new uint8_t[kBlock]);
    for (size_t i = 0; i < kBlock; ++i) block[i] = static_cast<uint8_t>(i * 131 + 7);

    const auto t0 = std::chrono::steady_clock::now();
    Fd fd;
    fd.fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd.fd < 0) throw Error("floor: cannot create a file in " + dir + ": " + errno_text(errno));
    struct Unlink {
        std::string p;
        ~Unlink() { ::unlink(p.c_str()); }
    } unlink_at_end{tmpl};
    // As host/gguf/writer.cpp: reserve the whole file, then pwrite into it.
    if (bytes > 0 && ::fallocate(fd.fd, 0, 0, static_cast<off_t>(bytes)) != 0) {
        const int e = errno;
        if (e != EOPNOTSUPP && e != ENOSYS && e != EINVAL)
            throw Error("floor: cannot reserve " + std::to_string(bytes) + " bytes in " + dir + ": " + errno_text(e));
        if (::ftruncate(fd.fd, static_cast<off_t>(bytes)) != 0)
            throw Error("floor: cannot extend " + tmpl + ": " + errno_text(errno));
    }
    std::vector<int> errs(writers, 0);
    std::vector<std::thread> pool;
    for (int t = 0; t < writers; ++t)
        pool.emplace_back([&, t] {
            uint64_t at = bytes * t / writers;
            const uint64_t end = bytes * (t + 1) / writers;
            while (at < end) {
                const size_t n = static_cast<size_t>(std::min<uint64_t>(kBlock, end - at));
                const ssize_t w = ::pwrite(fd.fd, block.get(), n, static_cast<off_t>(at));
                if (w < 0) {
                    if (errno == EINTR) continue;
                    errs[t] = errno;
                    return;
                }
                at += static_cast<uint64_t>(w);
            }
        });
    for (std::thread& th : pool) th.join();
    const int c = ::close(fd.fd);
    fd.fd = -1;
    const double s = seconds_since(t0);
    for (const int e : errs)
        if (e) throw Error("floor: write to " + tmpl + " failed: " + errno_text(e));
    if (c != 0) throw Error("floor: closing " + tmpl + " failed: " + errno_text(errno));
    return s;  // the file is removed by unlink_at_end, outside the timed region
}

bool files_identical(const std::string& a, const std::string& b, std::string* detail) {
    Fd fa, fb;
    fa.fd = ::open(a.c_str(), O_RDONLY | O_CLOEXEC);
    fb.fd = ::open(b.c_str(), O_RDONLY | O_CLOEXEC);
    if (fa.fd < 0 || fb.fd < 0) {
        if (detail) *detail = "cannot open " + (fa.fd < 0 ? a : b);
        return false;
    }
    const uint64_t sa = file_size_of(fa.fd, a), sb = file_size_of(fb.fd, b);
    if (sa != sb) {
        if (detail) *detail = "sizes differ (" + std::to_string(sa) + " vs " + std::to_string(sb) + " bytes)";
        return false;
    }
    std::vector<uint8_t> ba(kBlock), bb(kBlock);
    for (uint64_t at = 0; at < sa;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(kBlock, sa - at));
        auto fill = [&](int fd, uint8_t* p) {
            size_t got = 0;
            while (got < n) {
                const ssize_t r = ::pread(fd, p + got, n - got, static_cast<off_t>(at + got));
                if (r < 0 && errno == EINTR) continue;
                if (r <= 0) return false;
                got += static_cast<size_t>(r);
            }
            return true;
        };
        if (!fill(fa.fd, ba.data()) || !fill(fb.fd, bb.data())) {
            if (detail) *detail = "read error";
            return false;
        }
        if (std::memcmp(ba.data(), bb.data(), n) != 0) {
            size_t i = 0;
            while (ba[i] == bb[i]) ++i;
            if (detail) *detail = "first difference at byte " + std::to_string(at + i);
            return false;
        }
        at += n;
    }
    return true;
}

}  // namespace kquant::bench
