// verify() and compare() on synthetic models (kquant-synth) quantized in-process, and the JSON they write.
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "kquant/gguf.h"
#include "kquant/numeric.h"
#include "kquant/pipeline.h"
#include "kquant/presets.h"
#include "kquant/quantize.h"
#include "kquant/report.h"
#include "report/json.h"
#include "support/run_cmd.h"

namespace kquant::test {
namespace {

namespace fs = std::filesystem;

std::string make_synth(const std::string& dir, const std::string& name, const std::string& args = "") {
    const std::string path = dir + "/" + name;
    const CmdResult r = run_cmd(synth_path() + " --preset tiny --dtype f16 --seed 5 --threads 2 " + args + " " + path);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return path;
}

// The CLI's chain, in-process: plan the preset, build the output KVs, run the CPU pipeline.
std::string quantize(const std::string& src, const std::string& dst, const char* preset, bool pure) {
    const auto in = gguf::Model::open(src);
    QuantParams p;
    p.set_preset(parse_preset(preset));
    p.pure = pure;
    const ModelInfo m = model_info_from_kvs(in->kvs(), {}, src);
    const QuantPlan plan = plan_quantization(in->tensors(), m, p, nullptr, src);
    const std::vector<gguf::KV> kvs = build_output_kvs(in->kvs(), output_file_type(p, in->kvs(), in->tensors()), {});
    PipelineOptions opt;
    opt.threads = 2;
    run_pipeline(*in, kvs, to_pipeline_plan(plan, in->tensors()), dst, opt, nullptr);
    return dst;
}

// Error sums recomputed here from whole-tensor buffers, in element order.
struct Expected {
    double sum_sq_err = 0, sum_sq_ref = 0, max_abs = 0;
    int64_t n = 0;
    double rmse() const { return std::sqrt(sum_sq_err / static_cast<double>(n)); }
    double rel() const { return std::sqrt(sum_sq_err) / std::sqrt(sum_sq_ref); }
};

Expected error_of(const std::vector<float>& x, const std::vector<float>& q) {
    Expected e;
    e.n = static_cast<int64_t>(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
        const double d = static_cast<double>(q[i]) - static_cast<double>(x[i]);
        e.sum_sq_err += d * d;
        e.sum_sq_ref += static_cast<double>(x[i]) * x[i];
        e.max_abs = std::max(e.max_abs, std::fabs(d));
    }
    return e;
}

std::vector<float> source_f32(const gguf::Reader& r, const gguf::TensorInfo& t) {
    std::vector<float> x(static_cast<size_t>(t.nelements()));
    convert_to_f32(t.type, r.tensor_data(t), x.data(), t.nelements());
    return x;
}

// Q8_0 decoded by hand from the block layout (f16 scale, then 32 int8 values), not by the codec.
std::vector<float> decode_q8_0(const uint8_t* p, int64_t n) {
    std::vector<float> y(static_cast<size_t>(n));
    for (int64_t b = 0; b < n / 32; ++b, p += 34) {
        uint16_t h;
        std::memcpy(&h, p, 2);
        const float d = fp16_to_fp32(h);
        for (int j = 0; j < 32; ++j) y[b * 32 + j] = static_cast<float>(static_cast<int8_t>(p[2 + j])) * d;
    }
    return y;
}

struct DirGuard {
    std::string dir = fresh_test_dir();
    ~DirGuard() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

size_t changed_type_count(const std::string& a, const std::string& b) {
    const auto ra = gguf::Reader::open(a), rb = gguf::Reader::open(b);
    size_t n = 0;
    for (const gguf::TensorInfo& t : rb->tensors()) n += ra->find_tensor(t.name)->type != t.type;
    return n;
}

TEST(ReportVerify, Q8_0ErrorsEqualAnIndependentRecomputation) {
    DirGuard g;
    const std::string src = make_synth(g.dir, "src.gguf");
    const std::string q8 = quantize(src, g.dir + "/q8.gguf", "Q8_0", true);
    const report::VerifyReport r = report::verify(src, q8, 2);
    EXPECT_TRUE(r.ok()) << (r.problems.empty() ? "" : r.problems[0]);
    ASSERT_EQ(r.tensors.size(), changed_type_count(src, q8));
    ASSERT_GT(r.tensors.size(), 0u);
    EXPECT_EQ(r.tensors.size() + r.unchanged, gguf::Reader::open(src)->tensors().size());

    const auto rs = gguf::Reader::open(src), rq = gguf::Reader::open(q8);
    double err = 0, ref = 0;
    int64_t n = 0;
    for (const report::TensorError& e : r.tensors) {
        SCOPED_TRACE(e.name);
        const gguf::TensorInfo& ts = *rs->find_tensor(e.name);
        const gguf::TensorInfo& tq = *rq->find_tensor(e.name);
        ASSERT_EQ(tq.type, Type::Q8_0);
        EXPECT_EQ(e.src_type, Type::F16);
        const std::vector<float> x = source_f32(*rs, ts);
        const std::vector<float> y = decode_q8_0(rq->tensor_data(tq), tq.nelements());
        const Expected want = error_of(x, y);
        EXPECT_EQ(e.n_elements, want.n);
        EXPECT_EQ(e.rmse, want.rmse());
        EXPECT_EQ(e.max_abs, want.max_abs);
        EXPECT_EQ(e.rel, want.rel());
        // Sane: each element is within the rounding step of its block. The step is amax/127, stored as
        // f16 (relative error 2^-11, times at most 127 steps): |error| <= amax/127 * (1/2 + 127/2048).
        double bound_sq = 0, norm_sq = 0;  // the per-element bounds also bound the relative error
        for (int64_t b = 0; b < tq.nelements() / 32; ++b) {
            float amax = 0;
            for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
            const double bound = amax / 127.0 * (0.5 + 127.0 / 2048.0) * (1 + 1e-6);
            for (int j = 0; j < 32; ++j) {
                ASSERT_LE(std::fabs(static_cast<double>(y[b * 32 + j]) - x[b * 32 + j]), bound) << "block " << b;
                bound_sq += bound * bound;
                norm_sq += static_cast<double>(x[b * 32 + j]) * x[b * 32 + j];
            }
        }
        EXPECT_GT(e.rel, 0.0);
        EXPECT_LE(e.rel, std::sqrt(bound_sq / norm_sq));
        err += want.sum_sq_err;
        ref += want.sum_sq_ref;
        n += want.n;
    }
    EXPECT_EQ(r.n_elements, n);
    EXPECT_EQ(r.rmse, std::sqrt(err / static_cast<double>(n)));
    EXPECT_EQ(r.rel, std::sqrt(err) / std::sqrt(ref));
}

TEST(ReportVerify, Q4_KErrorsEqualAnIndependentRecomputation) {
    DirGuard g;
    const std::string src = make_synth(g.dir, "src.gguf");
    const std::string q4 = quantize(src, g.dir + "/q4.gguf", "Q4_K_M", true);  // --pure: every weight Q4_K
    const std::string q8 = quantize(src, g.dir + "/q8.gguf", "Q8_0", true);
    const report::VerifyReport r = report::verify(src, q4, 2);
    EXPECT_TRUE(r.ok());
    ASSERT_EQ(r.tensors.size(), changed_type_count(src, q4));
    const auto rs = gguf::Reader::open(src), rq = gguf::Reader::open(q4);
    for (const report::TensorError& e : r.tensors) {
        SCOPED_TRACE(e.name);
        const gguf::TensorInfo& tq = *rq->find_tensor(e.name);
        ASSERT_EQ(tq.type, Type::Q4_K);
        const std::vector<float> x = source_f32(*rs, *rs->find_tensor(e.name));
        std::vector<float> y(x.size());
        scalar_codec(Type::Q4_K)->dequantize_row(rq->tensor_data(tq), y.data(), tq.nelements());
        const Expected want = error_of(x, y);
        EXPECT_EQ(e.rmse, want.rmse());
        EXPECT_EQ(e.max_abs, want.max_abs);
        EXPECT_EQ(e.rel, want.rel());
        EXPECT_GT(e.rel, 0.01);  // 4.5 bits per weight cannot be this close
        EXPECT_LT(e.rel, 0.2);
    }
    // Four fewer bits: a clearly larger error than Q8_0 on the same weights.
    const report::VerifyReport r8 = report::verify(src, q8, 2);
    EXPECT_GT(r.rel, 4 * r8.rel);
    EXPECT_GT(r.rmse, 4 * r8.rmse);
}

TEST(ReportVerify, ResultDoesNotDependOnTheThreadCount) {
    DirGuard g;
    const std::string src = make_synth(g.dir, "src.gguf", "--layers 1");
    const std::string q4 = quantize(src, g.dir + "/q4.gguf", "Q4_K_M", false);
    const report::VerifyReport a = report::verify(src, q4, 1), b = report::verify(src, q4, 3);
    ASSERT_EQ(a.tensors.size(), b.tensors.size());
    for (size_t i = 0; i < a.tensors.size(); ++i) {
        EXPECT_EQ(a.tensors[i].name, b.tensors[i].name);
        EXPECT_EQ(a.tensors[i].sum_sq_err, b.tensors[i].sum_sq_err);
        EXPECT_EQ(a.tensors[i].max_abs, b.tensors[i].max_abs);
    }
    EXPECT_EQ(a.rmse, b.rmse);
    EXPECT_EQ(to_json(a), to_json(b));
}

TEST(ReportVerify, MissingTensorsAreProblemsThatNameTheTensor) {
    DirGuard g;
    const std::string two = make_synth(g.dir, "two.gguf", "--layers 2");
    const std::string one = make_synth(g.dir, "one.gguf", "--layers 1");
    const report::VerifyReport r = report::verify(two, one, 2);
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.tensors.empty());  // same seed and dtype: every common tensor kept its type and bytes
    const auto rone = gguf::Reader::open(one);
    EXPECT_EQ(r.unchanged, rone->tensors().size());
    EXPECT_EQ(r.problems.size(), gguf::Reader::open(two)->tensors().size() - rone->tensors().size());
    bool found = false;
    for (const std::string& p : r.problems) found |= p == "tensor 'blk.1.attn_q.weight': missing from the output";
    EXPECT_TRUE(found) << r.problems[0];
}

// ---- compare -------------------------------------------------------------------------------------

void flip_byte(const std::string& path, uint64_t offset) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x01);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
    ASSERT_TRUE(f.good()) << path;
}

TEST(ReportCompare, IdenticalFilesAreIdentical) {
    DirGuard g;
    const std::string src = make_synth(g.dir, "src.gguf", "--layers 1");
    const std::string q8 = quantize(src, g.dir + "/q8.gguf", "Q8_0", true);
    fs::copy_file(q8, g.dir + "/copy.gguf");
    const report::CompareReport r = report::compare(q8, g.dir + "/copy.gguf");
    EXPECT_TRUE(r.identical());
    EXPECT_EQ(r.verdict, report::Verdict::Identical);
    EXPECT_EQ(r.identical_tensors, r.tensors.size());
    EXPECT_EQ(r.tensors.size(), gguf::Reader::open(q8)->tensors().size());
    EXPECT_TRUE(r.metadata.empty());
    EXPECT_TRUE(r.layout.empty());
    EXPECT_EQ(r.size_a, fs::file_size(q8));
}

TEST(ReportCompare, OneFlippedByteNamesTheTensorAndOffset) {
    DirGuard g;
    const std::string src = make_synth(g.dir, "src.gguf", "--layers 1");
    const std::string q8 = quantize(src, g.dir + "/q8.gguf", "Q8_0", true);
    const std::string bad = g.dir + "/bad.gguf";
    fs::copy_file(q8, bad);
    const std::string victim = "blk.0.ffn_down.weight";
    const auto rq = gguf::Reader::open(q8);
    const gguf::TensorInfo& t = *rq->find_tensor(victim);
    ASSERT_EQ(t.type, Type::Q8_0);
    const size_t row = row_bytes(t.type, t.ne[0]);
    const uint64_t at = row * 3 + 34 * 2 + 7;  // row 3, block 2 of that row, a quant byte
    flip_byte(bad, rq->data_offset() + t.offset + at);

    const report::CompareReport r = report::compare(q8, bad);
    EXPECT_EQ(r.verdict, report::Verdict::Different);
    EXPECT_FALSE(r.identical());
    EXPECT_EQ(r.identical_tensors, r.tensors.size() - 1);
    EXPECT_TRUE(r.metadata.empty());
    int differing = 0;
    for (const report::TensorDiff& d : r.tensors) {
        if (d.identical) continue;
        ++differing;
        EXPECT_EQ(d.name, victim);
        EXPECT_TRUE(d.same_type_shape);
        EXPECT_EQ(d.first_diff_byte, at);
        EXPECT_EQ(d.first_diff_block, static_cast<int64_t>(at / 34));
        EXPECT_EQ(d.first_diff_row, 3);
        EXPECT_EQ(d.differing_blocks, 1);
        EXPECT_EQ(d.n_blocks, static_cast<int64_t>(t.nbytes / 34));
    }
    EXPECT_EQ(differing, 1);

    // The table names them too.
    char* buf = nullptr;
    size_t len = 0;
    std::FILE* mem = open_memstream(&buf, &len);
    report::print_compare(r, mem);
    std::fclose(mem);
    const std::string text(buf, len);
    std::free(buf);
    EXPECT_NE(text.find("tensor '" + victim + "': bytes differ from byte " + std::to_string(at)), std::string::npos)
        << text;
    EXPECT_NE(text.find("verdict: different"), std::string::npos) << text;
}

TEST(ReportCompare, MetadataAndTypeDifferencesAreListed) {
    DirGuard g;
    const std::string src = make_synth(g.dir, "src.gguf", "--layers 1");
    const std::string q8 = quantize(src, g.dir + "/q8.gguf", "Q8_0", true);
    const std::string q4 = quantize(src, g.dir + "/q4.gguf", "Q4_K_M", true);

    // Same tensors, one changed character in general.name.
    const std::string renamed = g.dir + "/renamed.gguf";
    fs::copy_file(q8, renamed);
    {
        std::ifstream f(q8, std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(f)), {});
        const size_t pos = bytes.find("kquant-synth tiny");
        ASSERT_NE(pos, std::string::npos);
        flip_byte(renamed, pos + 16);  // 'y' -> 'x'
    }
    const report::CompareReport m = report::compare(q8, renamed);
    EXPECT_EQ(m.verdict, report::Verdict::SameTensors);
    ASSERT_EQ(m.metadata.size(), 1u);
    EXPECT_EQ(m.metadata[0].key, "general.name");
    EXPECT_EQ(m.metadata[0].a, "string \"kquant-synth tiny\"");
    EXPECT_EQ(m.metadata[0].b, "string \"kquant-synth tinx\"");

    // Different presets: the weights differ in type, the norms are equal, general.file_type differs.
    const report::CompareReport d = report::compare(q8, q4);
    EXPECT_EQ(d.verdict, report::Verdict::Different);
    size_t type_changes = 0;
    for (const report::TensorDiff& t : d.tensors) {
        EXPECT_TRUE(t.in_a && t.in_b) << t.name;
        if (t.identical) {
            EXPECT_EQ(t.type_a, Type::F32) << t.name;
        } else {
            EXPECT_FALSE(t.same_type_shape) << t.name;
            EXPECT_EQ(t.type_a, Type::Q8_0) << t.name;
            EXPECT_EQ(t.type_b, Type::Q4_K) << t.name;
            ++type_changes;
        }
    }
    EXPECT_EQ(type_changes, changed_type_count(src, q4));
    bool file_type = false;
    for (const report::MetaDiff& k : d.metadata)
        if (k.key == "general.file_type") {
            file_type = true;
            EXPECT_EQ(k.a, "u32 7");
            EXPECT_EQ(k.b, "u32 15");
        }
    EXPECT_TRUE(file_type);
}

// ---- JSON ----------------------------------------------------------------------------------------

TEST(ReportJson, NumbersRoundTripAndNonFiniteIsNull) {
    for (const double v : {0.1, 1.0 / 3.0, 1e-300, 123456789.0, -2.5e-7}) {
        const std::string s = json::number(v);
        double back = 0;
        std::from_chars(s.data(), s.data() + s.size(), back);
        EXPECT_EQ(back, v) << s;
    }
    EXPECT_EQ(json::number(0.1), "0.1");
    EXPECT_EQ(json::number(std::nan("")), "null");
    EXPECT_EQ(json::number(INFINITY), "null");
    EXPECT_EQ(json::quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}

TEST(ReportJson, WriterNestsAndSeparates) {
    json::Writer j;
    j.begin_object().field("a", int64_t{1});
    j.key("b").begin_array(true).value(1.5).value("x").null().end_array();
    j.key("c").begin_object().field("d", true).end_object();
    j.key("e").begin_array().end_array();
    j.end_object();
    EXPECT_EQ(j.str(), "{\n  \"a\": 1,\n  \"b\": [1.5, \"x\", null],\n  \"c\": {\n    \"d\": true\n  },\n  \"e\": []\n}\n");
}

bool python_available() { return run_cmd("python3 -c pass").exit_code == 0; }

TEST(ReportJson, ReportsParseAsJson) {
    DirGuard g;
    const std::string src = make_synth(g.dir, "src.gguf", "--layers 1");
    const std::string q8 = quantize(src, g.dir + "/q8.gguf", "Q8_0", true);
    const report::VerifyReport v = report::verify(src, q8, 2);
    const report::CompareReport c = report::compare(src, q8);
    report::write_report_json(g.dir + "/verify.json", v);
    report::write_report_json(g.dir + "/compare.json", c);
    const std::string vj = report::to_json(v);
    EXPECT_NE(vj.find("\"kind\": \"verify\""), std::string::npos);
    EXPECT_NE(vj.find("\"name\": \"blk.0.attn_q.weight\""), std::string::npos);
    if (!python_available()) GTEST_SKIP() << "python3 not found: the files were written but not parsed";
    const CmdResult r = run_cmd(
        "python3 -c 'import json, sys\n"
        "v = json.load(open(sys.argv[1])); c = json.load(open(sys.argv[2]))\n"
        "assert v[\"kind\"] == \"verify\" and v[\"ok\"] and len(v[\"tensors\"]) == " +
        std::to_string(v.tensors.size()) +
        "\n"
        "assert abs(v[\"totals\"][\"rmse\"] - " + json::number(v.rmse) +
        ") == 0\n"
        "assert c[\"verdict\"] == \"different\" and len(c[\"differences\"]) == " +
        std::to_string(c.tensors.size() - c.identical_tensors) + "' " + g.dir + "/verify.json " + g.dir +
        "/compare.json");
    EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
}  // namespace kquant::test
