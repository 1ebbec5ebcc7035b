// The verify and compare reports as JSON.
#include "kquant/report.h"
#include "report/detail.h"
#include "report/json.h"

namespace kquant::report {
namespace {

void shape(json::Writer& j, std::string_view key, const std::vector<int64_t>& ne) {
    j.key(key).begin_array(true);
    for (const int64_t v : ne) j.value(v);
    j.end_array();
}

}  // namespace

std::string to_json(const VerifyReport& r) {
    json::Writer j;
    j.begin_object();
    j.field("kind", "verify").field("source", r.source).field("quantized", r.quantized);
    j.field("ok", r.ok());
    j.key("totals").begin_object();
    j.field("tensors", static_cast<uint64_t>(r.tensors.size()))
        .field("unchanged", static_cast<uint64_t>(r.unchanged))
        .field("elements", r.n_elements)
        .field("rmse", r.rmse)
        .field("max_abs", r.max_abs)
        .field("rel", r.rel);
    j.end_object();
    j.key("problems").begin_array();
    for (const std::string& p : r.problems) j.value(p);
    j.end_array();
    j.key("tensors").begin_array();
    for (const TensorError& e : r.tensors) {
        j.begin_object(true);
        j.field("name", e.name);
        shape(j, "ne", e.ne);
        j.field("src_type", detail::type_name(e.src_type)).field("dst_type", detail::type_name(e.dst_type));
        j.field("elements", e.n_elements).field("rmse", e.rmse).field("max_abs", e.max_abs).field("rel", e.rel);
        j.key("max_at").begin_array(true).value(e.max_row).value(e.max_col).end_array();
        j.field("sum_sq_err", e.sum_sq_err).field("sum_sq_ref", e.sum_sq_ref);
        j.end_object();
    }
    j.end_array();
    j.end_object();
    return j.str();
}

std::string to_json(const CompareReport& r) {
    json::Writer j;
    j.begin_object();
    j.field("kind", "compare").field("a", r.a).field("b", r.b);
    j.field("verdict", verdict_name(r.verdict)).field("identical", r.identical());
    j.field("size_a", r.size_a).field("size_b", r.size_b);
    j.field("tensors", static_cast<uint64_t>(r.tensors.size()))
        .field("identical_tensors", static_cast<uint64_t>(r.identical_tensors));
    // Identical tensors are only counted: a large model would otherwise list hundreds of them.
    j.key("differences").begin_array();
    for (const TensorDiff& d : r.tensors) {
        if (d.identical) continue;
        j.begin_object(true);
        j.field("name", d.name).field("in_a", d.in_a).field("in_b", d.in_b);
        if (d.in_a) {
            j.field("type_a", detail::type_name(d.type_a));
            shape(j, "ne_a", d.ne_a);
        }
        if (d.in_b) {
            j.field("type_b", detail::type_name(d.type_b));
            shape(j, "ne_b", d.ne_b);
        }
        j.field("same_type_shape", d.same_type_shape);
        if (d.same_type_shape)
            j.field("first_diff_byte", d.first_diff_byte)
                .field("first_diff_block", d.first_diff_block)
                .field("first_diff_row", d.first_diff_row)
                .field("differing_blocks", d.differing_blocks)
                .field("blocks", d.n_blocks);
        j.end_object();
    }
    j.end_array();
    j.key("metadata").begin_array();
    for (const MetaDiff& m : r.metadata) {
        j.begin_object(true).field("key", m.key).field("a", m.a).field("b", m.b);
        if (!m.note.empty()) j.field("note", m.note);
        j.end_object();
    }
    j.end_array();
    j.key("layout").begin_array();
    for (const std::string& l : r.layout) j.value(l);
    j.end_array();
    j.end_object();
    return j.str();
}

void write_report_json(const std::string& path, const VerifyReport& r) { json::write_text_file(path, to_json(r)); }
void write_report_json(const std::string& path, const CompareReport& r) { json::write_text_file(path, to_json(r)); }

}  // namespace kquant::report
