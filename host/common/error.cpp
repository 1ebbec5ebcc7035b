#include "kquant/error.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "kquant/types.h"

namespace kquant {
namespace {

// Length of the valid UTF-8 sequence at s[i] (1-4), or 0 when the bytes there are not one.
size_t utf8_sequence(std::string_view s, size_t i) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return 1;
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) n = 2, cp = c & 0x1fu;
    else if (c >= 0xe0 && c <= 0xef) n = 3, cp = c & 0x0fu;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, cp = c & 0x07u;
    else return 0;
    if (i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k) {
        if ((b(i + k) & 0xc0u) != 0x80u) return 0;
        cp = cp << 6 | (b(i + k) & 0x3fu);
    }
    // Overlong forms, surrogates, beyond U+10FFFF, and the C1 controls (U+0080..U+009F: a terminal may
    // take U+009B as the start of an escape sequence).
    const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || cp <= 0x9f) return 0;
    return n;
}

// Appends s with every unsafe byte escaped, stopping before `limit` input bytes; returns the bytes used.
size_t append_escaped(std::string& out, std::string_view s, size_t limit, bool keep_newlines) {
    size_t i = 0;
    while (i < s.size() && i < limit) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        const size_t n = utf8_sequence(s, i);
        if (n == 1 && c >= 0x20 && c != 0x7f) {
            out += static_cast<char>(c);
        } else if (n > 1) {
            if (i + n > limit) break;  // do not cut a character in two
            out.append(s.substr(i, n));
            i += n;
            continue;
        } else if (c == '\n' && keep_newlines) {
            out += '\n';
        } else if (c == '\t' && keep_newlines) {
            out += '\t';
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
        ++i;
    }
    return i;
}

bool needs_escaping(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        const size_t n = utf8_sequence(s, i);
        if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7f) && c != '\n' && c != '\t')) return true;
        i += n;
    }
    return false;
}

std::string safe_message(const std::string& what) {
    if (!needs_escaping(what)) return what;
    std::string out;
    append_escaped(out, what, what.size(), true);
    return out;
}

}  // namespace

Error::Error(const std::string& what) : std::runtime_error(safe_message(what)) {}

std::string printable(std::string_view s, size_t max_bytes) {
    std::string out = "'";
    const size_t used = append_escaped(out, s, max_bytes, false);
    out += '\'';
    if (used < s.size()) out += "... (" + std::to_string(s.size()) + " bytes)";
    return out;
}

std::string context(const std::string& file, const std::string& tensor, const std::string& what) {
    std::string s;
    if (!file.empty()) s += file + ": ";
    if (!tensor.empty()) s += "tensor " + printable(tensor) + ": ";
    return s + what;
}

void fail(const std::string& file, const std::string& tensor, const std::string& what) {
    throw Error(context(file, tensor, what));
}

std::optional<Type> parse_type_name(std::string_view name) {
    auto lower = [](std::string_view s) {
        std::string r(s);
        std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return std::tolower(c); });
        return r;
    };
    const std::string want = lower(name);
    for (const TypeInfo& t : kTypes)
        if (lower(t.name) == want) return t.id;
    return std::nullopt;
}

}  // namespace kquant
