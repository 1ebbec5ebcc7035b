#include "cli/arguments.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/file_kind.h"
#include "kquant/error.h"
#include "kquant/gguf.h"
#include "kquant/presets.h"

namespace kquant::cli {
namespace {

// A preset named exactly (case-insensitive) or by a number with nothing after it.
bool names_preset_exactly(const std::string& arg) {
    if (!find_preset(arg)) return false;
    for (const PresetInfo& p : presets())
        if (p.name.size() == arg.size() &&
            std::equal(arg.begin(), arg.end(), p.name.begin(),
                       [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == b; }))
            return true;
    size_t i = arg[0] == '-' || arg[0] == '+' ? 1 : 0;
    if (i == arg.size()) return false;
    for (; i < arg.size(); ++i)
        if (!std::isdigit(static_cast<unsigned char>(arg[i]))) return false;
    return true;
}

std::string describe(const FileUse& f) { return f.role + " (" + f.path + ")"; }

// Whether two paths name one file: the same inode when both exist, else the same normalized path.
bool same_file(const std::string& a, const std::string& b) {
    struct stat sa {}, sb {};
    const bool ea = ::stat(a.c_str(), &sa) == 0, eb = ::stat(b.c_str(), &sb) == 0;
    if (ea && eb) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (ea != eb) return false;
    namespace fs = std::filesystem;
    std::error_code e1, e2;
    const fs::path na = fs::weakly_canonical(fs::absolute(a, e1), e1);
    const fs::path nb = fs::weakly_canonical(fs::absolute(b, e2), e2);
    return !e1 && !e2 && na == nb;
}

}  // namespace

Positionals resolve_positionals(const std::vector<std::string>& args, const std::string& type_flag) {
    Positionals p;
    if (args.empty()) throw Error("INPUT is required (kquant-cuda --type TYPE INPUT [OUTPUT], or INPUT [OUTPUT] TYPE [NTHREADS])");
    p.input = args[0];
    if (!type_flag.empty()) {
        p.type = type_flag;
        if (args.size() > 2)
            throw Error("unexpected argument " + printable(args[2]) +
                        ": with --type, give INPUT [OUTPUT] (or leave --type out: INPUT [OUTPUT] TYPE [NTHREADS])");
        if (args.size() == 2) p.output = args[1];
        return p;
    }
    if (args.size() < 2)
        throw Error("missing TYPE: give --type TYPE, or INPUT [OUTPUT] TYPE [NTHREADS] as llama-quantize takes them");
    size_t next;
    const bool second_is_type =
        find_preset(args[1]) && (names_preset_exactly(args[1]) || args.size() < 3 || !find_preset(args[2]));
    if (second_is_type) {
        p.type = args[1];
        next = 2;
    } else {
        p.output = args[1];
        if (args.size() < 3) throw Error("missing TYPE after OUTPUT " + printable(args[1]));
        parse_preset(args[2]);  // the error lists the valid names
        p.type = args[2];
        next = 3;
    }
    if (args.size() > next) p.threads = parse_thread_count(args[next], "NTHREADS", true);
    if (args.size() > next + 1) throw Error("unexpected argument " + printable(args[next + 1]) + " after NTHREADS");
    return p;
}

int parse_thread_count(const std::string& text, const std::string& what, bool negative_means_all) {
    constexpr long kMaxThreads = 4096;
    const char* s = text.c_str();
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(s, &end, 10);
    if (text.empty() || end == s || *end != '\0' || std::isspace(static_cast<unsigned char>(s[0])))
        throw Error(what + " " + printable(text) + " is not a number of threads (a whole number; 0 for all cores)");
    if (v < 0 && !negative_means_all)
        throw Error(what + " " + text + " is negative: give a number of threads, or 0 for all cores");
    if (v <= 0) return 0;
    if (errno == ERANGE || v > kMaxThreads)
        throw Error(what + " " + text + " is too many threads (at most " + std::to_string(kMaxThreads) +
                    "; 0 uses all cores)");
    return static_cast<int>(v);
}

void check_file_uses(const std::vector<FileUse>& reads, const std::vector<FileUse>& writes) {
    for (size_t w = 0; w < writes.size(); ++w) {
        for (const FileUse& r : reads)
            if (same_file(writes[w].path, r.path))
                throw Error("refusing to write " + describe(writes[w]) + ": it is the same file as " + describe(r) +
                            ", which this command reads");
        for (size_t v = 0; v < w; ++v)
            if (same_file(writes[w].path, writes[v].path))
                throw Error(describe(writes[v]) + " and " + describe(writes[w]) + " are the same file");
    }
}

void check_output_location(const std::string& path, const std::string& role) {
    const std::string who = role + " " + path;
    if (path.empty()) throw Error(role + ": empty file name");
    if (path.back() == '/')
        throw Error(who + ": names a directory (it ends in '/'); give a file name, e.g. " + path + "model.gguf");
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode))
            throw Error(who + ": is a directory; give a file name inside it, e.g. " + path + "/model.gguf");
        if (!S_ISREG(st.st_mode))
            throw Error(who + ": exists and is " + file_kind(st.st_mode) +
                        "; kquant-cuda only replaces regular files, since it renames a complete file into place "
                        "(remove it, or use --dry-run to write nothing)");
    }
    const size_t slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    if (::stat(dir.c_str(), &st) != 0) {
        const int e = errno;
        if (e == ENOENT) throw Error(who + ": the directory " + dir + " does not exist");
        if (e == ENOTDIR) throw Error(who + ": " + dir + " is not a directory (a file is in the way)");
        throw Error(who + ": cannot use the directory " + dir + ": " + std::strerror(e));
    }
    if (!S_ISDIR(st.st_mode)) throw Error(who + ": " + dir + " is not a directory");
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
        throw Error(who + ": cannot write in the directory " + dir + ": " + std::strerror(errno));
}

void check_input_file(const std::string& path, const std::string& role) {
    uint64_t size = 0;
    ::close(gguf::open_regular_file(path, &size, role + " " + path));
}

}  // namespace kquant::cli
