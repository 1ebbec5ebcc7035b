// The command line's positional arguments, in our form and in llama-quantize's, and the checks made on
// every file the command reads or writes before any work starts.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace kquant::cli {

struct Positionals {
    std::string input, output, type;  // output empty: the default name next to the input
    std::optional<int> threads;        // llama-quantize's NTHREADS (0: all cores)
};

// `args` are the positional arguments in order, `type_flag` the --type value ("" when not given).
// With --type: INPUT [OUTPUT]. Without: llama-quantize's INPUT [OUTPUT] TYPE [NTHREADS], where the
// argument after INPUT is TYPE when it names a preset (the output is then left out), else OUTPUT. The
// one departure: an argument that names a preset only through a leading number ("2.gguf") is OUTPUT when
// a valid TYPE follows it (llama-quantize would fail on that command). Throws kquant::Error.
Positionals resolve_positionals(const std::vector<std::string>& args, const std::string& type_flag);

// A thread count: a whole decimal number; 0 (or, for llama-quantize's NTHREADS, anything <= 0) means all
// cores. `what` names the argument in the error.
int parse_thread_count(const std::string& text, const std::string& what, bool negative_means_all);

// A file the command reads or writes, and how the user named its role ("the input", "--imatrix", ...).
struct FileUse {
    std::string path;
    std::string role;
};

// Refuses a command that would write over a file it reads (same inode, as any hard link or symlink
// reaches it) or write two outputs to one file. Throws kquant::Error naming both roles.
void check_file_uses(const std::vector<FileUse>& reads, const std::vector<FileUse>& writes);

// A file about to be written: its directory exists (and is one); the path does not end in '/', and does
// not name a directory or another existing file that is not a regular file (a device, FIFO, socket):
// outputs are renamed into place, which would replace such a file. Throws kquant::Error.
void check_output_location(const std::string& path, const std::string& role);

// A file about to be read: it exists and is a regular file (a FIFO would block, a device never end).
void check_input_file(const std::string& path, const std::string& role);

}  // namespace kquant::cli
