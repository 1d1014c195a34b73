// The reader on the doctor's additions: the crash record section (round trip, hostile sizes) and
// the doctor's header fields.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/unit/blank_recording.h"
#include "tracer/format/segment_format.h"
#include "tools/recordings/segment_reader.h"

namespace f = vdsotrace::format;
using vdsotrace::tools::parse_recording;

namespace {

vdsotrace::testing::TestRecording recording_with_crash(bool written) {
    vdsotrace::testing::TestRecording rec;
    f::Header* h = rec.header();
    h->doctor.routes[f::kGettimeofday] = f::kRouteSyscall;
    h->doctor.from_vdso[f::kClockGettime] = 1;
    h->doctor.crash_handlers = 1;
    h->doctor.filled = 1;
    EXPECT_NE(rec.seg.crash, nullptr);
    f::CrashRecord& c = *rec.seg.crash;
    c.signal = 11;
    c.code = 2;
    c.tid = 77;
    c.where = f::kCrashInVdso;
    c.flags = f::kCrashStackKnown | f::kCrashFaultInGuard;
    c.fault_address = 0x7000fff8;
    c.pc = 0x7fff0000af4;
    c.sp = 0x70010000;
    c.stack_start = 0x70010000;
    c.stack_end = 0x70011000;
    c.return_count = 2;
    c.returns[0] = 0x401234;
    c.return_slots[0] = 0x70010018;
    c.returns[1] = 0x405678;
    c.return_slots[1] = 0x70010048;
    c.stack_word_count = 3;
    c.stack_words[2] = 0xabc;
    c.state = written ? 1 : 0;
    return rec;
}

}  // namespace

TEST(DoctorReader, CrashRecordRoundTrip) {
    std::string error;
    auto r = parse_recording(recording_with_crash(true).bytes, "test", &error);
    ASSERT_TRUE(r) << error;
    ASSERT_TRUE(r->crash);
    EXPECT_EQ(r->crash->signal, 11);
    EXPECT_EQ(r->crash->tid, 77);
    EXPECT_TRUE(r->crash->in_vdso);
    EXPECT_TRUE(r->crash->stack_known);
    EXPECT_TRUE(r->crash->fault_in_guard);
    EXPECT_EQ(r->crash->fault_address, 0x7000fff8u);
    EXPECT_EQ(r->crash->returns, (std::vector<uint64_t>{0x401234, 0x405678}));
    EXPECT_EQ(r->crash->return_slots, (std::vector<uint64_t>{0x70010018, 0x70010048}));
    EXPECT_EQ(r->crash->stack_words, (std::vector<uint64_t>{0, 0, 0xabc}));
    EXPECT_EQ(r->doctor.routes[f::kGettimeofday], f::kRouteSyscall);
    EXPECT_EQ(r->doctor.from_vdso[f::kClockGettime], 1);
}

TEST(DoctorReader, UnwrittenCrashRecordIsNoCrash) {
    std::string error;
    auto r = parse_recording(recording_with_crash(false).bytes, "test", &error);
    ASSERT_TRUE(r) << error;
    EXPECT_FALSE(r->crash);
}

TEST(DoctorReader, HostileCountsAreClamped) {
    auto rec = recording_with_crash(true);
    rec.seg.crash->return_count = 1000;
    rec.seg.crash->stack_word_count = 1000000;
    std::string error;
    auto r = parse_recording(rec.bytes, "test", &error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(r->crash->returns.size(), size_t(f::kCrashReturns));
    EXPECT_EQ(r->crash->stack_words.size(), size_t(f::kCrashStackWords));
}

TEST(DoctorReader, RefusesCrashSectionPastTheEndOrTooSmall) {
    auto rec = recording_with_crash(true);
    rec.section(f::kSectionCrash)->offset = rec.bytes.size() - 100;
    std::string error;
    EXPECT_FALSE(parse_recording(rec.bytes, "test", &error));
    EXPECT_NE(error.find("crash record"), std::string::npos) << error;

    rec = recording_with_crash(true);
    rec.section(f::kSectionCrash)->entry_size = 64;
    EXPECT_FALSE(parse_recording(rec.bytes, "test", &error));
    EXPECT_NE(error.find("crash record"), std::string::npos) << error;
}
