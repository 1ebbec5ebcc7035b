// --tensor-type NAME=TYPE entries, --tensor-type-file, and ggml type names for the type options.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "kquant/error.h"
#include "kquant/gguf.h"
#include "kquant/presets.h"

namespace kquant {

Type parse_ggml_type(std::string_view name) {
    if (std::optional<Type> t = parse_type_name(name)) return *t;
    std::string valid;
    for (const TypeInfo& t : kTypes) valid += (valid.empty() ? "" : ", ") + std::string(t.name);
    throw Error("invalid ggml_type '" + std::string(name) + "' (valid: " + valid + ")");
}

namespace {

// std::regex compiles and matches by recursion, so a deeply nested or hugely repeated pattern overflows
// the stack. Tensor names are at most 63 bytes (ggml's limit, which the reader enforces), so a pattern
// beyond these bounds cannot be useful.
constexpr size_t kMaxPatternBytes = 512;
constexpr int kMaxPatternNesting = 16;
constexpr long kMaxRepeat = 64;

// "" or why the pattern is refused. Counts groups and brackets outside escapes; a repeat count is the
// number(s) inside {...}.
std::string pattern_problem(std::string_view p) {
    if (p.size() > kMaxPatternBytes)
        return "the pattern is " + std::to_string(p.size()) + " bytes long; at most " +
               std::to_string(kMaxPatternBytes) + " are accepted (tensor names have at most 63)";
    int depth = 0;
    for (size_t i = 0; i < p.size(); ++i) {
        const char c = p[i];
        if (c == '\\') {
            ++i;
        } else if (c == '(') {
            if (++depth > kMaxPatternNesting)
                return "groups are nested more than " + std::to_string(kMaxPatternNesting) + " deep";
        } else if (c == ')') {
            depth = depth > 0 ? depth - 1 : 0;
        } else if (c == '{') {
            long n = 0;
            for (size_t j = i + 1; j < p.size() && (std::isdigit(static_cast<unsigned char>(p[j])) || p[j] == ','); ++j) {
                if (p[j] == ',') {
                    n = 0;
                    continue;
                }
                n = std::min(n * 10 + (p[j] - '0'), 1000000L);
                if (n > kMaxRepeat)
                    return "a repeat count above " + std::to_string(kMaxRepeat) + " ({...} at byte " +
                           std::to_string(i) + ")";
            }
        }
    }
    return {};
}

}  // namespace

TensorTypeRule parse_tensor_type_rule(std::string_view arg) {
    const size_t eq = arg.find('=');
    if (eq == std::string_view::npos) throw Error("malformed tensor type '" + std::string(arg) + "'");
    if (eq == 0) throw Error("missing tensor name in tensor type '" + std::string(arg) + "'");
    if (eq + 1 == arg.size()) throw Error("missing quantization type in tensor type '" + std::string(arg) + "'");
    std::string pattern(arg.substr(0, eq));
    if (std::string why = pattern_problem(pattern); !why.empty())
        throw Error("tensor type pattern " + printable(pattern, 60) + " refused: " + why);
    std::transform(pattern.begin(), pattern.end(), pattern.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::string_view type = arg.substr(eq + 1);
    const std::optional<Type> t = parse_type_name(type);
    if (!t) throw Error("invalid quantization type '" + std::string(type) + "' in tensor type '" + std::string(arg) + "'");
    return {pattern, *t};
}

std::vector<TensorTypeRule> parse_tensor_type_list(std::string_view text, const std::string& file) {
    std::vector<TensorTypeRule> rules;
    std::istringstream in{std::string(text)};
    std::string entry;
    while (in >> entry) {
        try {
            rules.push_back(parse_tensor_type_rule(entry));
        } catch (const Error& e) {
            throw Error(context(file, "", e.what()));
        }
    }
    return rules;
}

std::vector<TensorTypeRule> load_tensor_type_file(const std::string& path) {
    // A list of patterns is small; a bound keeps a wrong argument (a model, /dev/zero) from filling memory.
    constexpr uint64_t kMaxBytes = 1u << 20;
    uint64_t size = 0;
    const int fd = gguf::open_regular_file(path, &size);
    if (size > kMaxBytes) {
        ::close(fd);
        throw Error(context(path, "", "the tensor type file has " + std::to_string(size) + " bytes; at most " +
                                          std::to_string(kMaxBytes) + " are read (is it the right file?)"));
    }
    std::string text(static_cast<size_t>(size), '\0');
    size_t got = 0;
    while (got < text.size()) {
        const ssize_t n = ::pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int e = errno;
            ::close(fd);
            throw Error(context(path, "", std::string("cannot read the tensor type file: ") + std::strerror(e)));
        }
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    ::close(fd);
    text.resize(got);
    return parse_tensor_type_list(text, path);
}

}  // namespace kquant
