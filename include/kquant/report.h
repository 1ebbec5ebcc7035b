// Quality and equality reports on GGUF files: how far a quantized model is from its source (verify),
// and whether two files hold the same bytes (compare). Each is one call returning a struct, plus a
// table printer and a JSON writer.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "kquant/types.h"

namespace kquant::gguf {
class Model;
}

namespace kquant::report {

// ---- verify: quantization error of every tensor whose type changed --------------------------------

struct TensorError {
    std::string name;
    std::vector<int64_t> ne;
    Type src_type = Type::F32;
    Type dst_type = Type::F32;
    int64_t n_elements = 0;
    // Sums over the tensor's elements in storage order, in double: e = double(q) - double(x).
    double sum_sq_err = 0.0;  // Σ e²
    double sum_sq_ref = 0.0;  // Σ x²
    double rmse = 0.0;        // sqrt(Σ e² / n)
    double max_abs = 0.0;     // max |e|
    double rel = 0.0;         // ‖q − x‖ / ‖x‖ (0 when both norms are 0; inf when only ‖x‖ is 0)
    int64_t max_row = 0, max_col = 0;  // where max |e| first occurs
};

struct VerifyReport {
    std::string source, quantized;       // paths
    std::vector<TensorError> tensors;    // type changed: in the quantized file's tensor order
    size_t unchanged = 0;                // same type, bytes identical to the source
    // Anything that prevents a clean comparison: a tensor missing on either side, a shape change, a
    // type that cannot be read back, or an unchanged type whose bytes differ. Each line names the tensor.
    std::vector<std::string> problems;
    // Totals over every element of `tensors` (summed in tensor order).
    int64_t n_elements = 0;
    double rmse = 0.0, max_abs = 0.0, rel = 0.0;
    bool ok() const { return problems.empty(); }
};

// Reads both files, matches tensors by name, dequantizes each tensor whose type differs with the scalar
// reference codec and compares it with the source converted to f32 (a quantized source is dequantized
// too). Tensors are processed in parallel on `threads` threads (<= 0: all cores); each tensor is summed
// sequentially, so the numbers do not depend on the thread count. Throws kquant::Error when a file
// cannot be opened or parsed; mismatches are reported in `problems`.
VerifyReport verify(const std::string& source_path, const std::string& quantized_path, int threads = 0);
// The same on models already open (the source and quantized fields are their first files' names).
VerifyReport verify(const gguf::Model& source, const gguf::Model& quantized, int threads = 0);

// One line per tensor (or only the `worst` largest relative errors when worst > 0), the problems, and a
// totals line.
void print_verify(const VerifyReport& r, std::FILE* out, size_t worst = 0);

// ---- compare: are two GGUF files the same? --------------------------------------------------------

struct TensorDiff {
    std::string name;
    bool in_a = false, in_b = false;
    Type type_a = Type::F32, type_b = Type::F32;
    std::vector<int64_t> ne_a, ne_b;
    bool same_type_shape = false;  // present in both with equal type and shape
    bool identical = false;        // same type and shape, and every data byte equal
    // When same_type_shape && !identical: the first differing byte (offset inside the tensor's data),
    // the block (of the type's block_bytes) and row it falls in, and how many blocks differ.
    uint64_t first_diff_byte = 0;
    int64_t first_diff_block = 0;
    int64_t first_diff_row = 0;
    int64_t differing_blocks = 0;
    int64_t n_blocks = 0;
};

struct MetaDiff {
    std::string key;
    std::string a, b;  // the values as text ("u32 7", "string \"x\"", "array<i32>[512]"); "(absent)"
    std::string note;  // arrays of equal type and length: which element differs first
};

enum class Verdict {
    Identical,      // the two files are byte-for-byte equal
    SameTensors,    // every tensor's type, shape and bytes are equal; metadata or layout differ
    Different,      // some tensor differs, or is missing on one side
};

const char* verdict_name(Verdict v);  // "identical", "same-tensors", "different"

struct CompareReport {
    std::string a, b;                   // paths
    uint64_t size_a = 0, size_b = 0;    // file sizes
    std::vector<TensorDiff> tensors;    // a's order, then the tensors only b has
    std::vector<MetaDiff> metadata;     // a's key order, then the keys only b has
    // Layout differences that are not KV values: version, alignment, KV order, tensor order.
    std::vector<std::string> layout;
    size_t identical_tensors = 0;
    Verdict verdict = Verdict::Different;
    bool identical() const { return verdict == Verdict::Identical; }
};

// Compares two GGUF files tensor by tensor (matched by name) and KV by KV. Throws kquant::Error when a
// file cannot be opened or parsed.
CompareReport compare(const std::string& a_path, const std::string& b_path);

// The verdict, then each differing tensor and metadata key (all identical tensors in one count).
void print_compare(const CompareReport& r, std::FILE* out);

// ---- JSON ----------------------------------------------------------------------------------------

// The reports as JSON objects ({"kind": "verify", ...} / {"kind": "compare", ...}). Non-finite numbers
// are written as null.
std::string to_json(const VerifyReport& r);
std::string to_json(const CompareReport& r);

// Writes to_json(r) to `path` (replacing it). Throws kquant::Error on an I/O error.
void write_report_json(const std::string& path, const VerifyReport& r);
void write_report_json(const std::string& path, const CompareReport& r);

}  // namespace kquant::report
