// Pins the recording format's layout: every offset and size a reader on another build relies on.
// A change here is a format change: bump format::kMajor (moved or changed field) or kMinor (added).
#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "tracer/format/segment_format.h"
#include "tracer/format/segment_layout.h"

namespace f = vdsotrace::format;

TEST(SegmentFormat, UnwinderValues) {
    EXPECT_EQ(f::kUnwinderNone, 0);
    EXPECT_EQ(f::kUnwinderLibunwind, 1);
    EXPECT_EQ(f::kUnwinderFramePointer, 2);
    EXPECT_EQ(f::kUnwinderCfi, 3);  // 2.1 (1.5 on the 1.x line)
    EXPECT_EQ(offsetof(f::Header::Sampling, unwinder), 8u);
}

TEST(SegmentFormat, VersionAndMagic) {
    EXPECT_EQ(f::kMajor, 2);  // 2.0: the file grows as a prefix of the layout
    EXPECT_EQ(f::kMinor, 2);  // 2.1: kUnwinderCfi; 2.2: reaped_by, last_activity_monotonic_ns
    EXPECT_EQ(f::kOldestMajorRead, 1);
    EXPECT_EQ(std::string(f::kMagic, 7), "VDSOTRC");
    EXPECT_EQ(f::kByteOrderMark, 0x01020304u);
}

TEST(SegmentFormat, HeaderOffsets) {
    EXPECT_EQ(sizeof(f::Header), 4096u);
    EXPECT_EQ(offsetof(f::Header, magic), 0u);
    EXPECT_EQ(offsetof(f::Header, major), 8u);
    EXPECT_EQ(offsetof(f::Header, minor), 10u);
    EXPECT_EQ(offsetof(f::Header, header_size), 12u);
    EXPECT_EQ(offsetof(f::Header, byte_order), 16u);
    EXPECT_EQ(offsetof(f::Header, section_count), 20u);
    EXPECT_EQ(offsetof(f::Header, segment_size), 24u);
    EXPECT_EQ(offsetof(f::Header, sections), 32u);
    EXPECT_EQ(offsetof(f::Header, pid), 416u);
    EXPECT_EQ(offsetof(f::Header, ppid), 420u);
    EXPECT_EQ(offsetof(f::Header, uid), 424u);
    EXPECT_EQ(offsetof(f::Header, flags), 428u);
    EXPECT_EQ(offsetof(f::Header, proc_start_ticks), 432u);
    EXPECT_EQ(offsetof(f::Header, start_realtime_ns), 440u);
    EXPECT_EQ(offsetof(f::Header, start_monotonic_ns), 448u);
    EXPECT_EQ(offsetof(f::Header, state), 456u);
    EXPECT_EQ(offsetof(f::Header, exit_value), 460u);
    EXPECT_EQ(offsetof(f::Header, end_monotonic_ns), 464u);
    EXPECT_EQ(offsetof(f::Header, end_realtime_ns), 472u);
    EXPECT_EQ(offsetof(f::Header, thread_capacity), 480u);
    EXPECT_EQ(offsetof(f::Header, caller_capacity), 484u);
    EXPECT_EQ(offsetof(f::Header, module_capacity), 488u);
    EXPECT_EQ(offsetof(f::Header, backed_size), 492u);  // 2.0
    EXPECT_EQ(offsetof(f::Header, threads_claimed), 496u);
    EXPECT_EQ(offsetof(f::Header, modules_claimed), 504u);
    EXPECT_EQ(offsetof(f::Header, session), 512u);
    EXPECT_EQ(offsetof(f::Header, exe), 560u);
    EXPECT_EQ(offsetof(f::Header, cmdline_size), 1584u);
    EXPECT_EQ(offsetof(f::Header, cmdline), 1588u);
    EXPECT_EQ(offsetof(f::Header, tree), 3636u);
    EXPECT_EQ(offsetof(f::ProcessTree, segment_id), 0u);
    EXPECT_EQ(offsetof(f::ProcessTree, parent_segment_id), 8u);
    EXPECT_EQ(offsetof(f::ProcessTree, parent_pid), 16u);
    EXPECT_EQ(offsetof(f::ProcessTree, tree_flags), 20u);
    EXPECT_EQ(offsetof(f::ProcessTree, parent_start_ticks), 24u);
    EXPECT_EQ(offsetof(f::ProcessTree, previous_image_id), 32u);
    EXPECT_EQ(offsetof(f::ProcessTree, exec_monotonic_ns), 40u);
    EXPECT_EQ(offsetof(f::ProcessTree, threads_logged), 48u);
    EXPECT_EQ(offsetof(f::ProcessTree, slots_recycled), 52u);
    EXPECT_EQ(offsetof(f::ExitedThreadEntry, tid), 4u);
    EXPECT_EQ(offsetof(f::ExitedThreadEntry, calls), 8u);
    EXPECT_EQ(offsetof(f::ExitedThreadEntry, name), 16u);
    EXPECT_EQ(f::kSectionExitedThreads, 12u);
    EXPECT_EQ(f::kSectionThreadLog, 13u);
    EXPECT_EQ(offsetof(f::Header, doctor), 3700u);
    EXPECT_EQ(sizeof(f::DoctorHeader), 64u);
    EXPECT_EQ(sizeof(f::CrashRecord), 512u);
    EXPECT_EQ(offsetof(f::DoctorHeader, routes), 0u);
    EXPECT_EQ(offsetof(f::DoctorHeader, from_vdso), 8u);
    EXPECT_EQ(offsetof(f::DoctorHeader, crash_handlers), 16u);
    EXPECT_EQ(offsetof(f::DoctorHeader, filled), 20u);
    EXPECT_EQ(sizeof(f::HeadroomEntry), 32u);
    EXPECT_EQ(offsetof(f::HeadroomEntry, min_headroom), 8u);
    EXPECT_EQ(unsigned(f::kSectionCrash), 9u);
    EXPECT_EQ(unsigned(f::kSectionHeadroom), 10u);
    EXPECT_EQ(offsetof(f::CrashRecord, return_count), 144u);
    EXPECT_EQ(offsetof(f::CrashRecord, fault_address), 24u);
    EXPECT_EQ(offsetof(f::CrashRecord, returns), 80u);
    EXPECT_EQ(offsetof(f::CrashRecord, stack_words), 152u);
    EXPECT_EQ(offsetof(f::Header, sampling), 3764u);
    EXPECT_EQ(sizeof(f::Header::Sampling), 64u);
    EXPECT_EQ(offsetof(f::Header, reaped_by), 3828u);  // 2.2; 1.6 at the same offset
    EXPECT_EQ(offsetof(f::Header, last_activity_monotonic_ns), 3832u);
    EXPECT_EQ(offsetof(f::Header, reserved), 3840u);
}

TEST(SegmentFormat, SectionModuleThreadLayouts) {
    EXPECT_EQ(sizeof(f::SectionEntry), 24u);
    EXPECT_EQ(offsetof(f::SectionEntry, entry_size), 4u);
    EXPECT_EQ(offsetof(f::SectionEntry, offset), 8u);
    EXPECT_EQ(offsetof(f::SectionEntry, count), 16u);

    EXPECT_EQ(sizeof(f::ModuleEntry), 512u);
    EXPECT_EQ(offsetof(f::ModuleEntry, load_bias), 8u);
    EXPECT_EQ(offsetof(f::ModuleEntry, start), 16u);
    EXPECT_EQ(offsetof(f::ModuleEntry, end), 24u);
    EXPECT_EQ(offsetof(f::ModuleEntry, build_id_size), 32u);
    EXPECT_EQ(offsetof(f::ModuleEntry, build_id), 40u);
    EXPECT_EQ(offsetof(f::ModuleEntry, path), 72u);

    EXPECT_EQ(sizeof(f::ThreadSlotHeader), 64u);
    EXPECT_EQ(offsetof(f::ThreadSlotHeader, tid), 4u);
    EXPECT_EQ(offsetof(f::ThreadSlotHeader, name), 8u);
    EXPECT_EQ(offsetof(f::ThreadSlotHeader, claimed_monotonic_ns), 24u);
    EXPECT_EQ(offsetof(f::ThreadSlotHeader, unattributed_getrandom), 32u);  // minor 4
    EXPECT_EQ(offsetof(f::ThreadSlotHeader, reserved), 40u);
    EXPECT_EQ(f::kSlotUnattributedCounters, 90);
    EXPECT_EQ(f::kCounterSlots, 91);
    EXPECT_EQ(f::kSlotUnattributedOffset, 64u);
    EXPECT_EQ(f::kSlotCallersOffset, 64u + 90 * 8);
    EXPECT_EQ(f::thread_slot_size(256), 64u + 90 * 8 + 256 * 16);
    EXPECT_EQ(f::slot_unattributed_offset(0), 64u);
    EXPECT_EQ(f::slot_unattributed_offset(89), 64u + 89 * 8);
    EXPECT_EQ(f::slot_unattributed_offset(90), 32u);  // getrandom: in the slot header
}

TEST(SegmentFormat, WrapperSites) {
    EXPECT_EQ(f::kSectionWrapperSites, 20u);
    EXPECT_EQ(f::kWrapperSiteCapacity, 254u);
    EXPECT_EQ(sizeof(f::WrapperSiteEntry), 128u);
    EXPECT_EQ(offsetof(f::WrapperSiteEntry, state), 0u);
    EXPECT_EQ(offsetof(f::WrapperSiteEntry, depth), 4u);
    EXPECT_EQ(offsetof(f::WrapperSiteEntry, address), 8u);
    EXPECT_EQ(offsetof(f::WrapperSiteEntry, name), 16u);
    EXPECT_EQ(f::kSectionPythonSites, 21u);
    EXPECT_EQ(f::kSectionRuntimes, 22u);
    EXPECT_EQ(f::kPythonSiteTag, uint64_t(1) << 47);
    EXPECT_EQ(sizeof(f::PythonSiteEntry), 256u);
    EXPECT_EQ(offsetof(f::PythonSiteEntry, line), 4u);
    EXPECT_EQ(offsetof(f::PythonSiteEntry, first_line), 8u);
    EXPECT_EQ(offsetof(f::PythonSiteEntry, function), 16u);
    EXPECT_EQ(offsetof(f::PythonSiteEntry, file), 128u);
    EXPECT_EQ(sizeof(f::RuntimeEntry), 256u);
    EXPECT_EQ(offsetof(f::RuntimeEntry, version), 4u);
    EXPECT_EQ(offsetof(f::RuntimeEntry, name), 8u);
    EXPECT_EQ(offsetof(f::RuntimeEntry, reason), 64u);
}

TEST(SegmentFormat, RetiredCallers) {
    EXPECT_EQ(f::kSectionRetiredCallers, 23u);
    EXPECT_EQ(f::kModuleUnloaded, 4u);
    EXPECT_EQ(f::kFlagRetiredFull, 1u << 9);
    EXPECT_EQ(f::kRetiredCallerCapacity, 1024u);
    EXPECT_EQ(sizeof(f::RetiredCallerEntry), 32u);
    EXPECT_EQ(offsetof(f::RetiredCallerEntry, state), 0u);
    EXPECT_EQ(offsetof(f::RetiredCallerEntry, tid), 4u);
    EXPECT_EQ(offsetof(f::RetiredCallerEntry, module), 8u);
    EXPECT_EQ(offsetof(f::RetiredCallerEntry, key), 16u);
    EXPECT_EQ(offsetof(f::RetiredCallerEntry, count), 24u);
    // A tombstone is a wrapper mark (readers of every minor skip it) whose address has the
    // Python tag: no live key, direct, through a wrapper or a mark, ever equals it.
    const uint64_t key = f::caller_key(1, 0x7f00deadbeefull);
    const uint64_t tomb = f::retired_tombstone(key);
    EXPECT_EQ(f::caller_via(tomb), f::kViaWrapperMark);
    EXPECT_EQ(f::caller_counter(tomb), 1u);
    EXPECT_EQ(f::caller_address(tomb), 0x7f00deadbeefull | f::kPythonSiteTag);
    EXPECT_EQ(f::retired_tombstone(f::caller_key(1, 0x7f00deadbeefull, 3)), tomb);
    EXPECT_NE(tomb, f::caller_key(1, 0x7f00deadbeefull, f::kViaWrapperMark));
}

TEST(SegmentFormat, CounterAndCallerKeys) {
    EXPECT_EQ(f::counter_index(f::kClockGettime, 1), 1u);
    EXPECT_EQ(f::counter_index(f::kGettimeofday, 0), 18u);
    EXPECT_EQ(f::counter_index(f::kClockGetres, f::kBucketInvalid), 89u);
    EXPECT_EQ(f::clock_bucket(0), 0);
    EXPECT_EQ(f::clock_bucket(15), 15);
    EXPECT_EQ(f::clock_bucket(16), f::kBucketInvalid);
    EXPECT_EQ(f::clock_bucket(-6), f::kBucketDynamicCpu);
    EXPECT_EQ(f::counter_function(89), f::kClockGetres);
    EXPECT_EQ(f::counter_bucket(89), f::kBucketInvalid);
    const uint64_t key = f::caller_key(89, 0x7fffdeadbeefull);
    EXPECT_EQ(f::caller_counter(key), 89u);
    EXPECT_EQ(f::caller_address(key), 0x7fffdeadbeefull);
    EXPECT_NE(f::caller_key(0, 0), 0u);  // 0 means "empty entry"
    EXPECT_EQ(f::caller_via(key), 0u);
    // Minor 1: the wrapper site a call came through sits in bits 48-55.
    const uint64_t via = f::caller_key(5, 0x7fffdeadbeefull, 3);
    EXPECT_EQ(via, (uint64_t(6) << 56) | (uint64_t(3) << 48) | 0x7fffdeadbeefull);
    EXPECT_EQ(f::caller_counter(via), 5u);
    EXPECT_EQ(f::caller_via(via), 3u);
    EXPECT_EQ(f::caller_address(via), 0x7fffdeadbeefull);
    EXPECT_EQ(f::caller_via(f::caller_key(5, 1, f::kViaWrapperMark)), 255u);
    EXPECT_EQ(f::kCallerAddressMask, (uint64_t(1) << 48) - 1);
    EXPECT_STREQ(f::kClockNames[11], "CLOCK_TAI");
    EXPECT_STREQ(f::kFunctionNames[f::kGetcpu], "getcpu");
    // Minor 4: getrandom, one counter after the clock functions' 90, no clock id.
    EXPECT_EQ(int(f::kGetrandom), 5);
    EXPECT_EQ(int(f::kFunctionCount), 5);
    EXPECT_EQ(int(f::kCountedFunctions), 6);
    EXPECT_EQ(f::counter_index(f::kGetrandom, 0), 90u);
    EXPECT_EQ(f::counter_function(90), f::kGetrandom);
    EXPECT_EQ(f::counter_bucket(90), 0);
    EXPECT_FALSE(f::function_takes_clock(f::kGetrandom));
    EXPECT_EQ(f::caller_counter(f::caller_key(90, 0x401000)), 90u);
    EXPECT_STREQ(f::kFunctionNames[f::kGetrandom], "getrandom");
}

// Format 2's layout: the sections in the order programs fill them (the file grows as a prefix of
// it), pinned for one set of capacities with and without sampling. The directory keeps format
// 1's order of kinds.
TEST(SegmentFormat, Format2LayoutOffsets) {
    struct Row {
        uint32_t kind, entry_size;
        uint64_t offset, count;
    };
    for (bool sampled : {false, true}) {
        SCOPED_TRACE(sampled ? "sampled" : "not sampled");
        f::LayoutSizes sizes;
        sizes.threads = 64;
        sizes.callers = 256;
        sizes.modules = 128;
        if (sampled) {
            sizes.sample = 100;
            sizes.sample_depth = 64;
            sizes.stacks = 4096;
            sizes.stack_counts = 1024;
            sizes.sample_ring = 64;
            sizes.unwinder = f::kUnwinderCfi;
        }
        f::Header h{};
        const size_t size = f::plan_layout(sizes, 8192, &h);
        EXPECT_EQ(size, sampled ? 2560000u : 737280u);
        // The unwinder the shim chose is named in the header as given (2.1: the unwind tables).
        EXPECT_EQ(h.sampling.unwinder, sampled ? uint32_t(f::kUnwinderCfi) : uint32_t(f::kUnwinderNone));
        EXPECT_EQ(h.sampling.period, sampled ? 100u : 0u);
        EXPECT_EQ(h.segment_size, size);
        EXPECT_EQ(h.major, 2);
        EXPECT_EQ(f::fixed_part_size(h), 24576u);  // header, crash, headroom, runtimes, exited slot, vDSO
        std::vector<Row> want = {
            {f::kSectionModules, 512, 24576, 128},
            {f::kSectionVdsoImage, 1, 12608, 8192},
            {f::kSectionThreads, 4880, 122624, 65},
        };
        if (sampled) {
            want.push_back({f::kSectionStacks, 24, 734784, 4096});
            want.push_back({f::kSectionStackFrames, 8, 833088, 65536});
            want.push_back({f::kSectionSampleSlots, 18496, 1357376, 65});
        }
        for (Row r : std::vector<Row>{{f::kSectionCrash, 512, 4096, 1},
                                      {f::kSectionExitedThreads, 4880, 7680, 1},
                                      {f::kSectionThreadLog, 32, 439872, 4096},
                                      {f::kSectionHeadroom, 32, 4608, 64},
                                      {f::kSectionWrapperSites, 128, 90112, 254},
                                      {f::kSectionPythonSites, 256, 570944, 512},
                                      {f::kSectionRuntimes, 256, 6656, 4},
                                      {f::kSectionRetiredCallers, 32, 702016, 1024}})
            want.push_back(r);
        ASSERT_EQ(h.section_count, want.size());
        for (size_t i = 0; i < want.size(); ++i) {
            SCOPED_TRACE(i);
            EXPECT_EQ(h.sections[i].kind, want[i].kind);
            EXPECT_EQ(h.sections[i].entry_size, want[i].entry_size);
            EXPECT_EQ(h.sections[i].offset, want[i].offset);
            EXPECT_EQ(h.sections[i].count, want[i].count);
            EXPECT_EQ(f::section_offset(h, want[i].kind), want[i].offset);
        }
    }
}
