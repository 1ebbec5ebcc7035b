// compare(): whether two GGUF files hold the same tensors and metadata, and where they first differ.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <string_view>
#include <unordered_map>

#include "kquant/error.h"
#include "kquant/gguf.h"
#include "kquant/report.h"
#include "report/detail.h"

namespace kquant::report {
namespace {

using detail::shape_str;

// Offset of the first byte where a and b differ (n when they are equal).
uint64_t first_difference(const uint8_t* a, const uint8_t* b, uint64_t n) {
    constexpr uint64_t kStep = 4096;
    uint64_t off = 0;
    while (off < n) {
        const uint64_t len = std::min(kStep, n - off);
        if (std::memcmp(a + off, b + off, len) != 0) break;
        off += len;
    }
    while (off < n && a[off] == b[off]) ++off;
    return off;
}

void compare_data(const gguf::Reader& ra, const gguf::TensorInfo& ta, const gguf::Reader& rb,
                  const gguf::TensorInfo& tb, TensorDiff& d) {
    const uint8_t* pa = ra.tensor_data(ta);
    const uint8_t* pb = rb.tensor_data(tb);
    const uint64_t n = ta.nbytes;
    const size_t block = type_info(ta.type).block_bytes;
    d.n_blocks = static_cast<int64_t>(n / block);
    const uint64_t off = first_difference(pa, pb, n);
    if (off == n) {
        d.identical = true;
        return;
    }
    d.first_diff_byte = off;
    d.first_diff_block = static_cast<int64_t>(off / block);
    d.first_diff_row = static_cast<int64_t>(off / row_bytes(ta.type, ta.ne_at(0)));
    for (int64_t k = d.first_diff_block; k < d.n_blocks; ++k)
        if (std::memcmp(pa + k * block, pb + k * block, block) != 0) ++d.differing_blocks;
}

// The first differing element of two arrays of equal type and length, as a note.
std::string array_note(const gguf::Value& a, const gguf::Value& b) {
    for (size_t i = 0; i < a.arr.size(); ++i)
        if (!(a.arr[i] == b.arr[i]))
            return "element " + std::to_string(i) + ": " + detail::value_text(a.arr[i]) + " vs " +
                   detail::value_text(b.arr[i]);
    return "";
}

void compare_metadata(const gguf::Reader& ra, const gguf::Reader& rb, CompareReport& r) {
    std::unordered_map<std::string_view, const gguf::KV*> in_b;
    for (const gguf::KV& kv : rb.kvs()) in_b.emplace(kv.key, &kv);
    std::unordered_map<std::string_view, bool> in_a;
    for (const gguf::KV& kv : ra.kvs()) {
        in_a.emplace(kv.key, true);
        const auto it = in_b.find(kv.key);
        if (it == in_b.end()) {
            r.metadata.push_back({kv.key, detail::value_text(kv.value), "(absent)", ""});
        } else if (!(kv.value == it->second->value)) {
            MetaDiff m{kv.key, detail::value_text(kv.value), detail::value_text(it->second->value), ""};
            const gguf::Value &va = kv.value, &vb = it->second->value;
            if (va.type == gguf::ValueType::ARRAY && vb.type == va.type && va.elem_type == vb.elem_type &&
                va.arr.size() == vb.arr.size())
                m.note = array_note(va, vb);
            r.metadata.push_back(std::move(m));
        }
    }
    for (const gguf::KV& kv : rb.kvs())
        if (!in_a.contains(kv.key)) r.metadata.push_back({kv.key, "(absent)", detail::value_text(kv.value), ""});
    if (r.metadata.empty() && ra.kvs().size() == rb.kvs().size()) {
        for (size_t i = 0; i < ra.kvs().size(); ++i)
            if (ra.kvs()[i].key != rb.kvs()[i].key) {
                r.layout.push_back("KV order differs (position " + std::to_string(i) + ": " + printable(ra.kvs()[i].key) +
                                   " vs " + printable(rb.kvs()[i].key) + ")");
                break;
            }
    }
}

// Offset of the first differing byte of two files, or -1 when they are equal (sizes included).
int64_t first_file_difference(const std::string& a, const std::string& b) {
    std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
    if (!fa) throw Error(a + ": cannot open");
    if (!fb) throw Error(b + ": cannot open");
    std::vector<char> ba(1 << 20), bb(1 << 20);
    int64_t off = 0;
    for (;;) {
        fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
        fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
        const auto na = fa.gcount(), nb = fb.gcount();
        const auto n = std::min(na, nb);
        const uint64_t d = first_difference(reinterpret_cast<const uint8_t*>(ba.data()),
                                            reinterpret_cast<const uint8_t*>(bb.data()), static_cast<uint64_t>(n));
        if (d < static_cast<uint64_t>(n)) return off + static_cast<int64_t>(d);
        if (na != nb) return off + n;
        if (na == 0) return -1;
        off += n;
    }
}

}  // namespace

const char* verdict_name(Verdict v) {
    switch (v) {
        case Verdict::Identical: return "identical";
        case Verdict::SameTensors: return "same-tensors";
        case Verdict::Different: return "different";
    }
    return "?";
}

CompareReport compare(const std::string& a_path, const std::string& b_path) {
    const auto ra = gguf::Reader::open(a_path);
    const auto rb = gguf::Reader::open(b_path);
    CompareReport r;
    r.a = a_path;
    r.b = b_path;
    r.size_a = ra->file_size();
    r.size_b = rb->file_size();
    if (ra->version() != rb->version())
        r.layout.push_back("GGUF version " + std::to_string(ra->version()) + " vs " + std::to_string(rb->version()));
    if (ra->alignment() != rb->alignment())
        r.layout.push_back("alignment " + std::to_string(ra->alignment()) + " vs " + std::to_string(rb->alignment()));

    std::unordered_map<std::string_view, const gguf::TensorInfo*> in_b;
    for (const gguf::TensorInfo& t : rb->tensors()) in_b.emplace(t.name, &t);
    std::unordered_map<std::string_view, bool> in_a;
    bool all_identical = true;
    for (const gguf::TensorInfo& ta : ra->tensors()) {
        in_a.emplace(ta.name, true);
        TensorDiff d;
        d.name = ta.name;
        d.in_a = true;
        d.type_a = ta.type;
        d.ne_a = ta.ne;
        const auto it = in_b.find(ta.name);
        if (it != in_b.end()) {
            const gguf::TensorInfo& tb = *it->second;
            d.in_b = true;
            d.type_b = tb.type;
            d.ne_b = tb.ne;
            d.same_type_shape = ta.type == tb.type && detail::same_shape(ta.ne, tb.ne);
            if (d.same_type_shape) compare_data(*ra, ta, *rb, tb, d);
        }
        if (d.identical) ++r.identical_tensors;
        all_identical = all_identical && d.identical;
        r.tensors.push_back(std::move(d));
    }
    for (const gguf::TensorInfo& tb : rb->tensors()) {
        if (in_a.contains(tb.name)) continue;
        TensorDiff d;
        d.name = tb.name;
        d.in_b = true;
        d.type_b = tb.type;
        d.ne_b = tb.ne;
        all_identical = false;
        r.tensors.push_back(std::move(d));
    }
    if (all_identical && ra->tensors().size() == rb->tensors().size()) {
        for (size_t i = 0; i < ra->tensors().size(); ++i)
            if (ra->tensors()[i].name != rb->tensors()[i].name) {
                r.layout.push_back("tensor order differs (position " + std::to_string(i) + ": '" +
                                   ra->tensors()[i].name + "' vs '" + rb->tensors()[i].name + "')");
                break;
            }
    }
    compare_metadata(*ra, *rb, r);

    if (!all_identical) {
        r.verdict = Verdict::Different;
    } else if (!r.metadata.empty() || !r.layout.empty()) {
        r.verdict = Verdict::SameTensors;
    } else {
        // Everything parsed is equal; the bytes decide (header encoding, padding).
        const int64_t off = first_file_difference(a_path, b_path);
        if (off < 0) {
            r.verdict = Verdict::Identical;
        } else {
            r.verdict = Verdict::SameTensors;
            r.layout.push_back(r.size_a != r.size_b
                                   ? "file sizes differ (" + std::to_string(r.size_a) + " vs " +
                                         std::to_string(r.size_b) + " bytes)"
                                   : "header or padding bytes differ, first at file offset " + std::to_string(off));
        }
    }
    return r;
}

}  // namespace kquant::report
