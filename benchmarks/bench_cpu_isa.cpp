// CPU quantization throughput per type and instruction-set level, in one run: scalar vs AVX2 vs AVX-512,
// plain and imatrix, on one thread and on all threads, with each level's speed-up over scalar. Prints a
// Markdown table (the format of benchmarks/RESULTS.md). The bytes of every level are checked against
// the scalar bytes first: a level that differs is reported and not timed.
//
//   kquant-bench-cpu-isa [--types q4_K,q6_K] [--cols 4096] [--rows 64] [--repeats 5] [--threads N]
//
// Each figure is the best of --repeats timed runs over rows x cols weights (Student-t rows, exponential
// importance weights), after one untimed warm-up run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kquant/quantize.h"
#include "kquant/types.h"

namespace {

using namespace kquant;

struct Options {
    std::vector<Type> types;
    int64_t cols = 4096, rows = 64;
    int repeats = 5;
    int threads = 0;  // all cores
};

[[noreturn]] void usage(const char* msg) {
    std::fprintf(stderr, "%s\nusage: kquant-bench-cpu-isa [--types t1,t2] [--cols N] [--rows N] [--repeats N] "
                         "[--threads N]\n", msg);
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) usage(("missing value for " + a).c_str());
        const std::string v = argv[++i];
        if (a == "--types") {
            size_t p = 0;
            while (p <= v.size()) {
                const size_t q = std::min(v.find(',', p), v.size());
                const auto t = parse_type_name(v.substr(p, q - p));
                if (!t || scalar_codec(*t) == nullptr)
                    usage(("unknown or unquantizable type in --types: " + v).c_str());
                o.types.push_back(*t);
                p = q + 1;
            }
        } else if (a == "--cols") {
            o.cols = std::atoll(v.c_str());
        } else if (a == "--rows") {
            o.rows = std::atoll(v.c_str());
        } else if (a == "--repeats") {
            o.repeats = std::atoi(v.c_str());
        } else if (a == "--threads") {
            o.threads = std::atoi(v.c_str());
        } else {
            usage(("unknown option " + a).c_str());
        }
    }
    if (o.types.empty()) o.types = quantizable_types();
    if (o.cols <= 0 || o.cols % 256 != 0 || o.rows <= 0 || o.repeats <= 0)
        usage("--cols must be a positive multiple of 256, --rows and --repeats positive");
    if (o.threads <= 0) o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return o;
}

// Best-of-N weights per second of quantize_rows.
double weights_per_s(const RowCodec& c, const std::vector<float>& x, const float* qw, const Options& o,
                     int threads, std::vector<uint8_t>& out) {
    quantize_rows(c, x.data(), out.data(), o.rows, o.cols, qw, threads);  // warm-up
    double best = 1e30;
    for (int r = 0; r < o.repeats; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        quantize_rows(c, x.data(), out.data(), o.rows, o.cols, qw, threads);
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return static_cast<double>(o.rows * o.cols) / best;
}

std::string rate(double w) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f M", w / 1e6);
    return b;
}

std::string ratio(double a, double b) {
    char r[32];
    std::snprintf(r, sizeof r, "%.2fx", a / b);
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    std::vector<float> x(static_cast<size_t>(o.rows * o.cols)), qw(static_cast<size_t>(o.cols));
    std::mt19937 rng(1234);
    std::student_t_distribution<float> t(4.0f);
    for (float& f : x) f = 0.02f * t(rng);
    std::exponential_distribution<float> e(1.0f);
    for (float& f : qw) f = e(rng);

    std::vector<CpuIsa> isas;
    for (CpuIsa isa : {CpuIsa::Scalar, CpuIsa::Avx2, CpuIsa::Avx512})
        if (cpu_isa_supported(isa)) isas.push_back(isa);
    std::vector<int> thread_counts{1};
    if (o.threads > 1) thread_counts.push_back(o.threads);
    std::printf("rows %lld x cols %lld, best of %d, threads %s; weights/s (M = 1e6)\n\n",
                static_cast<long long>(o.rows), static_cast<long long>(o.cols), o.repeats,
                o.threads > 1 ? ("1 and " + std::to_string(o.threads)).c_str() : "1");
    std::string head = "| type | path |", rule = "|---|---|";
    for (int nt : thread_counts)
        for (CpuIsa isa : isas) {
            head += std::string(" ") + cpu_isa_name(isa) + " " + std::to_string(nt) + "t |";
            rule += "---:|";
            if (isa != CpuIsa::Scalar) {
                head += std::string(" ") + cpu_isa_name(isa) + "/scalar " + std::to_string(nt) + "t |";
                rule += "---:|";
            }
        }
    std::printf("%s\n%s\n", head.c_str(), rule.c_str());

    for (Type type : o.types) {
        std::vector<uint8_t> want(row_bytes(type, o.cols) * o.rows), got(want.size());
        for (bool imat : {false, true}) {
            if (imat && !type_info(type).uses_imatrix) continue;
            if (!imat && type_info(type).requires_imatrix) continue;  // refused without importance weights
            const float* w = imat ? qw.data() : nullptr;
            std::string line = "| " + std::string(type_info(type).name) + " | " + (imat ? "imatrix" : "plain") + " |";
            quantize_rows(*scalar_codec(type), x.data(), want.data(), o.rows, o.cols, w, o.threads);
            for (int nt : thread_counts) {
                double scalar_rate = 0.0;
                for (CpuIsa isa : isas) {
                    const RowCodec* c = cpu_codec(type, isa);
                    quantize_rows(*c, x.data(), got.data(), o.rows, o.cols, w, o.threads);
                    if (got != want) {
                        line += " DIFFERS |";
                        if (isa != CpuIsa::Scalar) line += " - |";
                        continue;
                    }
                    const double r = weights_per_s(*c, x, w, o, nt, got);
                    line.append(" ").append(rate(r)).append(" |");
                    if (isa == CpuIsa::Scalar) {
                        scalar_rate = r;
                        continue;
                    }
                    line.append(" ").append(ratio(r, scalar_rate));
                    line.append(c == scalar_codec(type) ? " (scalar codec) |" : " |");
                }
            }
            std::printf("%s\n", line.c_str());
            std::fflush(stdout);
        }
    }
    return 0;
}
