// --plot: source GB/s per type (clusters) and path (bars), drawn by gnuplot.
#include <filesystem>

#include "kquant/error.h"
#include "kquant_bench/bench.h"
#include "report/json.h"

namespace kquant::bench {
namespace {

// A gnuplot single-quoted string: only the quote itself needs doubling.
std::string gp_quote(const std::string& s) {
    std::string q = "'";
    for (const char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
    return q + "'";
}

}  // namespace

void plot(const Results& r, const std::string& png, const std::string& scratch) {
    namespace fs = std::filesystem;
    const std::string gnuplot = find_tool("gnuplot");
    if (gnuplot.empty())
        throw Error("--plot needs gnuplot, which is not on PATH (Debian: apt-get install gnuplot-nox; "
                    "scripts/setup.sh installs it)");
    const std::string dat = (fs::path(scratch) / "kquant-bench-plot.dat").string();
    const std::string gp = (fs::path(scratch) / "kquant-bench-plot.gp").string();

    // The paths with at least one result: one column each (gnuplot warns about an empty column).
    std::vector<std::string> paths;
    for (const std::string& p : r.paths)
        for (const Cell& c : r.cells)
            if (c.path == p && c.ok()) {
                paths.push_back(p);
                break;
            }
    if (paths.empty()) throw Error("--plot: no path produced a result, nothing to draw");

    // One row per type, one column per path; "-" where a path has no result.
    std::string data = "# type";
    for (const std::string& p : paths) data += "\t" + p;
    data += "\n";
    for (const std::string& t : r.types) {
        data += t;
        for (const std::string& p : paths) {
            std::string v = "-";
            for (const Cell& c : r.cells)
                if (c.type == t && c.path == p && c.ok()) v = json::number(c.source_gb_per_s);
            data += "\t" + v;
        }
        data += "\n";
    }
    json::write_text_file(dat, data);

    std::string title = "kquant-bench: " + fs::path(r.model.path).filename().string() + ", median of " +
                        std::to_string(r.repeats) + " run(s)";
    std::string s;
    s += "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) set terminal pngcairo size 1000,600 noenhanced; "
         "else set terminal png size 1000,600\n";
    s += "set output " + gp_quote(png) + "\n";
    s += "set title " + gp_quote(title) + " noenhanced\n";
    s += "set ylabel 'source GB/s (higher is better)'\n";
    s += "set style data histogram\nset style histogram cluster gap 1\n";
    s += "set style fill solid 0.85 border -1\nset boxwidth 0.9\n";
    s += "set datafile missing '-'\nset datafile separator '\\t'\n";
    s += "set yrange [0:*]\nset grid ytics\nset key top left noenhanced\n";
    s += "plot ";
    for (size_t k = 0; k < paths.size(); ++k) {
        s += k ? ", '' " : gp_quote(dat) + " ";
        s += "using " + std::to_string(k + 2) + (k ? "" : ":xtic(1)") + " title " + gp_quote(paths[k]);
    }
    s += "\n";
    json::write_text_file(gp, s);

    const int rc = run_process({gnuplot, gp});
    if (rc != 0) throw Error("gnuplot failed (exit status " + std::to_string(rc) + ") drawing " + png);
}

}  // namespace kquant::bench
