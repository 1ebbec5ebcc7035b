#include "kquant/error.h"

#include <algorithm>
#include <cctype>

#include "kquant/types.h"

namespace kquant {

std::string context(const std::string& file, const std::string& tensor, const std::string& what) {
    std::string s;
    if (!file.empty()) s += file + ": ";
    if (!tensor.empty()) s += "tensor '" + tensor + "': ";
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
