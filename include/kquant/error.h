// One error type for the whole project: what went wrong, with the file/tensor/row it concerns.
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>

namespace kquant {

// The message is made safe to print: control characters other than newline and tab (a NUL, which
// would cut the message off, or an escape sequence from a file) and invalid UTF-8 appear as \xNN.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what);
};

// A name, key or string taken from a file or the command line, fit for a message: in single quotes,
// with control characters and invalid UTF-8 escaped (\xNN, \n, \t) and, beyond `max_bytes`, cut
// and followed by "... (N bytes)".
std::string printable(std::string_view s, size_t max_bytes = 120);

// Formats "<file>: tensor '<tensor>': <what>", omitting empty parts (the tensor name as printable()).
std::string context(const std::string& file, const std::string& tensor, const std::string& what);

[[noreturn]] void fail(const std::string& file, const std::string& tensor, const std::string& what);

}  // namespace kquant
