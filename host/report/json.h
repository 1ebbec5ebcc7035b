// A small streaming JSON writer for the reports and kquant-bench: no dependency, indented output,
// doubles in their shortest round-trip form, non-finite numbers as null.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kquant::json {

// s as a JSON string literal (quotes included; control characters escaped, UTF-8 passed through).
std::string quote(std::string_view s);

// The shortest text that reads back as exactly v; "null" for NaN and infinities.
std::string number(double v);

class Writer {
public:
    // `inline_` writes the container on one line (for short arrays of numbers).
    Writer& begin_object(bool inline_ = false);
    Writer& end_object();
    Writer& begin_array(bool inline_ = false);
    Writer& end_array();
    Writer& key(std::string_view k);  // inside an object, before each value

    Writer& value(std::string_view s);
    Writer& value(const char* s) { return value(std::string_view(s)); }
    Writer& value(const std::string& s) { return value(std::string_view(s)); }
    Writer& value(double v);
    Writer& value(int64_t v);
    Writer& value(uint64_t v);
    Writer& value(int v) { return value(static_cast<int64_t>(v)); }
    Writer& value(unsigned v) { return value(static_cast<uint64_t>(v)); }
    Writer& value(bool v);
    Writer& null();

    // key + value in one call.
    template <class T>
    Writer& field(std::string_view k, const T& v) {
        key(k);
        return value(v);
    }

    // The document, with a trailing newline. The writer must be back at the top level.
    std::string str() const;

private:
    struct Level {
        bool is_object, is_inline, empty = true;
    };
    void before_value();
    void open(char c, bool is_object, bool inline_);
    void close(char c);
    void newline();
    std::string out_;
    std::vector<Level> stack_;
    bool after_key_ = false;
};

// Writes text to path (replacing it); throws kquant::Error naming the path on failure.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace kquant::json
