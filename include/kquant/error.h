// One error type for the whole project: what went wrong, with the file/tensor/row it concerns.
#pragma once
#include <stdexcept>
#include <string>

namespace kquant {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Formats "<file>: tensor '<tensor>': <what>", omitting empty parts.
std::string context(const std::string& file, const std::string& tensor, const std::string& what);

[[noreturn]] void fail(const std::string& file, const std::string& tensor, const std::string& what);

}  // namespace kquant
