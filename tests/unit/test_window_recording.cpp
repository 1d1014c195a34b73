// A later attach's window: the shim's recording after the window less what it held before
// (tools/attach/window_recording.h), read back by the real reader.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tools/attach/window_recording.h"
#include "tests/unit/blank_recording.h"
#include "tracer/engine/segment_create.h"
#include "tracer/format/segment_format.h"
#include "tools/recordings/segment_reader.h"

namespace f = vdsotrace::format;
namespace tr = vdsotrace::tracer;
using vdsotrace::attach::subtract_baseline;

namespace {

struct Image {
    std::vector<unsigned char> bytes;
    tr::Segment seg;
    f::Header* header() { return reinterpret_cast<f::Header*>(bytes.data()); }
    unsigned char* slot(uint32_t i) { return seg.threads + size_t(i) * seg.slot_size; }
    f::ThreadSlotHeader* slot_header(uint32_t i) { return reinterpret_cast<f::ThreadSlotHeader*>(slot(i)); }
    f::CallerEntry* callers(unsigned char* s) { return reinterpret_cast<f::CallerEntry*>(s + f::kSlotCallersOffset); }
    uint64_t* unattributed(unsigned char* s, unsigned counter) {
        return reinterpret_cast<uint64_t*>(s + f::slot_unattributed_offset(counter));
    }
};

Image blank() {
    tr::Settings s;
    s.threads = 2;
    s.callers = 16;
    s.modules = 8;
    Image im;
    im.bytes = vdsotrace::testing::blank_recording(s, 0);
    im.header()->pid = 77;
    im.header()->tree.segment_id = 0x1234;
    tr::bind_segment(im.header(), &im.seg);
    return im;
}

void live_thread(Image& im, uint32_t index, int tid) {
    im.slot_header(index)->state = f::kThreadLive;
    im.slot_header(index)->tid = tid;
    if (im.header()->threads_claimed <= index) im.header()->threads_claimed = index + 1;
}

const unsigned kMono = f::counter_index(f::kClockGettime, 1);
const unsigned kRandom = f::counter_index(f::kGetrandom, 0);

vdsotrace::tools::Recording parse(const std::vector<unsigned char>& bytes) {
    std::string error;
    auto r = vdsotrace::tools::parse_recording(bytes, "window", &error);
    EXPECT_TRUE(r) << error;
    return r ? *r : vdsotrace::tools::Recording{};
}

}  // namespace

TEST(WindowRecording, SameThreadCountsLessTheirBaseline) {
    Image before = blank();
    live_thread(before, 0, 10);
    before.callers(before.slot(0))[3] = {f::caller_key(kMono, 0x401000), 100};
    *before.unattributed(before.slot(0), kMono) = 5;
    *before.unattributed(before.slot(0), kRandom) = 2;
    Image after = before;
    tr::bind_segment(after.header(), &after.seg);
    after.callers(after.slot(0))[3].count = 130;
    after.callers(after.slot(0))[4] = {f::caller_key(kRandom, 0x402000), 7};
    *after.unattributed(after.slot(0), kMono) = 6;
    *after.unattributed(after.slot(0), kRandom) = 3;
    std::string why;
    ASSERT_TRUE(subtract_baseline(before.bytes, &after.bytes, &why)) << why;
    const auto r = parse(after.bytes);
    ASSERT_EQ(r.threads.size(), 1u);
    EXPECT_EQ(r.threads[0].counts[kMono], 31u);   // 30 by caller, 1 unattributed
    EXPECT_EQ(r.threads[0].counts[kRandom], 8u);  // 7 by caller, 1 unattributed
    EXPECT_EQ(r.threads[0].unattributed[kRandom], 1u);
}

// A thread that exited during the window gave its slot back: its counts were folded into the
// exited threads' slot, where its baseline is taken from; the slot's new thread keeps its own.
TEST(WindowRecording, ExitedThreadsBaselineComesOffTheExitedSlot) {
    Image before = blank();
    live_thread(before, 0, 10);
    before.callers(before.slot(0))[3] = {f::caller_key(kMono, 0x401000), 100};
    ASSERT_NE(before.seg.exited_slot, nullptr);
    Image after = blank();
    live_thread(after, 0, 11);  // the recycled slot, taken by a new thread
    after.callers(after.slot(0))[8] = {f::caller_key(kMono, 0x403000), 9};
    after.callers(after.seg.exited_slot)[5] = {f::caller_key(kMono, 0x401000), 150};  // 100 + 50 in the window
    std::string why;
    ASSERT_TRUE(subtract_baseline(before.bytes, &after.bytes, &why)) << why;
    const auto r = parse(after.bytes);
    uint64_t exited = 0, live = 0;
    for (const auto& t : r.threads) (t.recycled ? exited : live) += t.counts[kMono];
    EXPECT_EQ(exited, 50u);
    EXPECT_EQ(live, 9u);
}

TEST(WindowRecording, AnotherRecordingIsRefused) {
    Image before = blank();
    Image after = blank();
    after.header()->tree.segment_id = 0x9999;
    const std::vector<unsigned char> unchanged = after.bytes;
    std::string why;
    EXPECT_FALSE(subtract_baseline(before.bytes, &after.bytes, &why));
    EXPECT_EQ(why, "not the same recording");
    EXPECT_EQ(after.bytes, unchanged);
}

// Format 2: the segment's file (and the memory attach can read) grows between the two reads. The
// baseline is the shorter prefix; a thread slot past its end held nothing then.
TEST(WindowRecording, BaselineReadBeforeTheRecordingGrew) {
    Image after = blank();
    live_thread(after, 0, 10);
    live_thread(after, 1, 12);
    after.callers(after.slot(0))[3] = {f::caller_key(kMono, 0x401000), 100};
    after.callers(after.slot(1))[2] = {f::caller_key(kMono, 0x404000), 25};
    Image before = after;
    tr::bind_segment(before.header(), &before.seg);
    before.callers(before.slot(0))[3].count = 60;
    const size_t cut = size_t(after.slot(1) - after.bytes.data());  // the second slot came later
    before.bytes.resize(cut);
    before.header()->threads_claimed = 1;
    std::string why;
    ASSERT_TRUE(subtract_baseline(before.bytes, &after.bytes, &why)) << why;
    const auto r = parse(after.bytes);
    uint64_t first = 0, second = 0;
    for (const auto& t : r.threads) (t.tid == 10 ? first : t.tid == 12 ? second : first) += t.counts[kMono];
    EXPECT_EQ(first, 40u);
    EXPECT_EQ(second, 25u);
    // A recording never shrinks: a longer baseline is refused.
    std::vector<unsigned char> shorter(after.bytes.begin(), after.bytes.begin() + long(cut));
    EXPECT_FALSE(subtract_baseline(after.bytes, &shorter, &why));
    EXPECT_EQ(why, "the recording shrank");
}
