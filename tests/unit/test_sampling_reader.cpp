// The reader on the stack-sampling sections (kinds 4-6): exact stacks, counts and ring contents
// from a recording laid out by the writer's own code, torn and lapped ring entries counted as
// missed, and hostile sizes and offsets refused with a message rather than read.
#include <unistd.h>

#include <gtest/gtest.h>

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

constexpr unsigned kCounter = f::counter_index(f::kClockGettime, 1);

using vdsotrace::testing::TestRecording;

// One thread; stacks 5 (3 frames) and 9 (2 frames); counts 40 and 2; lost 1 + 3; a 4-entry
// ring that logged 6 samples, of which entry n=4 is torn and n=5 was lapped.
TestRecording sampling_image() {
    tr::Settings s = vdsotrace::testing::small_settings();
    s.sample = 1;
    s.stacks = 64;
    s.stack_counts = 16;
    s.sample_ring = 4;
    TestRecording img(s);
    f::Header* h = img.header();
    tr::Segment& seg = img.seg;
    img.live_thread(0, 77);
    img.unattributed(0)[kCounter] = 46;

    const uint64_t frames[] = {0x401000, 0x402000, 0x403000, 0x404000, 0x405000};
    memcpy(seg.frames, frames, sizeof frames);
    seg.stacks[5] = {0x1234, 0, 3, f::kStackReady};
    seg.stacks[9] = {0x5678, 3, 2, f::kStackReady};
    seg.stacks[10] = {0x9abc, 0, 0, f::kStackWriting};  // being written: not read
    h->sampling.stacks_claimed = 3;
    h->sampling.frames_claimed = 5;

    unsigned char* slot = seg.sample_slots;
    auto* sh = reinterpret_cast<f::SampleSlotHeader*>(slot);
    sh->sampled = 46;
    sh->lost_no_unwinder = 1;
    sh->lost_reentered = 3;
    auto* counts = reinterpret_cast<f::StackCount*>(slot + f::kSampleCountsOffset);
    counts[2] = {f::stack_count_key(kCounter, 5), 40};
    counts[7] = {f::stack_count_key(kCounter, 9), 2};
    sh->ring_written = 6;
    auto* ring = reinterpret_cast<f::RingEntry*>(slot + f::sample_ring_offset(s.stack_counts));
    ring[2] = {2 * 2 + 2, 1000, 5, kCounter, 77, 0};  // n = 2
    ring[3] = {2 * 3 + 2, 2000, 9, kCounter, 77, 0};  // n = 3
    ring[0] = {2 * 4 + 1, 3000, 5, kCounter, 77, 0};  // n = 4, torn (odd)
    ring[1] = {2 * 9 + 2, 4000, 5, kCounter, 77, 0};  // n = 5 expected, n = 9 found: lapped
    return img;
}

}  // namespace

TEST(SamplingReader, ReadsStacksCountsAndRing) {
    TestRecording img = sampling_image();
    std::string error;
    auto r = parse_recording(img.bytes, "test", &error);
    ASSERT_TRUE(r.has_value()) << error;
    const auto& s = r->sampling;
    EXPECT_TRUE(s.enabled);
    EXPECT_EQ(s.period, 1u);
    EXPECT_EQ(s.max_depth, 64u);
    EXPECT_EQ(s.unwinder, uint32_t(f::kUnwinderCfi));  // the default: the unwind tables
    ASSERT_EQ(s.stacks.size(), 64u);
    EXPECT_EQ(s.stacks[5], (std::vector<uint64_t>{0x401000, 0x402000, 0x403000}));
    EXPECT_EQ(s.stacks[9], (std::vector<uint64_t>{0x404000, 0x405000}));
    EXPECT_TRUE(s.stacks[10].empty());
    ASSERT_EQ(r->threads.size(), 1u);
    const auto& t = r->threads[0];
    ASSERT_EQ(t.stack_counts.size(), 2u);
    EXPECT_EQ(t.stack_counts[0].stack, 5u);
    EXPECT_EQ(t.stack_counts[0].calls, 40u);
    EXPECT_EQ(t.stack_counts[1].stack, 9u);
    EXPECT_EQ(t.stack_counts[1].calls, 2u);
    EXPECT_EQ(t.samples.sampled, 46u);
    EXPECT_EQ(t.samples.lost_no_unwinder, 1u);
    EXPECT_EQ(t.samples.lost_reentered, 3u);
    EXPECT_EQ(t.ring_written, 6u);
    ASSERT_EQ(t.ring.size(), 2u);
    EXPECT_EQ(t.ring[0].monotonic_ns, 1000u);
    EXPECT_EQ(t.ring[1].stack, 9u);
    EXPECT_EQ(t.ring_missed, 2u);
}

TEST(SamplingReader, CountsOnAStackNotYetVisibleAreUnreadableNotLost) {
    TestRecording img = sampling_image();
    tr::Segment& seg = img.seg;
    auto* counts = reinterpret_cast<f::StackCount*>(seg.sample_slots + f::kSampleCountsOffset);
    counts[4] = {f::stack_count_key(kCounter, 10), 4};  // stack 10 is still being written
    std::string error;
    auto r = parse_recording(img.bytes, "test", &error);
    ASSERT_TRUE(r.has_value()) << error;
    EXPECT_EQ(r->threads[0].samples.unreadable, 4u);
    EXPECT_EQ(r->threads[0].stack_counts.size(), 2u);
}

TEST(SamplingReader, RefusesHostileLayouts) {
    TestRecording img = sampling_image();
    tr::Segment& seg = img.seg;
    seg.stacks[5].first_frame = seg.header->sampling.frame_capacity - 1;  // 3 frames from the last one
    EXPECT_NE(refusal(img.bytes).find("outside the"), std::string::npos);

    img = sampling_image();
    seg.stacks[5].depth = 0;
    EXPECT_NE(refusal(img.bytes).find("outside the"), std::string::npos);

    img = sampling_image();
    reinterpret_cast<f::StackCount*>(seg.sample_slots + f::kSampleCountsOffset)[0] = {
        f::stack_count_key(kCounter, 64), 1};  // stack id beyond the table
    EXPECT_NE(refusal(img.bytes).find("corrupt stack count"), std::string::npos);

    img = sampling_image();
    reinterpret_cast<f::StackCount*>(seg.sample_slots + f::kSampleCountsOffset)[0] = {
        (uint64_t(200) << 32) | 5, 1};  // counter beyond the counters
    EXPECT_NE(refusal(img.bytes).find("corrupt stack count"), std::string::npos);

    img = sampling_image();
    img.header()->sampling.count_capacity = 1u << 30;
    EXPECT_NE(refusal(img.bytes).find("impossible sampling layout"), std::string::npos);

    img = sampling_image();
    img.section(f::kSectionSampleSlots)->entry_size = 64;  // too small for its counts and ring
    EXPECT_NE(refusal(img.bytes).find("impossible sampling layout"), std::string::npos);

    img = sampling_image();
    img.section(f::kSectionStackFrames)->count = uint64_t(1) << 58;
    EXPECT_NE(refusal(img.bytes).find("runs past the end"), std::string::npos);

    img = sampling_image();
    img.section(f::kSectionStacks)->kind = 99;  // as if a section went missing
    EXPECT_NE(refusal(img.bytes).find("lacks one of"), std::string::npos);

    img = sampling_image();
    // The shared overflow slot (index 1) has calls, so it is read; its sample slot is missing.
    img.unattributed(1)[kCounter] = 1;
    img.section(f::kSectionSampleSlots)->count = 1;
    EXPECT_NE(refusal(img.bytes).find("fewer than the thread table"), std::string::npos);
}

TEST(SamplingReader, SurvivesRandomCorruptionOfTheSamplingSections) {
    const TestRecording good = sampling_image();
    TestRecording probe = sampling_image();
    const size_t from = probe.section(f::kSectionStacks)->offset;
    std::mt19937 rng(3);
    int accepted = 0;
    for (int round = 0; round < 3000; ++round) {
        auto b = good.bytes;
        const int flips = 1 + int(rng() % 8);
        for (int i = 0; i < flips; ++i) {
            const size_t at = rng() % 3 == 0 ? offsetof(f::Header, sampling) + rng() % 64
                                             : from + rng() % (b.size() - from);
            b[at] = static_cast<unsigned char>(rng());
        }
        std::string error;
        accepted += parse_recording(b, "fuzz", &error).has_value();
    }
    EXPECT_GT(accepted, 0);
}

// `ls` and `top` read recordings without their sampled stacks: the same process, threads and
// counts, no stacks; a file that is not a recording gets the full reader's message.
TEST(SamplingReader, SummaryLeavesOutOnlyTheSampledStacks) {
    TestRecording img = sampling_image();
    char path[] = "/tmp/vdsotrace-summary-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, img.bytes.data(), img.bytes.size()), ssize_t(img.bytes.size()));
    close(fd);
    std::string error;
    auto full = vdsotrace::tools::load_recording(path, &error);
    auto summary = vdsotrace::tools::load_recording_summary(path, &error);
    ASSERT_TRUE(full.has_value() && summary.has_value()) << error;
    EXPECT_TRUE(full->sampling.enabled);
    EXPECT_FALSE(summary->sampling.enabled);
    EXPECT_TRUE(summary->sampling.stacks.empty());
    ASSERT_EQ(summary->threads.size(), 1u);
    EXPECT_EQ(summary->threads[0].tid, 77);
    EXPECT_EQ(summary->totals(), full->totals());
    EXPECT_EQ(summary->totals()[kCounter], 46u);
    EXPECT_EQ(summary->pid, full->pid);
    EXPECT_EQ(summary->exe, full->exe);
    EXPECT_EQ(summary->modules.size(), full->modules.size());
    EXPECT_EQ(summary->vdso_image, full->vdso_image);

    ASSERT_EQ(truncate(path, 100), 0);
    std::string full_error, summary_error;
    EXPECT_FALSE(vdsotrace::tools::load_recording(path, &full_error).has_value());
    EXPECT_FALSE(vdsotrace::tools::load_recording_summary(path, &summary_error).has_value());
    EXPECT_EQ(summary_error, full_error);
    unlink(path);
}
