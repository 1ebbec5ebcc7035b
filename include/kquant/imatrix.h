// Importance matrices (llama-imatrix output) in both file formats, reduced to what the quantizers use:
// per tensor name, the mean squared activation of every input column, one slice per expert.
// Behaviour follows docs/llama-quantize-behaviour.md §6.4 and §7.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "kquant/gguf.h"
#include "kquant/presets.h"

namespace kquant {

struct Imatrix {
    std::string path;  // the file it came from (for messages)
    bool legacy = false;  // read from the .dat format
    // name -> n_mat consecutive slices of n_cols weights (n_mat = experts, 1 for a dense tensor)
    std::map<std::string, std::vector<float>> entries;
    std::vector<std::string> datasets;  // GGUF: imatrix.datasets; legacy: the trailer's dataset, if any
    int64_t chunk_count = 0;            // GGUF: imatrix.chunk_count; legacy: the trailer's count, or 0
    uint32_t chunk_size = 0;            // GGUF: imatrix.chunk_size; legacy: 0

    size_t entry_count() const { return entries.size(); }
    bool empty() const { return entries.empty(); }
};

// Loads either format: a file starting with the GGUF magic is read as GGUF, any other as legacy .dat.
// Malformed files raise kquant::Error naming the file and, where there is one, the entry. Only regular
// files are read (a FIFO or device is an Error), and neither format is read whole into memory.
Imatrix load_imatrix(const std::string& path);

// The legacy .dat format from memory (§7.2): values divided by ncall when ncall > 0.
Imatrix parse_imatrix_legacy(std::span<const uint8_t> bytes, const std::string& name_for_errors);

// The GGUF format (§7.3): <W>.in_sum2 / <W>.counts, w = in_sum2 / lround(count), or 1 when the count
// is not positive. Requires imatrix.datasets, imatrix.chunk_count and imatrix.chunk_size.
Imatrix read_imatrix_gguf(const gguf::Reader& reader);

// --include-weights / --exclude-weights: keep only / drop the entries whose name contains one of the
// strings. Giving both is an Error.
void filter_imatrix(Imatrix& im, std::span<const std::string> include, std::span<const std::string> exclude);

// Throws "imatrix contains non-finite value" (naming the entry) if any weight is NaN or infinite.
void check_imatrix_finite(const Imatrix& im);

// "warning: ..." lines for entries that make their tensor quantize badly: all values zero, any negative,
// or all zero or denormal. The bytes stay as llama-quantize makes them; the warning names the entry.
std::vector<std::string> imatrix_warnings(const Imatrix& im);

// §6.4: the weights for a tensor of shape [ne0, ne1, ne2]: the entry must hold ne0*ne2 floats. Returns
// null (with *note set) when there is no entry, or when the token embedding's entry has another size;
// any other size mismatch is an Error.
const std::vector<float>* imatrix_lookup(const Imatrix& im, const std::string& tensor, int64_t ne0, int64_t ne2,
                                         std::string* note = nullptr);

// The quantize.imatrix.* keys llama-quantize records (§5.3), as overrides to append after the user's:
// file (the path as typed, cut to 127 bytes), dataset (the first, cut to 127 bytes; only if any),
// entries_count, chunks_count (only if > 0). Empty when the imatrix has no entries.
std::vector<KvOverride> imatrix_kv_overrides(const Imatrix& im, const std::string& path_as_typed);

}  // namespace kquant
