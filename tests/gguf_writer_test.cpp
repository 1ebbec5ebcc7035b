// The streaming writer: layout, completeness check at commit, temporary-file hygiene (destruction,
// failed writes, full disk, SIGTERM/SIGINT) and a destination that is never touched before commit.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>

#include "kquant/error.h"
#include "kquant/gguf.h"
#include "support/gguf_builder.h"
#include "support/run_cmd.h"

namespace kquant {
namespace {

// memcmp that accepts the null data pointers of empty tensors.
bool same_bytes(const uint8_t* a, const uint8_t* b, size_t n) { return n == 0 || std::memcmp(a, b, n) == 0; }

using gguf::KV;
using gguf::Reader;
using gguf::Value;
using gguf::Writer;

const std::vector<KV> kKvs = {{"general.architecture", Value::of_string("llama")},
                              {"general.file_type", Value::of_u32(15)}};

std::vector<Writer::TensorSpec> some_specs() {
    return {{"token_embd.weight", {256, 4}, Type::Q4_K},
            {"blk.0.attn_norm.weight", {33}, Type::F32},
            {"output.weight", {64, 3, 2}, Type::F16}};
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 8));
    return v;
}

bool has_temp_file(const std::string& dir) {
    for (const std::string& name : test::list_dir(dir))
        if (name.find(".kquant-tmp-") != std::string::npos) return true;
    return false;
}

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// These tests look at the named temporary file (the fallback where O_TMPFILE is missing, and the
// KQUANT_NAMED_TEMP=1 mode); tests/faults_temp_test.cpp covers the anonymous one.
struct NamedTempMode {
    gguf::TempMode old = gguf::temp_mode();
    NamedTempMode() { gguf::set_temp_mode(gguf::TempMode::Named); }
    ~NamedTempMode() { gguf::set_temp_mode(old); }
};

TEST(GgufWriter, TempFileIsNamedAndPlacedNextToTheDestination) {
    NamedTempMode named;
    const std::string dir = test::fresh_test_dir("GgufWriter.TempName");
    Writer w(dir + "/model.gguf", kKvs, some_specs());
    const std::string temp = w.temp_path();
    EXPECT_EQ(temp.rfind(dir + "/.model.gguf.kquant-tmp-", 0), 0u) << temp;
    EXPECT_EQ(temp.size(), (dir + "/.model.gguf.kquant-tmp-XXXXXX").size());
    EXPECT_TRUE(std::filesystem::exists(temp));
    EXPECT_FALSE(std::filesystem::exists(dir + "/model.gguf"));
    // The whole file is laid out (and reserved) at construction.
    EXPECT_EQ(std::filesystem::file_size(temp), w.total_size());
}

TEST(GgufWriter, DestroyWithoutCommitRemovesTheTempFile) {
    NamedTempMode named;
    const std::string dir = test::fresh_test_dir("GgufWriter.Destroy");
    {
        Writer w(dir + "/model.gguf", kKvs, some_specs());
        const auto data = pattern(w.info(1).nbytes, 1);
        w.write_tensor(1, 0, data.data(), data.size());
        ASSERT_TRUE(has_temp_file(dir));
    }
    EXPECT_TRUE(test::list_dir(dir).empty());
}

TEST(GgufWriter, CommitProducesTheLayoutAndTheReaderReadsItBack) {
    const std::string dir = test::fresh_test_dir("GgufWriter.Commit");
    const std::string path = dir + "/model.gguf";
    const auto specs = some_specs();
    std::vector<std::vector<uint8_t>> data;
    {
        Writer w(path, kKvs, specs);
        ASSERT_EQ(w.tensor_count(), specs.size());
        uint64_t expect_offset = 0, padded_sum = 0;
        for (size_t i = 0; i < specs.size(); ++i) {
            EXPECT_EQ(w.info(i).offset, expect_offset) << specs[i].name;
            EXPECT_EQ(w.info(i).nbytes, test::tensor_bytes(specs[i].ne, specs[i].type));
            expect_offset += (w.info(i).nbytes + 31) / 32 * 32;
            padded_sum += (w.info(i).nbytes + 31) / 32 * 32;
            data.push_back(pattern(w.info(i).nbytes, static_cast<uint8_t>(i * 40)));
        }
        std::vector<gguf::TensorInfo> infos;
        for (size_t i = 0; i < w.tensor_count(); ++i) infos.push_back(w.info(i));
        const uint64_t meta = gguf::serialize_metadata(kKvs, infos).size();
        EXPECT_EQ(w.total_size(), (meta + 31) / 32 * 32 + padded_sum);
        // Several threads write interleaved 16-byte chunks of every tensor.
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&, t] {
                for (size_t i = 0; i < data.size(); ++i)
                    for (size_t at = static_cast<size_t>(t) * 16; at < data[i].size(); at += 64)
                        w.write_tensor(i, at, data[i].data() + at, std::min<size_t>(16, data[i].size() - at));
            });
        for (auto& th : threads) th.join();
        w.commit();
        EXPECT_EQ(std::filesystem::file_size(path), w.total_size());
    }
    EXPECT_EQ(test::list_dir(dir), std::vector<std::string>{"model.gguf"});
    auto r = Reader::open(path);
    EXPECT_EQ(r->kvs(), kKvs);
    ASSERT_EQ(r->tensors().size(), specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
        const auto& t = r->tensors()[i];
        EXPECT_EQ(t.name, specs[i].name);
        EXPECT_EQ(t.ne, specs[i].ne);
        EXPECT_EQ(t.type, specs[i].type);
        ASSERT_EQ(t.nbytes, data[i].size());
        EXPECT_TRUE(same_bytes(r->tensor_data(t), data[i].data(), t.nbytes)) << t.name;
    }
    // Every tensor, the last included, is followed by zeros up to the alignment.
    const std::vector<uint8_t> bytes = test::read_file(path);
    for (const auto& t : r->tensors())
        for (uint64_t at = r->data_offset() + t.offset + t.nbytes; at % 32 != 0; ++at) EXPECT_EQ(bytes[at], 0) << t.name;
    EXPECT_EQ(bytes.size() % 32, 0u);
    // Permissions follow the umask like any created file, not mkstemp's 0600.
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    const mode_t mask = umask(022);
    umask(mask);
    EXPECT_EQ(st.st_mode & 0777, 0666 & ~mask);
}

TEST(GgufWriter, MissingTensorBytesAreNamedAtCommit) {
    const std::string dir = test::fresh_test_dir("GgufWriter.Missing");
    Writer w(dir + "/model.gguf", kKvs, some_specs());
    for (size_t i = 0; i < w.tensor_count(); ++i) {
        if (i == 1) continue;
        const auto d = pattern(w.info(i).nbytes, 3);
        w.write_tensor(i, 0, d.data(), d.size());
    }
    EXPECT_EQ(message_of([&] { w.commit(); }),
              dir + "/model.gguf: tensor 'blk.0.attn_norm.weight': data incomplete at commit: 0 of 132 bytes written");
    const auto d = pattern(w.info(1).nbytes, 3);
    w.write_tensor(1, 4, d.data() + 4, d.size() - 4);
    EXPECT_NE(message_of([&] { w.commit(); }).find("128 of 132 bytes written"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(dir + "/model.gguf"));
    w.write_tensor(1, 0, d.data(), 4);
    w.commit();
    EXPECT_TRUE(std::filesystem::exists(dir + "/model.gguf"));
}

TEST(GgufWriter, OverwrittenBytesAreAnErrorAtCommit) {
    const std::string dir = test::fresh_test_dir("GgufWriter.Overwritten");
    Writer w(dir + "/model.gguf", kKvs, {{"t", {8}, Type::F32}});
    const auto d = pattern(32, 0);
    w.write_tensor(0, 0, d.data(), 32);
    w.write_tensor(0, 0, d.data(), 4);
    EXPECT_NE(message_of([&] { w.commit(); }).find("tensor 't': data overwritten at commit: 36 bytes written"),
              std::string::npos);
}

TEST(GgufWriter, DestinationSurvivesAFailedWrite) {
    const std::string dir = test::fresh_test_dir("GgufWriter.Survives");
    const std::string path = dir + "/model.gguf";
    const std::vector<uint8_t> old = {'o', 'l', 'd', ' ', 'f', 'i', 'l', 'e'};
    test::write_file(path, old);
    {
        Writer w(path, kKvs, some_specs());
        const auto d = pattern(w.info(0).nbytes, 9);
        w.write_tensor(0, 0, d.data(), d.size());
        EXPECT_THROW(w.commit(), Error);  // tensors 1 and 2 missing
        EXPECT_EQ(test::read_file(path), old);
    }
    EXPECT_EQ(test::read_file(path), old);
    EXPECT_EQ(test::list_dir(dir), std::vector<std::string>{"model.gguf"});
}

TEST(GgufWriter, BadWritesAreRejected) {
    const std::string dir = test::fresh_test_dir("GgufWriter.BadWrites");
    Writer w(dir + "/model.gguf", kKvs, some_specs());
    const auto d = pattern(200, 0);
    EXPECT_NE(message_of([&] { w.write_tensor(3, 0, d.data(), 1); }).find("tensor index 3 out of range (3 tensors)"),
              std::string::npos);
    EXPECT_NE(message_of([&] { w.write_tensor(1, 100, d.data(), 33); })
                  .find("tensor 'blk.0.attn_norm.weight': write of 33 bytes at offset 100 exceeds the tensor's 132 bytes"),
              std::string::npos);
    EXPECT_THROW(w.write_tensor(1, ~uint64_t{0}, d.data(), 2), Error);
}

TEST(GgufWriter, InvalidLayoutsAreRejected) {
    const std::string dir = test::fresh_test_dir("GgufWriter.Invalid");
    const std::string path = dir + "/model.gguf";
    auto make = [&](std::vector<KV> kvs, std::vector<Writer::TensorSpec> specs, size_t alignment) {
        return message_of([&] { Writer w(path, kvs, specs, alignment); });
    };
    EXPECT_NE(make(kKvs, some_specs(), 48).find("alignment 48 is not a power of two"), std::string::npos);
    EXPECT_NE(make(kKvs, some_specs(), 64).find("alignment 64 needs a u32 KV general.alignment"), std::string::npos);
    EXPECT_NE(make({{"general.alignment", Value::of_u32(64)}}, some_specs(), 32).find("disagrees"), std::string::npos);
    EXPECT_NE(make({{"general.alignment", Value::of_i32(32)}}, some_specs(), 32).find("must be u32 32"),
              std::string::npos);
    EXPECT_EQ(make({{"general.alignment", Value::of_u32(64)}}, some_specs(), 64), "");
    EXPECT_NE(make({kKvs[0], kKvs[0]}, some_specs(), 32).find("duplicate KV key 'general.architecture'"),
              std::string::npos);
    EXPECT_NE(make(kKvs, {{"a", {32}, Type::F32}, {"a", {32}, Type::F32}}, 32).find("tensor 'a': duplicate tensor name"),
              std::string::npos);
    EXPECT_NE(make(kKvs, {{"q", {100, 2}, Type::Q4_K}}, 32).find("tensor 'q': ne0 = 100 is not a multiple"),
              std::string::npos);
    EXPECT_NE(make(kKvs, {{"q", {1, 1, 1, 1, 1}, Type::F32}}, 32).find("n_dims 5"), std::string::npos);
    EXPECT_NE(make({{"k", Value::of_array(gguf::ValueType::U32, {Value::of_i32(1)})}}, {}, 32)
                  .find("key 'k': array element 0 has type i32 in an array of u32"),
              std::string::npos);
    EXPECT_TRUE(test::list_dir(dir).empty());
}

TEST(GgufWriter, UnwritableDirectoryIsAnError) {
    const std::string msg = message_of([] { Writer w("/nonexistent-dir/model.gguf", kKvs, some_specs()); });
    EXPECT_EQ(msg, "/nonexistent-dir/model.gguf: cannot create a temporary file in /nonexistent-dir: "
                   "No such file or directory");
}

// A file-size limit makes every write past it fail with EFBIG, as a full disk fails with ENOSPC.
TEST(GgufWriter, DiskFullIsAnErrorAndLeavesNoTempFile) {
    NamedTempMode named;
    const std::string dir = test::fresh_test_dir("GgufWriter.DiskFull");
    const std::string path = dir + "/model.gguf";
    auto [status, msg] = test::in_child([&](int fd) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim {4096, 4096};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(2);
        try {
            Writer w(path, kKvs, {{"big", {1 << 20}, Type::F32}});
            test::send_to_parent(fd, "no error");
        } catch (const Error& e) {
            test::send_to_parent(fd, e.what());
        }
    });
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    EXPECT_EQ(msg.rfind(path + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(".model.gguf.kquant-tmp-"), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::strerror(EFBIG)), std::string::npos) << msg;
    EXPECT_TRUE(test::list_dir(dir).empty());
}

// A write that fails after construction (here: past the file-size limit, set once the file is laid
// out) names the tensor, the temporary file and the errno text; the temporary file goes with the Writer.
TEST(GgufWriter, WriteErrorIsNamedAndLeavesNoTempFile) {
    NamedTempMode named;
    const std::string dir = test::fresh_test_dir("GgufWriter.WriteError");
    const std::string path = dir + "/model.gguf";
    auto [status, msg] = test::in_child([&](int fd) {
        signal(SIGXFSZ, SIG_IGN);
        try {
            Writer w(path, kKvs, {{"small", {8}, Type::F32}, {"big", {1 << 16}, Type::F32}});
            struct rlimit lim {4096, 4096};
            if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(2);
            const std::vector<uint8_t> d(w.info(1).nbytes, 0x5a);
            w.write_tensor(1, 0, d.data(), d.size());
            test::send_to_parent(fd, "no error");
        } catch (const Error& e) {
            test::send_to_parent(fd, e.what());
        }
    });
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    EXPECT_EQ(msg.rfind(path + ": tensor 'big': cannot write 262144 bytes at offset ", 0), 0u) << msg;
    EXPECT_NE(msg.find(".model.gguf.kquant-tmp-"), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::strerror(EFBIG)), std::string::npos) << msg;
    EXPECT_TRUE(test::list_dir(dir).empty());
}

void expect_signal_removes_temp(int sig, const std::string& name) {
    NamedTempMode named;
    struct sigaction current {};
    sigaction(sig, nullptr, &current);
    if (current.sa_handler == SIG_IGN)  // e.g. SIGINT in a background job: the writer leaves it ignored
        GTEST_SKIP() << "signal " << sig << " is ignored in this process";
    const std::string dir = test::fresh_test_dir(name);
    const std::string path = dir + "/model.gguf";
    test::write_file(path, {'o', 'l', 'd'});
    auto [status, msg] = test::in_child([&](int fd) {
        Writer w(path, kKvs, some_specs());
        const auto d = pattern(w.info(0).nbytes, 1);
        w.write_tensor(0, 0, d.data(), d.size());
        test::send_to_parent(fd, w.temp_path());
        raise(sig);
        _exit(4);  // not reached: the default action ends the process
    });
    EXPECT_TRUE(WIFSIGNALED(status)) << status;
    if (WIFSIGNALED(status)) {
        EXPECT_EQ(WTERMSIG(status), sig);
    }
    EXPECT_NE(msg.find(".model.gguf.kquant-tmp-"), std::string::npos) << msg;
    EXPECT_EQ(test::list_dir(dir), std::vector<std::string>{"model.gguf"});
    EXPECT_EQ(test::read_file(path), (std::vector<uint8_t>{'o', 'l', 'd'}));
}

TEST(GgufWriter, SigtermRemovesTheTempFile) { expect_signal_removes_temp(SIGTERM, "GgufWriter.Sigterm"); }

TEST(GgufWriter, SigintRemovesTheTempFile) { expect_signal_removes_temp(SIGINT, "GgufWriter.Sigint"); }

}  // namespace
}  // namespace kquant
