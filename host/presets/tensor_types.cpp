// --tensor-type NAME=TYPE entries, --tensor-type-file, and ggml type names for the type options.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "kquant/error.h"
#include "kquant/presets.h"

namespace kquant {

Type parse_ggml_type(std::string_view name) {
    if (std::optional<Type> t = parse_type_name(name)) return *t;
    std::string valid;
    for (const TypeInfo& t : kTypes) valid += (valid.empty() ? "" : ", ") + std::string(t.name);
    throw Error("invalid ggml_type '" + std::string(name) + "' (valid: " + valid + ")");
}

TensorTypeRule parse_tensor_type_rule(std::string_view arg) {
    const size_t eq = arg.find('=');
    if (eq == std::string_view::npos) throw Error("malformed tensor type '" + std::string(arg) + "'");
    if (eq == 0) throw Error("missing tensor name in tensor type '" + std::string(arg) + "'");
    if (eq + 1 == arg.size()) throw Error("missing quantization type in tensor type '" + std::string(arg) + "'");
    std::string pattern(arg.substr(0, eq));
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
    std::ifstream in(path);
    if (!in) throw Error(context(path, "", "cannot open the tensor type file"));
    std::ostringstream s;
    s << in.rdbuf();
    return parse_tensor_type_list(s.str(), path);
}

}  // namespace kquant
