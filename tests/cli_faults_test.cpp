// Issue 12, clear messages and drop-in habits: llama-quantize's positional form, warnings for what is
// kept as llama-quantize keeps it (NaN/Inf in copied tensors, degenerate imatrix entries), and errors
// instead of silently ignored or changed arguments.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "kquant/gguf.h"
#include "support/fault_models.h"
#include "support/imatrix_files.h"

namespace kquant::test {
namespace {

namespace fs = std::filesystem;

std::string model(const std::string& dir) {
    const std::string path = dir + "/model.gguf";
    EXPECT_EQ(run_cmd(synth_path() + " --preset tiny --dtype f16 --seed 7 " + path).exit_code, 0);
    return path;
}

// llama-quantize IN OUT TYPE [NTHREADS] and IN TYPE run unchanged, with the bytes of the flag form;
// the flag forms keep working.
TEST(CliFaults, LlamaQuantizePositionalFormIsAccepted) {
    const std::string dir = fresh_test_dir("positional");
    const std::string in = model(dir);
    ASSERT_EQ(run_cmd(kq() + " -q --type Q4_K_M " + in + " " + dir + "/flag.gguf").exit_code, 0);
    const std::vector<uint8_t> want = read_file(dir + "/flag.gguf");

    CmdResult r = run_cmd(kq() + " -q " + in + " " + dir + "/pos.gguf Q4_K_M");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(read_file(dir + "/pos.gguf"), want);
    r = run_cmd(kq() + " -q " + in + " " + dir + "/pos2.gguf q4_k_m 2");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(read_file(dir + "/pos2.gguf"), want);
    EXPECT_NE(r.output.find("2 threads"), std::string::npos) << r.output;
    r = run_cmd(kq() + " -q " + in + " " + dir + "/pos3.gguf 15 0");  // ftype number; 0: all cores
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(read_file(dir + "/pos3.gguf"), want);
    // Output left out: llama-quantize's default name next to the input (15 is named Q4_K there).
    r = run_cmd(kq() + " -q " + in + " Q4_K_M");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(read_file(dir + "/ggml-model-Q4_K_M.gguf"), want);
    r = run_cmd(kq() + " -q --type Q4_K_M " + in);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    // A file name that starts with a number is the output when a type follows it.
    r = run_cmd("cd " + dir + " && " + kq() + " -q model.gguf 2.gguf Q4_K_M");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(read_file(dir + "/2.gguf"), want);

    struct Bad {
        std::string args, expect;
    };
    for (const Bad& b : std::vector<Bad>{
             {in + " " + dir + "/x.gguf", "missing TYPE"},
             {in + " " + dir + "/x.gguf Q9_Z", "invalid quantization type 'Q9_Z'"},
             {in + " " + dir + "/x.gguf Q4_K_M 2 extra", "unexpected argument"},
             {in + " " + dir + "/x.gguf Q4_K_M two", "NTHREADS 'two'"},
             {"--threads 2 " + in + " " + dir + "/x.gguf Q4_K_M 2", "both given"},
             {"--type Q4_K_M " + in + " " + dir + "/x.gguf Q4_K_M", "with --type, give INPUT [OUTPUT]"},
         }) {
        r = run_cmd(kq() + " " + b.args);
        EXPECT_EQ(r.exit_code, 1) << b.args << "\n" << r.output;
        EXPECT_NE(r.output.find(b.expect), std::string::npos) << b.args << "\n" << r.output;
        EXPECT_FALSE(fs::exists(dir + "/x.gguf"));
    }
}

// NaN/Inf in a tensor copied unchanged: the bytes stay (as llama-quantize keeps them), with a warning that
// names the tensor, even with --quiet.
TEST(CliFaults, NonFiniteValuesInCopiedTensorsAreKeptWithAWarning) {
    const std::string dir = fresh_test_dir("nan_copy");
    std::vector<uint8_t> norm = f32_wave(64);
    const float nan = NAN, inf = INFINITY;
    std::memcpy(norm.data() + 4 * 5, &nan, 4);
    std::memcpy(norm.data() + 4 * 9, &inf, 4);
    GgufBuilder b = llama_builder();
    b.tensor("blk.0.attn_norm.weight", {64}, Type::F32, norm);
    b.tensor("blk.0.attn_q.weight", {64, 2}, Type::F32, f32_wave(128));
    const std::string in = write_image(dir + "/in.gguf", b.build());
    for (const char* type : {"q8_0", "COPY"}) {
        const CmdResult r = run_cmd(kq() + " -q --type " + type + " " + in + " " + dir + "/o.gguf");
        ASSERT_EQ(r.exit_code, 0) << r.output;
        EXPECT_NE(r.output.find("warning: " + dir + "/in.gguf: tensor 'blk.0.attn_norm.weight': 2 non-finite values"),
                  std::string::npos)
            << r.output;
        EXPECT_NE(r.output.find("row 0, column 5"), std::string::npos) << r.output;
        const auto q = gguf::Reader::open(dir + "/o.gguf");
        const gguf::TensorInfo* t = q->find_tensor("blk.0.attn_norm.weight");
        ASSERT_NE(t, nullptr);
        EXPECT_EQ(std::memcmp(q->tensor_data(*t), norm.data(), norm.size()), 0);
    }
}

// An imatrix entry that is all zero, has negative values or is all denormal makes its tensor quantize
// to zeros (llama-quantize does the same, byte for byte): kept, with a warning naming the entry.
TEST(CliFaults, DegenerateImatrixEntriesAreNamedInAWarning) {
    const std::string dir = fresh_test_dir("imatrix_warn");
    GgufBuilder b = llama_builder();
    for (const char* t : {"attn_q", "attn_k", "ffn_up", "ffn_down"})
        b.tensor(std::string("blk.0.") + t + ".weight", {64, 2}, Type::F32, f32_wave(128));
    const std::string in = write_image(dir + "/in.gguf", b.build());
    std::vector<float> negative(64, 1.0f);
    negative[3] = -2.0f;
    write_file(dir + "/im.dat", imatrix_legacy_bytes({{"blk.0.attn_q.weight", 1, std::vector<float>(64, 0.0f)},
                                                      {"blk.0.attn_k.weight", 1, negative},
                                                      {"blk.0.ffn_up.weight", 1, std::vector<float>(64, 1e-40f)},
                                                      {"blk.0.ffn_down.weight", 1, std::vector<float>(64, 0.5f)}}));
    const CmdResult r = run_cmd(kq() + " -q --type q4_k_m --imatrix " + dir + "/im.dat " + in + " " + dir + "/o.gguf");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("imatrix entry 'blk.0.attn_q.weight': all 64 values are zero"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("imatrix entry 'blk.0.attn_k.weight': 1 of 64 values are negative"), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("imatrix entry 'blk.0.ffn_up.weight': all 64 values are zero or denormal"),
              std::string::npos)
        << r.output;
    EXPECT_EQ(r.output.find("blk.0.ffn_down.weight"), std::string::npos) << r.output;
}

// Arguments that were silently ignored or changed are errors, and messages say what the user did wrong.
TEST(CliFaults, MisusedArgumentsAreClearErrors) {
    const std::string dir = fresh_test_dir("misuse");
    GgufBuilder b = llama_builder();
    b.tensor("blk.0.attn_q.weight", {64, 2}, Type::F32, f32_wave(128));
    const std::string in = write_image(dir + "/in.gguf", b.build());
    fs::create_directory(dir + "/out");
    write_file(dir + "/file", {'x'});
    const std::string o = " " + in + " " + dir + "/o.gguf";
    struct Case {
        std::string args, expect;
    };
    for (const Case& c : std::vector<Case>{
             {"--dry-run --verify --type q8_0" + o, "--dry-run writes nothing"},
             {"--dry-run --report " + dir + "/r.json --type q8_0" + o, "--dry-run writes nothing"},
             {"--tensor-type-file " + dir + "/out --type q8_0" + o, "not a regular file (a directory)"},
             {"--override-kv foo=int:abc --type q8_0" + o, "'abc' is not an integer"},
             {"--override-kv foo=int:12abc --type q8_0" + o, "is not an integer"},
             {"--override-kv foo=int:4294967296 --type q8_0" + o, "out of range"},
             {"--override-kv foo=int:99999999999999999999 --type q8_0" + o, "out of range"},
             {"--override-kv foo=float:x --type q8_0" + o, "is not a number"},
             {"--threads -1 --type q8_0" + o, "--threads -1 is negative"},
             {"--threads 1000000 --type q8_0" + o, "too many threads"},
             {"--type q8_0 " + in + " " + dir + "/out/", "names a directory"},
             {"--type q8_0 " + in + " " + dir + "/out", "is a directory"},
             {"--type q8_0 " + in + " " + dir + "/missing/o.gguf", "the directory " + dir + "/missing does not exist"},
             {"--type q8_0 " + in + " " + dir + "/file/o.gguf", "is not a directory"},
         }) {
        const CmdResult r = run_cmd(kq() + " " + c.args);
        EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.output;
        EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.args << "\n" << r.output;
        EXPECT_EQ(r.output.find("e+308"), std::string::npos) << r.output;
        EXPECT_FALSE(fs::exists(dir + "/o.gguf"));
        EXPECT_TRUE(list_dir(dir + "/out").empty());
    }
}

// A name from the file is printed escaped and shortened: a NUL no longer cuts the message, an escape
// sequence no longer reaches the terminal.
TEST(CliFaults, NamesFromTheFileArePrintedEscaped) {
    const std::string dir = fresh_test_dir("names");
    GgufBuilder b = llama_builder();
    static const char raw[] = "blk.0.attn_q\0x\x1b[2J.weight";
    b.tensor(std::string(raw, sizeof raw - 1), {64, 2}, Type::F32, f32_wave(128));
    std::vector<uint8_t> bad = f32_wave(128);
    const float nan = NAN;
    std::memcpy(bad.data() + 4 * 70, &nan, 4);
    b.tensor("blk.0.attn_k.weight", {64, 2}, Type::F32, bad);
    const std::string in = write_image(dir + "/in.gguf", b.build());
    const CmdResult r = run_cmd(kq() + " --type q8_0 " + in + " " + dir + "/o.gguf");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(r.output.find('\x1b'), std::string::npos) << "an escape sequence reached the terminal";
    EXPECT_NE(r.output.find("blk.0.attn_q\\x00x\\x1b[2J.weight"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("tensor 'blk.0.attn_k.weight': non-finite value (NaN or Inf) at row 1, column 6"),
              std::string::npos)
        << r.output;
}

}  // namespace
}  // namespace kquant::test
