#include "report/json.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "gguf/temp_files.h"
#include "kquant/error.h"

namespace kquant::json {

std::string quote(std::string_view s) {
    std::string r;
    r.reserve(s.size() + 2);
    r += '"';
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"': r += "\\\""; break;
            case '\\': r += "\\\\"; break;
            case '\n': r += "\\n"; break;
            case '\r': r += "\\r"; break;
            case '\t': r += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    r += buf;
                } else {
                    r += ch;
                }
        }
    }
    r += '"';
    return r;
}

std::string number(double v) {
    if (!std::isfinite(v)) return "null";
    char buf[32];
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, res.ptr);
}

void Writer::newline() {
    out_ += '\n';
    out_.append(2 * stack_.size(), ' ');
}

void Writer::before_value() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (stack_.empty()) return;
    Level& l = stack_.back();
    if (l.is_object) throw Error("json: a value inside an object needs a key");
    if (!l.empty) out_ += l.is_inline ? ", " : ",";
    if (!l.is_inline) newline();
    l.empty = false;
}

Writer& Writer::key(std::string_view k) {
    if (stack_.empty() || !stack_.back().is_object || after_key_) throw Error("json: misplaced key");
    Level& l = stack_.back();
    if (!l.empty) out_ += l.is_inline ? ", " : ",";
    if (!l.is_inline) newline();
    l.empty = false;
    out_ += quote(k);
    out_ += ": ";
    after_key_ = true;
    return *this;
}

void Writer::open(char c, bool is_object, bool inline_) {
    before_value();
    out_ += c;
    // A container inside an inline one stays inline.
    const bool in_inline = !stack_.empty() && stack_.back().is_inline;
    stack_.push_back({is_object, inline_ || in_inline});
}

void Writer::close(char c) {
    if (stack_.empty() || after_key_) throw Error("json: unbalanced container");
    const Level l = stack_.back();
    stack_.pop_back();
    if (!l.is_inline && !l.empty) newline();
    out_ += c;
}

Writer& Writer::begin_object(bool inline_) {
    open('{', true, inline_);
    return *this;
}
Writer& Writer::end_object() {
    close('}');
    return *this;
}
Writer& Writer::begin_array(bool inline_) {
    open('[', false, inline_);
    return *this;
}
Writer& Writer::end_array() {
    close(']');
    return *this;
}

Writer& Writer::value(std::string_view s) {
    before_value();
    out_ += quote(s);
    return *this;
}
Writer& Writer::value(double v) {
    before_value();
    out_ += number(v);
    return *this;
}
Writer& Writer::value(int64_t v) {
    before_value();
    out_ += std::to_string(v);
    return *this;
}
Writer& Writer::value(uint64_t v) {
    before_value();
    out_ += std::to_string(v);
    return *this;
}
Writer& Writer::value(bool v) {
    before_value();
    out_ += v ? "true" : "false";
    return *this;
}
Writer& Writer::null() {
    before_value();
    out_ += "null";
    return *this;
}

std::string Writer::str() const {
    if (!stack_.empty() || after_key_) throw Error("json: document not closed");
    return out_ + "\n";
}

void write_text_file(const std::string& path, const std::string& text) {
    // Complete or not at all: a full disk leaves no empty or partial report.
    gguf::detail::pending_text_file(path, text)->publish(false);
}

}  // namespace kquant::json
