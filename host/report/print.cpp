// The terminal tables of verify() and compare().
#include <algorithm>
#include <cmath>

#include "kquant/error.h"
#include "kquant/report.h"
#include "report/detail.h"

namespace kquant::report {
namespace {

using detail::shape_str;
using detail::type_name;

// A name, key or value from a file, escaped and shortened (printable() without its quotes).
std::string shown(const std::string& s) {
    const std::string q = printable(s);
    return q.substr(1, q.rfind('\'') - 1) + q.substr(q.rfind('\'') + 1);
}

int name_width(const std::vector<std::string>& names) {
    size_t w = 6;
    for (const std::string& n : names) w = std::max(w, n.size());
    return static_cast<int>(std::min<size_t>(w, 48));
}

std::string percent(double rel) {
    if (!std::isfinite(rel)) return rel != rel ? "nan" : "inf";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f%%", rel * 100.0);
    return buf;
}

std::string count(int64_t n) {
    char buf[32];
    if (n >= 1000000000) std::snprintf(buf, sizeof buf, "%.2fG", static_cast<double>(n) / 1e9);
    else if (n >= 1000000) std::snprintf(buf, sizeof buf, "%.2fM", static_cast<double>(n) / 1e6);
    else std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
    return buf;
}

}  // namespace

void print_verify(const VerifyReport& r, std::FILE* out, size_t worst) {
    std::fprintf(out, "verify: %s -> %s\n", r.source.c_str(), r.quantized.c_str());
    std::vector<const TensorError*> rows;
    for (const TensorError& e : r.tensors) rows.push_back(&e);
    if (worst > 0 && worst < rows.size()) {
        // NaN counts as the worst.
        std::stable_sort(rows.begin(), rows.end(), [](const TensorError* a, const TensorError* b) {
            const bool na = a->rel != a->rel, nb = b->rel != b->rel;
            return na != nb ? na : a->rel > b->rel;
        });
        rows.resize(worst);
        std::fprintf(out, "(the %zu largest relative errors of %zu tensors)\n", worst, r.tensors.size());
    }
    std::vector<std::string> names;
    for (const TensorError* e : rows) names.push_back(shown(e->name));
    const int w = name_width(names);
    if (!rows.empty())
        std::fprintf(out, "%-*s  %-14s %9s  %11s  %11s  %10s\n", w, "tensor", "type", "elements", "rmse", "max abs",
                     "rel err");
    for (const TensorError* e : rows) {
        const std::string types = type_name(e->src_type) + "->" + type_name(e->dst_type);
        std::fprintf(out, "%-*s  %-14s %9s  %11.4e  %11.4e  %10s\n", w, shown(e->name).c_str(), types.c_str(),
                     count(e->n_elements).c_str(), e->rmse, e->max_abs, percent(e->rel).c_str());
    }
    for (const std::string& p : r.problems) std::fprintf(out, "problem: %s\n", p.c_str());
    std::fprintf(out, "total: %zu tensors compared (%s weights), %zu unchanged, %zu problem(s); rmse %.4e, "
                      "max abs %.4e, rel err %s\n",
                 r.tensors.size(), count(r.n_elements).c_str(), r.unchanged, r.problems.size(), r.rmse, r.max_abs,
                 percent(r.rel).c_str());
}

void print_compare(const CompareReport& r, std::FILE* out) {
    std::fprintf(out, "compare: %s vs %s\n", r.a.c_str(), r.b.c_str());
    size_t differing = 0;
    for (const TensorDiff& d : r.tensors) {
        if (d.identical) continue;
        ++differing;
        if (!d.in_b) {
            std::fprintf(out, "  tensor '%s': only in %s\n", shown(d.name).c_str(), r.a.c_str());
        } else if (!d.in_a) {
            std::fprintf(out, "  tensor '%s': only in %s\n", shown(d.name).c_str(), r.b.c_str());
        } else if (!d.same_type_shape) {
            std::fprintf(out, "  tensor '%s': %s %s vs %s %s\n", shown(d.name).c_str(), type_name(d.type_a).c_str(),
                         shape_str(d.ne_a).c_str(), type_name(d.type_b).c_str(), shape_str(d.ne_b).c_str());
        } else {
            std::fprintf(out, "  tensor '%s': bytes differ from byte %llu (block %lld, row %lld); %lld of %lld "
                              "blocks differ\n",
                         shown(d.name).c_str(), static_cast<unsigned long long>(d.first_diff_byte),
                         static_cast<long long>(d.first_diff_block), static_cast<long long>(d.first_diff_row),
                         static_cast<long long>(d.differing_blocks), static_cast<long long>(d.n_blocks));
        }
    }
    for (const MetaDiff& m : r.metadata) {
        std::fprintf(out, "  metadata '%s': %s vs %s", shown(m.key).c_str(), shown(m.a).c_str(), shown(m.b).c_str());
        if (!m.note.empty()) std::fprintf(out, " (%s)", m.note.c_str());
        std::fprintf(out, "\n");
    }
    for (const std::string& l : r.layout) std::fprintf(out, "  layout: %s\n", shown(l).c_str());
    std::fprintf(out, "%zu of %zu tensors identical", r.identical_tensors, r.tensors.size());
    if (differing) std::fprintf(out, ", %zu differ", differing);
    if (!r.metadata.empty()) std::fprintf(out, ", %zu metadata difference(s)", r.metadata.size());
    std::fprintf(out, "\nverdict: %s", verdict_name(r.verdict));
    if (r.verdict == Verdict::Identical)
        std::fprintf(out, " (byte-for-byte, %llu bytes)", static_cast<unsigned long long>(r.size_a));
    std::fprintf(out, "\n");
}

}  // namespace kquant::report
