// verify(): the error of every quantized (or converted) tensor against its source.
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <unordered_map>

#include "kquant/error.h"
#include "kquant/model.h"
#include "kquant/quantize.h"
#include "kquant/report.h"
#include "common/parallel.h"
#include "report/detail.h"

namespace kquant::report {
namespace {

using detail::shape_str;
using detail::type_name;

double norm_ratio(double num_sq, double den_sq) {
    if (den_sq > 0) return std::sqrt(num_sq) / std::sqrt(den_sq);
    return num_sq > 0 ? std::numeric_limits<double>::infinity() : 0.0;
}

// Sums in element storage order, so that the result is the same on any number of threads (and a
// test can recompute it exactly).
TensorError measure(const uint8_t* sp, const gguf::TensorInfo& ts, const uint8_t* qp, const gguf::TensorInfo& tq) {
    TensorError e;
    e.name = tq.name;
    e.ne = tq.ne;
    e.src_type = ts.type;
    e.dst_type = tq.type;
    e.n_elements = ts.nelements();
    const int64_t ne0 = ts.ne_at(0), nrows = ts.nrows();
    const size_t src_row = row_bytes(ts.type, ne0), q_row = row_bytes(tq.type, ne0);
    std::vector<float> x(static_cast<size_t>(ne0)), y(static_cast<size_t>(ne0));
    bool nan_seen = false;
    for (int64_t r = 0; r < nrows; ++r) {
        convert_to_f32(ts.type, sp + r * src_row, x.data(), ne0);
        convert_to_f32(tq.type, qp + r * q_row, y.data(), ne0);
        for (int64_t i = 0; i < ne0; ++i) {
            const double xi = x[i];
            const double d = static_cast<double>(y[i]) - xi;
            e.sum_sq_err += d * d;
            e.sum_sq_ref += xi * xi;
            const double a = std::fabs(d);
            if (a > e.max_abs) {
                e.max_abs = a;
                e.max_row = r;
                e.max_col = i;
            } else if (a != a) {
                nan_seen = true;
            }
        }
    }
    if (nan_seen) e.max_abs = std::numeric_limits<double>::quiet_NaN();
    e.rmse = e.n_elements > 0 ? std::sqrt(e.sum_sq_err / static_cast<double>(e.n_elements)) : 0.0;
    e.rel = norm_ratio(e.sum_sq_err, e.sum_sq_ref);
    return e;
}

}  // namespace

VerifyReport verify(const std::string& source_path, const std::string& quantized_path, int threads) {
    // Split models (either side) are read whole, from their first shard.
    const auto src = gguf::Model::open(source_path);
    const auto q = gguf::Model::open(quantized_path);
    VerifyReport r = verify(*src, *q, threads);
    r.source = source_path;
    r.quantized = quantized_path;
    return r;
}

VerifyReport verify(const gguf::Model& source, const gguf::Model& quantized, int threads) {
    const gguf::Model* src = &source;
    const gguf::Model* q = &quantized;
    VerifyReport r;
    r.source = source.path();
    r.quantized = quantized.path();

    std::unordered_map<std::string_view, size_t> by_name;
    for (size_t i = 0; i < src->tensors().size(); ++i) by_name.emplace(src->tensors()[i].name, i);
    std::unordered_map<std::string_view, bool> in_output;

    struct Work {
        const gguf::TensorInfo *s, *q;
        const uint8_t *sp, *qp;
    };
    std::vector<Work> work;
    for (size_t qi = 0; qi < q->tensors().size(); ++qi) {
        const gguf::TensorInfo& tq = q->tensors()[qi];
        in_output.emplace(tq.name, true);
        const auto it = by_name.find(tq.name);
        if (it == by_name.end()) {
            r.problems.push_back(context("", tq.name, "not in the source"));
            continue;
        }
        const gguf::TensorInfo& ts = src->tensors()[it->second];
        const uint8_t* sp = src->tensor_data(it->second);
        const uint8_t* qp = q->tensor_data(qi);
        if (!detail::same_shape(ts.ne, tq.ne)) {
            r.problems.push_back(context("", tq.name, "shape " + shape_str(ts.ne) + " in the source, " +
                                                          shape_str(tq.ne) + " in the output"));
            continue;
        }
        if (ts.type == tq.type) {
            if (std::memcmp(sp, qp, ts.nbytes) == 0)
                ++r.unchanged;
            else
                r.problems.push_back(context("", tq.name, "type unchanged (" + type_name(ts.type) +
                                                              ") but the bytes differ from the source"));
            continue;
        }
        bool ok = true;
        for (const Type t : {ts.type, tq.type}) {
            if (!detail::readable(t)) {
                r.problems.push_back(context("", tq.name, "cannot read type " + type_name(t) + " back"));
                ok = false;
                break;
            }
        }
        if (ok) work.push_back({&ts, &tq, sp, qp});
    }
    for (const gguf::TensorInfo& ts : src->tensors())
        if (!in_output.contains(ts.name)) r.problems.push_back(context("", ts.name, "missing from the output"));

    // Largest tensors first, so that one big tensor does not start last; results keep the output order.
    std::vector<size_t> order(work.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return work[a].s->nelements() > work[b].s->nelements(); });
    r.tensors.resize(work.size());
    parallel_for(static_cast<int64_t>(work.size()), threads, [&](int64_t k) {
        const Work& w = work[order[k]];
        r.tensors[order[k]] = measure(w.sp, *w.s, w.qp, *w.q);
    });

    double err = 0, ref = 0;
    bool nan_seen = false;
    for (const TensorError& e : r.tensors) {
        r.n_elements += e.n_elements;
        err += e.sum_sq_err;
        ref += e.sum_sq_ref;
        if (e.max_abs > r.max_abs) r.max_abs = e.max_abs;
        if (e.max_abs != e.max_abs) nan_seen = true;
    }
    if (nan_seen) r.max_abs = std::numeric_limits<double>::quiet_NaN();
    r.rmse = r.n_elements > 0 ? std::sqrt(err / static_cast<double>(r.n_elements)) : 0.0;
    r.rel = norm_ratio(err, ref);
    return r;
}

}  // namespace kquant::report
