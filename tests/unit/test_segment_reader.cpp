// The reader on good, odd and hostile recordings: it accepts what it understands, skips what a
// newer minor version adds, and refuses the rest with a message, never reading out of bounds
// (run under ASan in the sanitizer build to make that last part bite).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/blank_recording.h"
#include "tests/unit/reader_refusal.h"
#include "tracer/engine/segment_create.h"
#include "tracer/format/segment_format.h"
#include "tools/recordings/segment_reader.h"

namespace f = vdsotrace::format;
namespace tr = vdsotrace::tracer;
using vdsotrace::testing::refusal;
using vdsotrace::tools::parse_recording;

namespace {

// A valid two-thread recording built with the writer's own layout code.
std::vector<unsigned char> valid_image() {
    vdsotrace::testing::TestRecording rec(vdsotrace::testing::small_settings(2), 64);
    f::Header* h = rec.header();
    h->pid = 4242;
    h->state = f::kStateExited;
    h->exit_value = 3;
    strcpy(h->session, "s1");
    strcpy(h->exe, "/usr/bin/example");
    memcpy(h->cmdline, "example\0--flag\0", 15);
    h->cmdline_size = 15;
    strcpy(rec.live_thread(0, 4242)->name, "example");
    rec.unattributed(0)[f::counter_index(f::kClockGettime, 1)] = 7;
    rec.callers(0)[3] = {f::caller_key(f::counter_index(f::kClockGettime, 1), 0x401234), 70};
    f::ModuleEntry& m = rec.seg.modules[0];
    m.state = f::kModuleReady;
    m.start = 0x400000;
    m.end = 0x500000;
    strcpy(m.path, "/usr/bin/example");
    return std::move(rec.bytes);
}

f::Header* header(std::vector<unsigned char>& b) { return reinterpret_cast<f::Header*>(b.data()); }

}  // namespace

TEST(SegmentReader, ReadsAValidRecording) {
    std::string error;
    auto r = parse_recording(valid_image(), "test", &error);
    ASSERT_TRUE(r.has_value()) << error;
    EXPECT_EQ(r->pid, 4242);
    EXPECT_EQ(r->session, "s1");
    EXPECT_EQ(r->exe, "/usr/bin/example");
    EXPECT_EQ(r->argv, (std::vector<std::string>{"example", "--flag"}));
    EXPECT_EQ(r->state, uint32_t(f::kStateExited));
    EXPECT_EQ(r->exit_value, 3);
    ASSERT_EQ(r->threads.size(), 1u);  // one claimed slot; the empty shared slot is left out
    EXPECT_EQ(r->threads[0].tid, 4242);
    EXPECT_EQ(r->threads[0].name, "example");
    EXPECT_EQ(r->threads[0].total(), 77u);
    ASSERT_EQ(r->threads[0].callers.size(), 1u);
    EXPECT_EQ(r->threads[0].callers[0].address, 0x401234u);
    EXPECT_EQ(r->threads[0].callers[0].calls, 70u);
    EXPECT_EQ(r->threads[0].unattributed[f::counter_index(f::kClockGettime, 1)], 7u);
    ASSERT_EQ(r->modules.size(), 1u);
    EXPECT_EQ(r->modules[0].path, "/usr/bin/example");
    EXPECT_EQ(r->vdso_image.size(), 64u);
}

TEST(SegmentReader, RefusesGarbageAndShortInput) {
    EXPECT_NE(refusal({}).find("too short"), std::string::npos);
    std::vector<unsigned char> garbage(8192);
    std::mt19937 rng(1);
    for (auto& c : garbage) c = static_cast<unsigned char>(rng());
    EXPECT_NE(refusal(garbage).find("wrong magic"), std::string::npos);
}

TEST(SegmentReader, RefusesOtherMajorVersionsNamingBoth) {
    auto b = valid_image();
    header(b)->major = 9;
    header(b)->minor = 0;
    const std::string e = refusal(b);
    EXPECT_NE(e.find("version 9.0"), std::string::npos) << e;
    EXPECT_NE(e.find("versions 1.x to 2.x"), std::string::npos) << e;
}

TEST(SegmentReader, AcceptsNewerMinorAndSkipsUnknownSections) {
    auto b = valid_image();
    header(b)->minor = 7;
    f::SectionEntry& extra = header(b)->sections[header(b)->section_count++];
    extra = {99, 8, 4096, 2};
    std::string error;
    auto r = parse_recording(b, "test", &error);
    ASSERT_TRUE(r.has_value()) << error;
    EXPECT_EQ(r->minor, 7);
    EXPECT_EQ(r->threads[0].total(), 77u);
}

// Minor 4: getrandom's calls, by caller and unattributed (kept in the slot header).
TEST(SegmentReader, ReadsGetrandomCalls) {
    auto b = valid_image();
    tr::Segment seg;
    tr::bind_segment(header(b), &seg);
    auto* sh = reinterpret_cast<f::ThreadSlotHeader*>(seg.threads);
    sh->unattributed_getrandom = 5;
    auto* callers = reinterpret_cast<f::CallerEntry*>(seg.threads + f::kSlotCallersOffset);
    callers[9] = {f::caller_key(f::counter_index(f::kGetrandom, 0), 0x401300), 40};
    std::string error;
    auto r = parse_recording(b, "test", &error);
    ASSERT_TRUE(r.has_value()) << error;
    const unsigned c = f::counter_index(f::kGetrandom, 0);
    EXPECT_EQ(r->threads[0].unattributed[c], 5u);
    EXPECT_EQ(r->threads[0].counts[c], 45u);
    EXPECT_EQ(r->threads[0].total(), 77u + 45u);
    EXPECT_EQ(r->totals()[c], 45u);
}

// A counter a newer minor adds (a function this reader does not know) is skipped, not refused;
// in a recording of this reader's minor or older it is corruption.
TEST(SegmentReader, SkipsCountersOfNewerMinorsOnly) {
    auto b = valid_image();
    tr::Segment seg;
    tr::bind_segment(header(b), &seg);
    auto* callers = reinterpret_cast<f::CallerEntry*>(seg.threads + f::kSlotCallersOffset);
    callers[11] = {f::caller_key(f::kCounterSlots, 0x401400), 9};
    header(b)->minor = f::kMinor + 1;
    std::string error;
    auto r = parse_recording(b, "test", &error);
    ASSERT_TRUE(r.has_value()) << error;
    EXPECT_EQ(r->threads[0].total(), 77u);
    header(b)->minor = f::kMinor;
    EXPECT_NE(refusal(b).find("corrupt caller entry"), std::string::npos);
    header(b)->major = 1;  // 1.4 is older than 2.0, whatever its minor says
    header(b)->minor = 4;
    EXPECT_NE(refusal(b).find("corrupt caller entry"), std::string::npos);
}

// The reaper and the last activity came with 2.2 and, on the 1.x line, with 1.6, at the same
// offsets: read from those versions on, and not from older ones, whatever the bytes hold.
TEST(SegmentReader, ReadsTheReaperFrom2_2And1_6Only) {
    auto b = valid_image();
    header(b)->reaped_by = 4242;
    header(b)->last_activity_monotonic_ns = 123456789;
    const struct { uint16_t major, minor; bool has; } versions[] = {
        {2, 2, true}, {2, 3, true}, {1, 6, true}, {1, 7, true}, {2, 1, false}, {2, 0, false}, {1, 5, false}};
    for (const auto& v : versions) {
        header(b)->major = v.major;
        header(b)->minor = v.minor;
        std::string error;
        auto r = parse_recording(b, "test", &error);
        ASSERT_TRUE(r.has_value()) << v.major << "." << v.minor << ": " << error;
        EXPECT_EQ(r->reaped_by, v.has ? 4242 : 0) << v.major << "." << v.minor;
        EXPECT_EQ(r->last_activity_monotonic_ns, v.has ? 123456789u : 0u) << v.major << "." << v.minor;
    }
}

TEST(SegmentReader, RefusesTruncationOfAFormat1RecordingAtEveryPageBoundary) {
    auto full = valid_image();
    header(full)->major = 1;  // format 1: the file is always the whole layout
    for (size_t size = 0; size < full.size(); size += 512) {
        std::vector<unsigned char> cut(full.begin(), full.begin() + long(size));
        const std::string e = refusal(cut);
        EXPECT_TRUE(e.find("too short") != std::string::npos || e.find("truncated") != std::string::npos)
            << size << ": " << e;
    }
}

// Format 2: the file is a prefix of the layout that grows while the program runs. Every prefix
// reads; an entry not wholly in it counts as never written (the thread's 77 calls are all there or
// not at all), and nothing past the file is read (ASan in the sanitizer build).
TEST(SegmentReader, ReadsEveryPrefixOfAGrowingRecording) {
    const auto full = valid_image();
    tr::Segment seg;
    std::vector<unsigned char> copy = full;
    tr::bind_segment(reinterpret_cast<f::Header*>(copy.data()), &seg);
    const size_t slot_end = size_t(seg.threads - copy.data()) + seg.slot_size;
    const size_t module_end = size_t(reinterpret_cast<unsigned char*>(seg.modules) - copy.data()) + sizeof(f::ModuleEntry);
    std::vector<size_t> sizes = {slot_end - 1, slot_end, module_end - 1, module_end, full.size()};
    for (size_t size = sizeof(f::Header); size < full.size(); size += 509) sizes.push_back(size);
    for (size_t size : sizes) {
        std::vector<unsigned char> cut(full.begin(), full.begin() + long(size));
        std::string error;
        auto r = parse_recording(cut, "test", &error);
        ASSERT_TRUE(r.has_value()) << size << ": " << error;
        EXPECT_EQ(r->threads.size(), size >= slot_end ? 1u : 0u) << size;
        if (!r->threads.empty()) {
            EXPECT_EQ(r->threads[0].total(), 77u) << size;
        }
        EXPECT_EQ(r->modules.size(), size >= module_end ? 1u : 0u) << size;
    }
    std::vector<unsigned char> longer = full;
    longer.resize(full.size() + 4096);
    EXPECT_NE(refusal(longer).find("padded or corrupt"), std::string::npos);
}

// ... but a file shorter than what its writer had reserved (backed_size) was cut, not caught
// growing: refused, not read as a recording with fewer calls.
TEST(SegmentReader, RefusesAGrowingRecordingCutShortOfWhatWasReserved) {
    auto full = valid_image();
    header(full)->backed_size = uint32_t(full.size() - 8192);
    for (size_t size : {sizeof(f::Header), full.size() - 8192 - 1, full.size() - 8192, full.size()}) {
        std::vector<unsigned char> cut(full.begin(), full.begin() + long(size));
        std::string error;
        const bool read = parse_recording(cut, "test", &error).has_value();
        EXPECT_EQ(read, size >= full.size() - 8192) << size << ": " << error;
        if (!read) {
            EXPECT_NE(error.find("truncated"), std::string::npos) << error;
        }
    }
}

TEST(SegmentReader, RefusesOutOfRangeSections) {
    auto b = valid_image();
    header(b)->sections[0].offset = ~uint64_t(0) - 10;
    EXPECT_NE(refusal(b).find("runs past the end"), std::string::npos);
    b = valid_image();
    header(b)->sections[0].count = uint64_t(1) << 60;
    EXPECT_NE(refusal(b).find("runs past the end"), std::string::npos);
    b = valid_image();
    header(b)->section_count = 1000;
    EXPECT_NE(refusal(b).find("corrupt header"), std::string::npos);
    b = valid_image();
    header(b)->caller_capacity = 0;
    EXPECT_NE(refusal(b).find("impossible thread table"), std::string::npos);
    b = valid_image();
    header(b)->byte_order = 0x04030201;
    EXPECT_NE(refusal(b).find("byte order"), std::string::npos);
}

TEST(SegmentReader, ClampsCountsItCannotTrust) {
    auto b = valid_image();
    header(b)->threads_claimed = ~uint64_t(0);  // more than there are slots
    header(b)->cmdline_size = ~uint32_t(0);
    std::string error;
    auto r = parse_recording(b, "test", &error);
    ASSERT_TRUE(r.has_value()) << error;
    // Only the claimed slot: the second was never claimed (state free), the shared one is empty.
    EXPECT_EQ(r->threads.size(), 1u);
}

TEST(SegmentReader, SurvivesRandomCorruption) {
    // Bounded fuzzing: flips bytes of the header and tables; any answer is fine but a crash.
    const auto good = valid_image();
    std::mt19937 rng(20261127);
    int accepted = 0;
    for (int round = 0; round < 3000; ++round) {
        auto b = good;
        const int flips = 1 + int(rng() % 8);
        for (int i = 0; i < flips; ++i) {
            const size_t at = rng() % 2 ? rng() % 600 : rng() % b.size();
            b[at] = static_cast<unsigned char>(rng());
        }
        std::string error;
        accepted += parse_recording(b, "fuzz", &error).has_value();
    }
    EXPECT_GT(accepted, 0);  // flips in unused bytes leave a valid recording
}

// The exited-threads slot and the thread log (process trees): checked like every other section.
namespace {
f::SectionEntry* section_of(std::vector<unsigned char>& b, uint32_t kind) {
    for (uint32_t i = 0; i < header(b)->section_count; ++i)
        if (header(b)->sections[i].kind == kind) return &header(b)->sections[i];
    return nullptr;
}
}  // namespace

TEST(SegmentReader, ReadsTheThreadLogAndRefusesImpossibleExitedThreadSections) {
    auto b = valid_image();
    f::SectionEntry* log = section_of(b, f::kSectionThreadLog);
    f::SectionEntry* exited = section_of(b, f::kSectionExitedThreads);
    ASSERT_NE(log, nullptr);
    ASSERT_NE(exited, nullptr);
    auto* entry = reinterpret_cast<f::ExitedThreadEntry*>(b.data() + log->offset);
    *entry = {1, 77, 5, {'g', 'o', 'n', 'e'}};
    reinterpret_cast<uint64_t*>(b.data() + exited->offset + f::kSlotUnattributedOffset)[0] = 5;
    header(b)->tree.threads_logged = 1;
    std::string error;
    auto r = parse_recording(b, "test", &error);
    ASSERT_TRUE(r.has_value()) << error;
    ASSERT_EQ(r->exited_threads.size(), 1u);
    EXPECT_EQ(r->exited_threads[0].tid, 77);
    EXPECT_EQ(r->exited_threads[0].name, "gone");
    uint64_t recycled = 0;
    for (const auto& t : r->threads)
        if (t.recycled) recycled += t.total();
    EXPECT_EQ(recycled, 5u);

    auto c = b;
    header(c)->tree.threads_logged = ~uint32_t(0);  // more than the log holds: clamped
    EXPECT_TRUE(parse_recording(c, "test", &error).has_value()) << error;
    c = b;
    section_of(c, f::kSectionThreadLog)->count = uint64_t(1) << 58;
    EXPECT_NE(refusal(c).find("runs past the end"), std::string::npos);
    c = b;
    section_of(c, f::kSectionExitedThreads)->count = 2;
    EXPECT_NE(refusal(c).find("impossible exited-threads slot"), std::string::npos);
    c = b;
    section_of(c, f::kSectionExitedThreads)->offset = c.size() - 8;
    EXPECT_NE(refusal(c).find("runs past the end"), std::string::npos);
}

// A sparse file (a live segment's entries never reserved are holes) reads exactly as its bytes:
// the parts it holds read, the holes zeros, whether a hole is inside or at the end.
TEST(SegmentReader, ReadsASparseFileAsItsBytes) {
    const std::string path = "/dev/shm/vdsotrace-test-sparse-" + std::to_string(getpid());
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    std::vector<unsigned char> want(200 * 1024, 0);
    for (size_t i = 0; i < 5000; ++i) want[i] = static_cast<unsigned char>(i * 7 + 1);          // data, then a hole
    for (size_t i = 96 * 1024; i < 100 * 1024; ++i) want[i] = static_cast<unsigned char>(i);   // a page inside
    ASSERT_EQ(pwrite(fd, want.data(), 5000, 0), 5000);
    ASSERT_EQ(pwrite(fd, want.data() + 96 * 1024, 4096, 96 * 1024), 4096);
    ASSERT_EQ(ftruncate(fd, off_t(want.size())), 0);  // a hole to the end
    close(fd);
    std::vector<unsigned char> got(7, 0xee);  // a reused buffer's old bytes must not show through
    std::string error;
    ASSERT_TRUE(vdsotrace::tools::read_recording_file(path, &got, &error)) << error;
    EXPECT_EQ(got.size(), want.size());
    EXPECT_TRUE(got == want);
    got.assign(want.size(), 0xee);
    ASSERT_TRUE(vdsotrace::tools::read_recording_file(path, &got, &error)) << error;
    EXPECT_TRUE(got == want);
    unlink(path.c_str());
}

// The recordings of one session see one vDSO: its image is held once however many are read (run
// held 8 KiB per process), and an image that differs is its own copy.
TEST(SegmentReader, RecordingsOfTheSameVdsoShareOneCopyOfItsImage) {
    const auto with_vdso = [](unsigned char fill) {
        std::vector<unsigned char> b = valid_image();
        f::Header* h = header(b);
        for (uint32_t i = 0; i < h->section_count; ++i)
            if (h->sections[i].kind == f::kSectionVdsoImage)
                memset(b.data() + h->sections[i].offset, fill, h->sections[i].count);
        return b;
    };
    std::string error;
    auto a = parse_recording(with_vdso(0x5a), "a", &error);
    auto b = parse_recording(with_vdso(0x5a), "b", &error);
    auto c = parse_recording(with_vdso(0x33), "c", &error);
    ASSERT_TRUE(a && b && c) << error;
    ASSERT_EQ(a->vdso_image.size(), 64u);
    EXPECT_EQ(a->vdso_image.bytes(), std::vector<unsigned char>(64, 0x5a));
    EXPECT_EQ(c->vdso_image.bytes(), std::vector<unsigned char>(64, 0x33));
    EXPECT_TRUE(a->vdso_image.same_copy(b->vdso_image));
    EXPECT_FALSE(a->vdso_image.same_copy(c->vdso_image));
    EXPECT_FALSE(a->vdso_image == c->vdso_image);
    // A copy outlives the recordings that shared it only while one holds it.
    a.reset();
    b.reset();
    auto d = parse_recording(with_vdso(0x5a), "d", &error);
    ASSERT_TRUE(d) << error;
    EXPECT_EQ(d->vdso_image.bytes(), std::vector<unsigned char>(64, 0x5a));
}
