// Saved sessions (`run --save`): an archive of segment images is read back exactly, and a
// damaged one (every truncation, wrong magic or version, impossible sizes, a corrupt recording
// inside, random bytes) is refused with a message, never a crash.
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tools/recordings/jit_symbols.h"
#include "tools/symbols/perf_map.h"
#include "tools/recordings/recording_archive.h"
#include "tests/unit/blank_recording.h"
#include "tracer/engine/segment_create.h"
#include "tracer/format/segment_format.h"

namespace f = vdsotrace::format;
namespace tr = vdsotrace::tracer;
namespace tools = vdsotrace::tools;

namespace {

// A valid one-thread recording of `pid` with `calls` CLOCK_MONOTONIC calls.
std::vector<unsigned char> image(int pid, uint64_t calls) {
    tr::Settings s;
    s.threads = 1;
    s.callers = 16;
    s.modules = 8;
    std::vector<unsigned char> bytes = vdsotrace::testing::blank_recording(s, 0);
    auto* h = reinterpret_cast<f::Header*>(bytes.data());
    h->pid = pid;
    h->state = f::kStateExited;
    h->tree.segment_id = 0x1000 + uint64_t(pid);
    strcpy(h->session, "saved");
    h->threads_claimed = 1;
    tr::Segment seg;
    tr::bind_segment(h, &seg);
    reinterpret_cast<f::ThreadSlotHeader*>(seg.threads)->state = f::kThreadExited;
    reinterpret_cast<uint64_t*>(seg.threads + f::kSlotUnattributedOffset)[f::counter_index(f::kClockGettime, 1)] = calls;
    return bytes;
}

std::string temp(const std::string& what) {
    return (std::filesystem::temp_directory_path() / ("vdsotrace_archive_" + std::to_string(getpid()) + what)).string();
}

void write_file(const std::string& path, const std::vector<unsigned char>& b) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

std::vector<unsigned char> read_file(const std::string& path) {
    std::vector<unsigned char> b;
    std::string error;
    EXPECT_TRUE(tools::read_recording_file(path, &b, &error)) << error;
    return b;
}

// An archive of two recordings (pids 11 and 12, 5 and 6 calls), as bytes.
std::vector<unsigned char> valid_archive() {
    const std::string a = temp("a"), b = temp("b"), out = temp("out");
    write_file(a, image(11, 5));
    write_file(b, image(12, 6));
    std::string error;
    EXPECT_TRUE(tools::write_archive({a, b}, out, &error)) << error;
    std::vector<unsigned char> bytes = read_file(out);
    std::filesystem::remove(a);
    std::filesystem::remove(b);
    std::filesystem::remove(out);
    return bytes;
}

std::string refusal(const std::vector<unsigned char>& bytes) {
    std::string error;
    auto r = tools::parse_archive(bytes, "test", &error);
    EXPECT_FALSE(r.has_value());
    EXPECT_FALSE(error.empty());
    return error;
}

}  // namespace

TEST(RecordingArchive, ReadsBackEveryRecordingExactly) {
    std::string error;
    auto r = tools::parse_archive(valid_archive(), "test", &error);
    ASSERT_TRUE(r.has_value()) << error;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].pid, 11);
    EXPECT_EQ((*r)[1].pid, 12);
    EXPECT_EQ((*r)[0].segment_id, 0x1000u + 11);
    EXPECT_EQ((*r)[0].totals()[f::counter_index(f::kClockGettime, 1)], 5u);
    EXPECT_EQ((*r)[1].totals()[f::counter_index(f::kClockGettime, 1)], 6u);
    EXPECT_NE((*r)[0].source.find("vdsotrace_archive_"), std::string::npos);
}

TEST(RecordingArchive, LoadRecordingsReadsASegmentAndAnArchiveAlike) {
    const std::string seg = temp("seg"), arc = temp("arc");
    write_file(seg, image(7, 1));
    write_file(arc, valid_archive());
    std::string error;
    auto one = tools::load_recordings(seg, &error);
    ASSERT_TRUE(one.has_value()) << error;
    EXPECT_EQ(one->size(), 1u);
    auto two = tools::load_recordings(arc, &error);
    ASSERT_TRUE(two.has_value()) << error;
    EXPECT_EQ(two->size(), 2u);
    std::filesystem::remove(seg);
    std::filesystem::remove(arc);
}

TEST(RecordingArchive, RefusesEveryTruncation) {
    const std::vector<unsigned char> good = valid_archive();
    for (size_t n = 0; n < good.size(); n += (n < 256 ? 1 : 97)) {
        std::vector<unsigned char> cut(good.begin(), good.begin() + long(n));
        refusal(cut);
    }
}

TEST(RecordingArchive, RefusesWrongMagicVersionOrderAndSizes) {
    std::vector<unsigned char> b = valid_archive();
    b[0] = 'X';
    EXPECT_NE(refusal(b).find("not a vdsotrace archive"), std::string::npos);

    b = valid_archive();
    b[8] = 9;  // major
    EXPECT_NE(refusal(b).find("archive version 9."), std::string::npos);

    b = valid_archive();
    std::swap(b[12], b[15]);  // byte order mark
    EXPECT_NE(refusal(b).find("byte order"), std::string::npos);

    b = valid_archive();
    const uint32_t huge = 0xffffffffu;
    memcpy(b.data() + 16, &huge, 4);  // count
    EXPECT_NE(refusal(b).find("corrupt"), std::string::npos);

    b = valid_archive();
    const uint32_t zero = 0;
    memcpy(b.data() + 16, &zero, 4);
    refusal(b);

    b = valid_archive();
    const uint64_t big = uint64_t(1) << 62;
    memcpy(b.data() + 24 + 8, &big, 8);  // first entry's image size
    EXPECT_NE(refusal(b).find("runs past the end"), std::string::npos);

    b = valid_archive();
    b.push_back(0);
    EXPECT_NE(refusal(b).find("follow the last recording"), std::string::npos);
}

TEST(RecordingArchive, RefusesACorruptRecordingInside) {
    std::vector<unsigned char> b = valid_archive();
    uint32_t name_size = 0;
    memcpy(&name_size, b.data() + 24, 4);
    b[24 + 16 + name_size] = 'Z';  // the first recording's magic
    EXPECT_NE(refusal(b).find("wrong magic"), std::string::npos);
}

TEST(RecordingArchive, SurvivesRandomCorruption) {
    const std::vector<unsigned char> good = valid_archive();
    std::mt19937_64 rng(42);
    for (int i = 0; i < 2000; ++i) {
        std::vector<unsigned char> b = good;
        const int flips = 1 + int(rng() % 8);
        for (int k = 0; k < flips; ++k) b[rng() % 64 < 48 ? rng() % 64 : rng() % b.size()] = uint8_t(rng());
        std::string error;
        auto r = tools::parse_archive(b, "fuzz", &error);
        if (!r) {
            EXPECT_FALSE(error.empty());
        }
    }
}

TEST(RecordingArchive, CarriesEachRecordingsKeptPerfMap) {
    // b has a perf map kept beside it, a has none: the archive gives b, and only b, its names.
    const std::string a = temp("pa"), b = temp("pb"), out = temp("pout");
    write_file(a, image(21, 1));
    write_file(b, image(22, 2));
    const std::string map = "7f0000001000 40 JS:*hot /srv/app.js:3:14\n";
    write_file(tools::kept_perf_map_path(b), std::vector<unsigned char>(map.begin(), map.end()));
    std::string error;
    ASSERT_TRUE(tools::write_archive({a, b}, out, &error)) << error;
    std::filesystem::remove(tools::kept_perf_map_path(b));
    auto r = tools::load_recordings(out, &error);
    ASSERT_TRUE(r.has_value()) << error;
    ASSERT_EQ(r->size(), 2u);
    EXPECT_EQ((*r)[0].perf_map, nullptr);
    ASSERT_NE((*r)[1].perf_map, nullptr);
    uint64_t offset = 0;
    const std::string* name = tools::jit_symbol((*r)[1], 0x7f0000001010, &offset);
    ASSERT_NE(name, nullptr);
    EXPECT_EQ(*name, "JS:*hot /srv/app.js:3:14");
    EXPECT_EQ(offset, 0x10u);
    EXPECT_EQ(tools::jit_symbol((*r)[1], 0x7f0000001040, &offset), nullptr);
    for (const std::string& p : {a, b, out}) std::filesystem::remove(p);
}
