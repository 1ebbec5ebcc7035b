// What a file that is not a regular file is, for messages that refuse it (the CLI's output checks and
// the writer's destination check).
#pragma once
#include <sys/stat.h>

namespace kquant {

inline const char* file_kind(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

}  // namespace kquant
