// Byte-exactness against ggml: every quantizable type, plain and imatrix, on every CPU instruction-set
// level this machine runs (scalar, AVX2, AVX-512), on every golden case of tests/data/kquants-golden.gguf
// and tests/data/extra-types-golden.gguf (made by ggml_quantize_chunk at the commit in golden.ggml_commit;
// each file lists its types in golden.types). Generic over quantizable_types(): a registered codec without
// golden bytes fails, and so does a case that silently goes unchecked. The plain variant of a type that
// ggml only quantizes with an imatrix checks that the golden file has no such tensor and that we refuse
// the call. A level the CPU lacks is skipped with the reason. No tolerance.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "kquant/error.h"
#include "kquant/gguf.h"
#include "kquant/quantize.h"
#include "kquant/types.h"

namespace kquant {
namespace {

constexpr size_t kGoldenCases = 18;        // the cases golden/README.md lists
constexpr int kMaxReportedMismatches = 8;  // per type and variant; the total is always reported

std::vector<std::string> string_array(const gguf::Reader& r, const std::string& key) {
    std::vector<std::string> out;
    const gguf::KV* kv = r.find_kv(key);
    if (kv == nullptr || kv->value.type != gguf::ValueType::ARRAY) return out;
    for (const gguf::Value& v : kv->value.arr) out.push_back(v.str);
    return out;
}

const std::vector<std::unique_ptr<gguf::Reader>>& golden_files() {
    static const std::vector<std::unique_ptr<gguf::Reader>> files = [] {
        std::vector<std::unique_ptr<gguf::Reader>> f;
        f.push_back(gguf::Reader::open(KQ_GOLDEN_PATH));
        f.push_back(gguf::Reader::open(KQ_EXTRA_GOLDEN_PATH));
        return f;
    }();
    return files;
}

// The golden file whose golden.types lists type t; nullptr when none does.
const gguf::Reader* golden_for(Type t) {
    for (const auto& r : golden_files())
        for (const std::string& name : string_array(*r, "golden.types"))
            if (name == type_info(t).name) return r.get();
    return nullptr;
}

std::vector<float> f32_tensor(const gguf::Reader& r, const gguf::TensorInfo& t) {
    std::vector<float> v(static_cast<size_t>(t.nelements()));
    std::memcpy(v.data(), r.tensor_data(t), v.size() * sizeof(float));
    return v;
}

constexpr CpuIsa kIsas[] = {CpuIsa::Scalar, CpuIsa::Avx2, CpuIsa::Avx512};

struct Variant {
    Type type;
    bool imat;
    CpuIsa isa;
    std::string label() const {
        return std::string(type_info(type).name) + (imat ? "_imat" : "_plain") + "_" + cpu_isa_name(isa);
    }
    friend void PrintTo(const Variant& v, std::ostream* os) { *os << v.label(); }
};

struct GoldenOutcome {
    size_t cases_checked = 0;  // cases whose every row was compared
    size_t blocks = 0;
    size_t mismatched_blocks = 0;
    std::vector<std::string> problems;  // missing/ill-formed tensors and the first mismatches
};

// Quantizes `<case>.input` row by row and compares with `<case>.<type>[.imat]` block by block.
void check_case(const gguf::Reader& r, const std::string& name, const Variant& v, GoldenOutcome& out) {
    const std::string want_name = name + "." + std::string(type_info(v.type).name) + (v.imat ? ".imat" : "");
    const gguf::TensorInfo* input = r.find_tensor(name + ".input");
    const gguf::TensorInfo* imatrix = r.find_tensor(name + ".imatrix");
    const gguf::TensorInfo* want = r.find_tensor(want_name);
    if (!v.imat && type_info(v.type).requires_imatrix) {  // ggml asserts: no bytes, and we refuse
        if (want != nullptr) out.problems.push_back("case '" + name + "': unexpected tensor " + want_name);
        if (input == nullptr) return;
        const std::vector<float> x = f32_tensor(r, *input);
        std::vector<uint8_t> got(row_bytes(v.type, input->ne_at(0)));
        try {
            cpu_codec(v.type, v.isa)->quantize_row(x.data(), got.data(), input->ne_at(0), nullptr);
            out.problems.push_back("case '" + name + "': a plain " + v.label() + " call was not refused");
        } catch (const Error&) {
            ++out.cases_checked;
        }
        return;
    }
    if (input == nullptr || want == nullptr || (v.imat && imatrix == nullptr)) {
        out.problems.push_back("case '" + name + "': missing tensor (input, imatrix or " + want_name + ")");
        return;
    }
    const int64_t ncols = input->ne_at(0), nrows = input->nrows();
    if (input->type != Type::F32 || want->type != v.type || want->ne_at(0) != ncols ||
        want->nrows() != nrows || (v.imat && (imatrix->type != Type::F32 || imatrix->nelements() != ncols))) {
        out.problems.push_back("case '" + name + "': tensor " + want_name +
                               " has an unexpected type or shape");
        return;
    }
    const RowCodec* codec = cpu_codec(v.type, v.isa);
    if (codec == nullptr) {
        out.problems.push_back("case '" + name + "': no " + cpu_isa_name(v.isa) + " codec for " + v.label());
        return;
    }
    const std::vector<float> x = f32_tensor(r, *input);
    const std::vector<float> qw = v.imat ? f32_tensor(r, *imatrix) : std::vector<float>{};
    const size_t rb = row_bytes(v.type, ncols), bb = type_info(v.type).block_bytes;
    const uint8_t* expected = r.tensor_data(*want);
    std::vector<uint8_t> got(rb);
    for (int64_t row = 0; row < nrows; ++row) {
        codec->quantize_row(x.data() + row * ncols, got.data(), ncols, v.imat ? qw.data() : nullptr);
        const uint8_t* e = expected + static_cast<size_t>(row) * rb;
        for (size_t b = 0; b < rb / bb; ++b) {
            ++out.blocks;
            const uint8_t* gb = got.data() + b * bb;
            const uint8_t* eb = e + b * bb;
            if (std::memcmp(gb, eb, bb) == 0) continue;
            if (++out.mismatched_blocks > kMaxReportedMismatches) continue;
            size_t k = 0;
            while (gb[k] == eb[k]) ++k;
            std::ostringstream msg;
            msg << "case '" << name << "' " << v.label() << ": row " << row << " block " << b
                << ": first differing byte " << k << " (got 0x" << std::hex << int(gb[k]) << ", want 0x"
                << int(eb[k]) << ")";
            out.problems.push_back(msg.str());
        }
    }
    ++out.cases_checked;
}

GoldenOutcome check_variant(const Variant& v) {
    GoldenOutcome out;
    const gguf::Reader* r = golden_for(v.type);
    if (r == nullptr) {
        out.problems.push_back(std::string("no golden file lists type ") + std::string(type_info(v.type).name));
        return out;
    }
    for (const std::string& c : string_array(*r, "golden.cases")) check_case(*r, c, v, out);
    return out;
}

std::vector<Variant> all_variants() {
    std::vector<Variant> v;
    for (CpuIsa isa : kIsas)
        for (Type t : quantizable_types()) {
            v.push_back({t, false, isa});
            v.push_back({t, true, isa});
        }
    return v;
}

class GoldenBytes : public ::testing::TestWithParam<Variant> {};

TEST_P(GoldenBytes, MatchesGgmlOnEveryCase) {
    const Variant v = GetParam();
    if (!cpu_isa_supported(v.isa)) GTEST_SKIP() << "this CPU (or build) has no " << cpu_isa_name(v.isa);
    const GoldenOutcome out = check_variant(v);
    for (const std::string& p : out.problems) ADD_FAILURE() << p;
    EXPECT_EQ(out.mismatched_blocks, 0u)
        << v.label() << ": " << out.mismatched_blocks << " of " << out.blocks << " blocks differ";
    EXPECT_EQ(out.cases_checked, kGoldenCases) << v.label();
    if (v.imat || !type_info(v.type).requires_imatrix) {
        EXPECT_GT(out.blocks, 0u);
    }
    std::cout << "[ golden   ] " << v.label() << ": " << out.cases_checked << " cases, " << out.blocks
              << " blocks, " << out.mismatched_blocks << " mismatched\n";
}

INSTANTIATE_TEST_SUITE_P(AllTypes, GoldenBytes, ::testing::ValuesIn(all_variants()),
                         [](const ::testing::TestParamInfo<Variant>& info) { return info.param.label(); });

// The file lists the cases we expect, and every (case, type, variant, supported level) is actually
// checked; the scalar level always is.
TEST(GoldenCoverage, EveryCaseTypeAndVariantIsChecked) {
    for (const auto& r : golden_files()) ASSERT_EQ(string_array(*r, "golden.cases").size(), kGoldenCases);
    const std::vector<Type> types = quantizable_types();
    ASSERT_FALSE(types.empty());
    size_t levels = 0;
    for (CpuIsa isa : kIsas) levels += cpu_isa_supported(isa) ? 1 : 0;
    ASSERT_TRUE(cpu_isa_supported(CpuIsa::Scalar));
    size_t checked = 0;
    for (const Variant& v : all_variants())
        if (cpu_isa_supported(v.isa)) checked += check_variant(v).cases_checked;
    EXPECT_EQ(checked, kGoldenCases * types.size() * 2 * levels);
    std::cout << "[ golden   ] " << levels << " CPU level(s) checked; best: " << cpu_isa_name(best_cpu_isa()) << "\n";
}

}  // namespace
}  // namespace kquant
