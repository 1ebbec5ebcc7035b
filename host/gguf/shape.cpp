// Validation of a tensor shape against its type, shared by the reader and the writer.
#include <string>

#include "gguf/detail.h"

namespace kquant::gguf::detail {

namespace {
std::string shape_text(const std::vector<int64_t>& ne) {
    std::string s = "[";
    for (size_t j = 0; j < ne.size(); ++j) s += (j ? ", " : "") + std::to_string(ne[j]);
    return s + "]";
}
}  // namespace

std::string check_shape(const std::vector<int64_t>& ne, Type type, uint64_t& nbytes) {
    if (ne.size() > kMaxDims)
        return "n_dims " + std::to_string(ne.size()) + " exceeds the maximum of " + std::to_string(kMaxDims);
    const TypeInfo* ti = find_type(static_cast<uint32_t>(type));
    if (!ti) return "unknown type id " + std::to_string(static_cast<uint32_t>(type));
    int64_t n = 1;
    for (size_t j = 0; j < ne.size(); ++j) {
        if (ne[j] < 0) return "ne[" + std::to_string(j) + "] = " + std::to_string(ne[j]) + " is negative";
        if (__builtin_mul_overflow(n, ne[j], &n))
            return "element count of shape " + shape_text(ne) + " overflows int64";
    }
    const int64_t ne0 = ne.empty() ? 1 : ne[0];
    if (ne0 % ti->block_elems != 0)
        return "ne0 = " + std::to_string(ne0) + " is not a multiple of the block size " +
               std::to_string(ti->block_elems) + " of type " + std::string(ti->name);
    uint64_t bytes;
    if (__builtin_mul_overflow(static_cast<uint64_t>(n / ti->block_elems), static_cast<uint64_t>(ti->block_bytes),
                               &bytes))
        return "byte size of shape " + shape_text(ne) + " in type " + std::string(ti->name) + " overflows";
    nbytes = bytes;
    return {};
}

}  // namespace kquant::gguf::detail
