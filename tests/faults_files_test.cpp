// Issue 12: files we must never clobber (items 5, 6), the report as part of the result (8), long output
// names (9), and file arguments that are not regular files or are far too big (10, 11).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "kquant/gguf.h"
#include "support/fault_models.h"
#include "support/imatrix_files.h"

namespace kquant::test {
namespace {

namespace fs = std::filesystem;

// A model with `layers` layers of small quantizable tensors.
std::string small_model(const std::string& dir, int layers = 1, int64_t ne0 = 64) {
    GgufBuilder b = llama_builder(layers);
    for (int l = 0; l < layers; ++l)
        for (const char* t : {"attn_q", "attn_k"})
            b.tensor("blk." + std::to_string(l) + "." + t + ".weight", {ne0, 2}, Type::F32,
                     f32_wave(static_cast<size_t>(ne0) * 2, static_cast<float>(l)));
    return write_image(dir + "/in.gguf", b.build());
}

std::vector<uint8_t> bytes_of(const std::string& path) { return read_file(path); }

// Item 5: --report (and an output) must never be a file the command reads, nor each other.
TEST(FaultsFiles, WrittenFilesAreNeverFilesWeRead) {
    const std::string dir = fresh_test_dir("clobber");
    const std::string in = small_model(dir);
    const auto in_bytes = bytes_of(in);
    const std::string im = dir + "/im.dat";
    write_file(im, imatrix_legacy_bytes({{"blk.0.attn_q.weight", 1, std::vector<float>(64, 1.0f)}}));
    const auto im_bytes = bytes_of(im);
    write_file(dir + "/rules.txt", {'k', '=', 'q', '8', '_', '0', '\n'});
    const std::string base = kq() + " --type q8_0 ";

    struct Case {
        std::string args, expect;
    };
    const std::vector<Case> cases = {
        {"--report " + in + " " + in + " " + dir + "/o.gguf", "the input"},
        {"--report " + dir + "/o.gguf " + in + " " + dir + "/o.gguf", "the same file"},
        {"--report " + dir + "/./o.gguf --verify " + in + " " + dir + "/o.gguf", "the same file"},
        {"--imatrix " + im + " " + in + " " + im, "--imatrix"},
        {"--imatrix " + im + " --report " + im + " " + in + " " + dir + "/o.gguf", "--imatrix"},
        {"--tensor-type-file " + dir + "/rules.txt --report " + dir + "/rules.txt " + in + " " + dir + "/o.gguf",
         "--tensor-type-file"},
    };
    for (const Case& c : cases) {
        const CmdResult r = run_cmd(base + c.args);
        EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.output;
        EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.args << "\n" << r.output;
        EXPECT_EQ(bytes_of(in), in_bytes) << c.args;
        EXPECT_EQ(bytes_of(im), im_bytes) << c.args;
        EXPECT_FALSE(fs::exists(dir + "/o.gguf")) << c.args;
    }
    // A hard link to the input is the input.
    fs::create_hard_link(in, dir + "/link.gguf");
    CmdResult r = run_cmd(base + "--report " + dir + "/link.gguf " + in + " " + dir + "/o.gguf");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(bytes_of(in), in_bytes);

    // compare's --report must not be one of the files compared.
    ASSERT_EQ(run_cmd(base + "-q " + in + " " + dir + "/a.gguf").exit_code, 0);
    const auto a_bytes = bytes_of(dir + "/a.gguf");
    r = run_cmd(cli_path() + " compare " + dir + "/a.gguf " + in + " --report " + dir + "/a.gguf");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(bytes_of(dir + "/a.gguf"), a_bytes);
    EXPECT_EQ(bytes_of(in), in_bytes);
}

// Item 6: an existing output that is not a regular file is refused (publishing renames onto the name,
// which would put a regular file where a FIFO or a device was; as root, -o /dev/null would replace the
// system's /dev/null). A symlink to /dev/null stands for /dev/null itself here.
TEST(FaultsFiles, NonRegularOutputsAreRefused) {
    const std::string dir = fresh_test_dir("nonregular");
    const std::string in = small_model(dir);
    ASSERT_EQ(mkfifo((dir + "/fifo.gguf").c_str(), 0644), 0);
    fs::create_symlink("/dev/null", dir + "/null.gguf");
    fs::create_directory(dir + "/sub.gguf");
    for (const char* name : {"fifo.gguf", "null.gguf", "sub.gguf"}) {
        for (const std::string& how : {std::string(" "), std::string(" --report ")}) {
            const std::string target = dir + "/" + name;
            const std::string args = how == " " ? in + " " + target : "--report " + target + " " + in + " " + dir + "/o.gguf";
            const CmdResult r = run_cmd("timeout 20 " + kq() + " --type q8_0 " + args);
            EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.output;
            EXPECT_FALSE(fs::exists(dir + "/o.gguf"));
        }
    }
    struct stat st {};
    ASSERT_EQ(lstat((dir + "/fifo.gguf").c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced";
    ASSERT_EQ(lstat((dir + "/null.gguf").c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode)) << "the link was replaced";
    EXPECT_TRUE(fs::is_directory(dir + "/sub.gguf"));
    const CmdResult r = run_cmd(kq() + " --type q8_0 " + in + " " + dir + "/fifo.gguf");
    EXPECT_NE(r.output.find("FIFO"), std::string::npos) << r.output;
}

// Item 8, the rule: the report is part of the result. When it cannot be written, neither it nor the
// model is left (and files of those names are untouched); a missing directory is found before any work.
TEST(FaultsFiles, ReportAndModelAreWrittenTogetherOrNotAtAll) {
    const std::string dir = fresh_test_dir("report");
    // Many small tensors: the JSON report (a line per tensor) is larger than the model.
    const std::string in = small_model(dir, 120, 32);
    fs::create_directory(dir + "/out");
    write_file(dir + "/out/old.gguf", {'o', 'l', 'd'});

    CmdResult r = run_cmd(kq() + " --type q8_0 --report " + dir + "/missing/r.json " + in + " " + dir + "/out/m.gguf");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("does not exist"), std::string::npos) << r.output;
    EXPECT_EQ(list_dir(dir + "/out"), std::vector<std::string>{"old.gguf"});

    // A file-size limit between the model's size and the report's makes the report's write fail with
    // EFBIG, as a full disk fails with ENOSPC.
    r = run_cmd(kq() + " -q --type q8_0 --report " + dir + "/probe.json " + in + " " + dir + "/probe.gguf");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const uint64_t model = fs::file_size(dir + "/probe.gguf"), report = fs::file_size(dir + "/probe.json");
    ASSERT_LT(model + 4096, report) << "the test needs a report larger than the model";
    const uint64_t limit_kib = (model + report) / 2 / 1024;
    r = run_cmd("bash -c 'trap \"\" XFSZ; ulimit -f " + std::to_string(limit_kib) + "; exec " + kq() +
                " --type q8_0 --report " + dir + "/out/r.json " + in + " " + dir + "/out/old.gguf'");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("r.json"), std::string::npos) << r.output;
    EXPECT_EQ(list_dir(dir + "/out"), std::vector<std::string>{"old.gguf"}) << r.output;
    EXPECT_EQ(bytes_of(dir + "/out/old.gguf"), (std::vector<uint8_t>{'o', 'l', 'd'}));

    // Both, when all is well.
    r = run_cmd(kq() + " -q --type q8_0 --report " + dir + "/out/r.json " + in + " " + dir + "/out/m.gguf");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_TRUE(fs::exists(dir + "/out/r.json"));
    EXPECT_TRUE(fs::exists(dir + "/out/m.gguf"));
}

// Item 9: an output name near the file name limit (255) is legal; the temporary name must not be the
// reason it fails, with an anonymous temporary file or a named one.
TEST(FaultsFiles, LongOutputNamesWork) {
    const std::string dir = fresh_test_dir("long");
    const std::string in = small_model(dir);
    const std::string name = std::string(250, 'm') + ".gguf";  // 255 bytes
    for (const char* env : {"", "KQUANT_NAMED_TEMP=1 "}) {
        fs::remove(dir + "/" + name);
        const CmdResult r = run_cmd(std::string(env) + kq() + " --type q8_0 " + in + " " + dir + "/" + name);
        EXPECT_EQ(r.exit_code, 0) << env << r.output;
        EXPECT_TRUE(fs::exists(dir + "/" + name)) << env;
        EXPECT_FALSE(dir_has(dir, "kquant-tmp")) << env;
    }
}

// Item 10: a FIFO as any file argument hung forever (open() waits for a writer); devices never end.
// Every file argument must be a regular file, checked without blocking.
TEST(FaultsFiles, FifosAndDevicesAreRefusedAtOnce) {
    const std::string dir = fresh_test_dir("fifo");
    const std::string in = small_model(dir);
    ASSERT_EQ(mkfifo((dir + "/pipe").c_str(), 0644), 0);
    const std::string pipe = dir + "/pipe";
    const std::vector<std::string> cases = {
        pipe + " " + dir + "/o.gguf",
        "--imatrix " + pipe + " " + in + " " + dir + "/o.gguf",
        "--tensor-type-file " + pipe + " " + in + " " + dir + "/o.gguf",
        "--imatrix /dev/zero " + in + " " + dir + "/o.gguf",
        "--tensor-type-file /dev/zero " + in + " " + dir + "/o.gguf",
        "--tensor-type-file " + dir + " " + in + " " + dir + "/o.gguf",
        "/dev/zero " + dir + "/o.gguf",
    };
    for (const std::string& args : cases) {
        // timeout: today's code blocks on the FIFO or reads /dev/zero until memory runs out.
        const CmdResult r = run_cmd("timeout 20 " + kq() + " --type q8_0 " + args);
        EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.output.substr(0, 500);
        EXPECT_NE(r.output.find("not a regular file"), std::string::npos) << args << "\n" << r.output.substr(0, 500);
        EXPECT_EQ(r.output.find("underflow"), std::string::npos) << r.output;
        EXPECT_FALSE(fs::exists(dir + "/o.gguf"));
    }
    const CmdResult r = run_cmd("timeout 20 " + cli_path() + " compare " + pipe + " " + in);
    EXPECT_EQ(r.exit_code, 1) << r.output;
}

// Item 11: --imatrix read the whole file before looking at it (a model given by mistake: seconds and
// gigabytes before "missing imatrix metadata"). It is now recognised from its header; the legacy format
// is mapped, not read, and a count it cannot hold is refused at once.
TEST(FaultsFiles, ImatrixIsCheckedFromItsHeader) {
    const std::string dir = fresh_test_dir("imatrix");
    const std::string in = small_model(dir);
    CmdResult r = run_cmd(kq() + " --type q8_0 --imatrix " + in + " " + in + " " + dir + "/o.gguf");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("a model"), std::string::npos) << r.output;

    // A large file that is neither format (sparse: costs no disk) fails at once, from its first bytes.
    {
        std::vector<uint8_t> head = {'G', 'G', 'U', 'X', 1, 2, 3, 4};
        write_file(dir + "/big.dat", head);
        ASSERT_EQ(truncate((dir + "/big.dat").c_str(), off_t{1} << 30), 0);
    }
    r = run_cmd("timeout 20 " + kq() + " --type q8_0 --imatrix " + dir + "/big.dat " + in + " " + dir + "/o.gguf");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("not an imatrix file"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("'GGUF'"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("entry 2 of"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace kquant::test
