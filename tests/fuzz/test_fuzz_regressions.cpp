// Replays the fuzz corpus and every input the fuzzer ever broke the reader with (see
// fuzz_recording.cpp): each one is either refused with a message or reported, and the known ones
// give exactly the known outcome.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/fuzz/fuzz_one_input.h"

namespace {

namespace fs = std::filesystem;

std::string fuzz_dir() {
    const char* d = getenv("FUZZ_DIR");
    return d ? d : "tests/fuzz";
}

std::vector<unsigned char> read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<unsigned char> named(const std::string& relative) {
    auto bytes = read_bytes(fs::path(fuzz_dir()) / relative);
    EXPECT_FALSE(bytes.empty()) << relative << " is missing or empty";
    return bytes;
}

uint64_t total_calls(const std::vector<unsigned char>& bytes) {
    std::string error;
    auto r = vdsotrace::tools::parse_recording(bytes, "test", &error);
    if (!r) {
        ADD_FAILURE() << error;
        return 0;
    }
    uint64_t n = 0;
    for (uint64_t c : r->totals()) n += c;
    return n;
}

TEST(FuzzRegressions, EveryFileIsReportedOrRefusedWithAMessage) {
    int files = 0;
    for (const char* sub : {"corpus", "regressions"}) {
        for (const auto& e : fs::directory_iterator(fs::path(fuzz_dir()) / sub)) {
            SCOPED_TRACE(e.path().string());
            std::string why;
            if (!vdsotrace::fuzz::read_like_report(read_bytes(e.path()), &why)) {
                EXPECT_FALSE(why.empty());
            }
            ++files;
        }
    }
    EXPECT_GE(files, 7);
}

TEST(FuzzRegressions, SeedsReadExactly) {
    EXPECT_EQ(total_calls(named("corpus/plain.vdsotrace")), 5u);          // plain 5, 1 thread slot
    EXPECT_EQ(total_calls(named("corpus/tiny.vdsotrace")), 50u);          // blockall 10, 1 slot
    EXPECT_EQ(total_calls(named("corpus/two_threads.vdsotrace")), 50u);   // blockall 10, 2 slots
    std::string why;
    EXPECT_FALSE(vdsotrace::fuzz::read_like_report(named("corpus/header_only.vdsotrace"), &why));
    EXPECT_NE(why.find("truncated or padded"), std::string::npos) << why;
    EXPECT_FALSE(vdsotrace::fuzz::read_like_report(named("corpus/truncated.vdsotrace"), &why));
    EXPECT_NE(why.find("truncated or padded"), std::string::npos) << why;
}

// A recording file `run` wrote (the demo, 62,200 calls): decompressed, its archive and symbol
// table parsed, reported; the same bytes cut short are refused with a message.
TEST(FuzzRegressions, RecordingFileSeedReadsExactly) {
    const auto bytes = named("corpus/demo.recording");
    std::string error;
    auto r = vdsotrace::tools::parse_recording_file(bytes, "test", &error);
    ASSERT_TRUE(r) << error;
    ASSERT_EQ(r->size(), 1u);
    uint64_t n = 0;
    for (uint64_t c : (*r)[0].totals()) n += c;
    EXPECT_EQ(n, 62200u);
    ASSERT_NE((*r)[0].symbols, nullptr);
    EXPECT_TRUE(vdsotrace::fuzz::read_like_report(bytes));
    std::string why;
    EXPECT_FALSE(vdsotrace::fuzz::read_like_report({bytes.begin(), bytes.end() - 10}, &why));
    EXPECT_NE(why.find("truncated or corrupt"), std::string::npos) << why;
}

// The same demo written after archives left out zero pages (archive major 2; demo.recording above
// is major 1 and keeps being read): the file, and its archive decompressed (a seed the fuzzer
// mutates directly), give the same 62,200 calls; a kept page cut short is refused.
TEST(FuzzRegressions, PackedArchiveSeedsReadExactly) {
    for (const char* seed : {"corpus/demo_packed.recording", "corpus/demo_packed.archive"}) {
        const auto bytes = named(seed);
        std::string error;
        auto r = vdsotrace::tools::is_archive(bytes) ? vdsotrace::tools::parse_archive(bytes, "test", &error)
                                                     : vdsotrace::tools::parse_recording_file(bytes, "test", &error);
        ASSERT_TRUE(r) << seed << ": " << error;
        ASSERT_EQ(r->size(), 1u) << seed;
        uint64_t n = 0;
        for (uint64_t c : (*r)[0].totals()) n += c;
        EXPECT_EQ(n, 62200u) << seed;
        EXPECT_TRUE(vdsotrace::fuzz::read_like_report(bytes)) << seed;
    }
    const auto archive = named("corpus/demo_packed.archive");
    uint16_t major = 0;
    memcpy(&major, archive.data() + 8, 2);
    EXPECT_EQ(major, 2);
    std::string why;
    EXPECT_FALSE(vdsotrace::fuzz::read_like_report({archive.begin(), archive.begin() + 4000}, &why));
    EXPECT_NE(why.find("truncated or corrupt"), std::string::npos) << why;
}

// Counts beyond 2^64 per second in the text report's rate column: undefined behaviour before.
TEST(FuzzRegressions, RateBeyondUint64) {
    EXPECT_TRUE(vdsotrace::fuzz::read_like_report(named("regressions/rate-beyond-uint64.vdsotrace")));
}

// A non-UTF-8 byte in a recorded string: `report --json` died of an uncaught exception before.
TEST(FuzzRegressions, InvalidUtf8InJson) {
    const auto bytes = named("regressions/json-invalid-utf8.vdsotrace");
    EXPECT_TRUE(vdsotrace::fuzz::read_like_report(bytes));
    std::string error;
    auto r = vdsotrace::tools::parse_recording(bytes, "test", &error);
    ASSERT_TRUE(r) << error;
    std::vector<vdsotrace::tools::Recording> rs{*r};
    const std::string text = vdsotrace::tools::json_text(vdsotrace::tools::to_json(vdsotrace::tools::build_report(rs)));
    EXPECT_NE(text.find("\xEF\xBF\xBD"), std::string::npos);  // U+FFFD in place of the bad byte
}

// A module path in the recording naming a FIFO: the symbolizer opened it and waited forever for
// a writer. Now it is "not a regular file" and the report comes (the test's timeout is the check).
TEST(FuzzRegressions, ModulePathNamingAFifoDoesNotHang) {
    auto bytes = named("corpus/plain.vdsotrace");
    std::string error;
    auto r = vdsotrace::tools::parse_recording(bytes, "test", &error);
    ASSERT_TRUE(r) << error;
    ASSERT_FALSE(r->exe.empty());
    char dir[] = "/tmp/vdsotrace-fifo-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    const std::string fifo = std::string(dir) + "/f";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << strerror(errno);
    ASSERT_LT(fifo.size(), r->exe.size());
    // Every copy of the program's path (the header's exe, argv[0], its module entry) names the FIFO.
    int replaced = 0;
    for (size_t at = 0; at + r->exe.size() <= bytes.size(); ++at) {
        if (memcmp(bytes.data() + at, r->exe.data(), r->exe.size()) != 0) continue;
        std::fill(bytes.begin() + long(at), bytes.begin() + long(at + r->exe.size()), 0);
        memcpy(bytes.data() + at, fifo.data(), fifo.size());
        ++replaced;
    }
    EXPECT_GE(replaced, 2);
    EXPECT_TRUE(vdsotrace::fuzz::read_like_report(bytes));
    unlink(fifo.c_str());
    rmdir(dir);
}

}  // namespace
