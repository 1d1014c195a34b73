// The doctor's measuring code on functions whose stack use is known exactly, and on this machine's
// vDSO (repeatability, fallback detection).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tracer/format/segment_format.h"
#include "tools/vdso_doctor/clock_service.h"
#include "tools/vdso_doctor/code_scan.h"
#include "tools/vdso_doctor/stack_need.h"
#include "tools/vdso_doctor/vdso_inspect.h"
#include "tools/vdso_doctor/vdso_needs.h"

using namespace vdsotrace::doctor;

// Synthetic functions: a frame of N bytes touched at its lowest byte, so the need is N + 8 (the
// return address). The probed one has the shape of the 2017 vDSO (sub $0x1038; orq $0,(%rsp)).
extern "C" void frame_24(), frame_4096(), frame_probe_0x1038(), frame_push3_sub40();
asm(R"(
    .text
frame_24:
    sub $24, %rsp
    movq $0, (%rsp)
    add $24, %rsp
    ret
frame_4096:
    sub $4096, %rsp
    movq $0, (%rsp)
    add $4096, %rsp
    ret
frame_probe_0x1038:
    sub $0x1038, %rsp
    orq $0x0, (%rsp)
    add $0x1038, %rsp
    ret
frame_push3_sub40:
    push %rbp
    push %rbx
    push %r12
    sub $40, %rsp
    movq $0, (%rsp)
    add $40, %rsp
    pop %r12
    pop %rbx
    pop %rbp
    ret
frame_end:
)");
extern "C" char frame_end[];

TEST(StackNeed, SyntheticFramesMeasuredExactly) {
    ASSERT_TRUE(stack_need_supported());
    EXPECT_EQ(measure_stack_need(reinterpret_cast<const void*>(&frame_24), {}).bytes, 24u + 8);
    EXPECT_EQ(measure_stack_need(reinterpret_cast<const void*>(&frame_4096), {}).bytes, 4096u + 8);
    EXPECT_EQ(measure_stack_need(reinterpret_cast<const void*>(&frame_probe_0x1038), {}).bytes, 0x1038u + 8);
    const StackNeed n = measure_stack_need(reinterpret_cast<const void*>(&frame_push3_sub40), {});
    EXPECT_TRUE(n.measured);
    EXPECT_TRUE(n.repeatable);
    EXPECT_EQ(n.bytes, 8u + 24 + 40);
    EXPECT_TRUE(n.problem.empty()) << n.problem;
}

TEST(StackNeed, TooDeepIsSaidSo) {
    const StackNeed n = measure_stack_need(reinterpret_cast<const void*>(&frame_4096), {}, 1024);
    EXPECT_FALSE(n.measured);
    EXPECT_NE(n.problem.find("more than 1024"), std::string::npos);
}

TEST(CodeScan, FindsProbeAndFrames) {
    auto* probe = reinterpret_cast<const unsigned char*>(&frame_probe_0x1038);
    CodeScan s = scan_code(probe, 18, 0x1000);
    ASSERT_TRUE(s.scanned) << s.problem;
    EXPECT_EQ(s.max_frame, 0x1038u);
    ASSERT_EQ(s.probes.size(), 1u);
    EXPECT_EQ(s.probes[0].offset, 7u);  // after the 7-byte sub
    EXPECT_EQ(s.probes[0].frame_before, 0x1038u);
    EXPECT_TRUE(s.large_frame());

    auto* pushes = reinterpret_cast<const unsigned char*>(&frame_push3_sub40);
    s = scan_code(pushes, size_t(frame_end - reinterpret_cast<const char*>(pushes)), 0);
    EXPECT_EQ(s.pushes, 3u);
    EXPECT_EQ(s.max_frame, 40u);
    EXPECT_EQ(s.estimate(), 8u + 24 + 40);
    EXPECT_TRUE(s.probes.empty());
}

TEST(VdsoNeeds, RepeatableOnThisMachine) {
    std::string error;
    auto info = inspect_vdso(0, &error);
    if (!info) GTEST_SKIP() << error;
    const auto first = vdso_needs(*info, true);
    const auto second = vdso_needs(*info, true);
    ASSERT_EQ(first.size(), second.size());
    ASSERT_FALSE(first.empty());
    for (size_t i = 0; i < first.size(); ++i) {
        SCOPED_TRACE(first[i].function);
        ASSERT_TRUE(first[i].need.measured) << first[i].need.problem;
        EXPECT_TRUE(first[i].need.repeatable);
        EXPECT_EQ(first[i].need.bytes, second[i].need.bytes);
        EXPECT_EQ(first[i].need.bytes % 8, 0u);
        EXPECT_GE(first[i].need.bytes, 8u);  // at least the return address
    }
}

TEST(ClockService, CpuTimeFallsBackMonotonicDoesNot) {
    const ClockService s = measure_clock_service(200);
    const ServiceRow* mono = nullptr;
    const ServiceRow* cpu = nullptr;
    for (const ServiceRow& r : s.rows) {
        if (r.function != "clock_gettime") continue;
        if (r.clock_id == 1) mono = &r;
        if (r.clock_id == 2) cpu = &r;
    }
    ASSERT_TRUE(mono && cpu);
    if (!mono->in_vdso) GTEST_SKIP() << "no vDSO clock_gettime here";
    EXPECT_EQ(s.method, "seccomp") << s.note;
    EXPECT_TRUE(cpu->fallback);
    // MONOTONIC is served by the vDSO unless the clocksource has no vDSO mode.
    std::string error;
    auto info = inspect_vdso(0, &error);
    ASSERT_TRUE(info);
    if (info->clocksource == "tsc" || info->clocksource == "kvm-clock" || info->clocksource == "arch_sys_counter") {
        EXPECT_FALSE(mono->fallback);
    }
}

TEST(VdsoInspect, SymbolsMatchLookup) {
    std::string error;
    auto info = inspect_vdso(0, &error);
    if (!info) GTEST_SKIP() << error;
    const Mapping* m = info->vdso();
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(info->image.size(), m->end - m->start);
    EXPECT_EQ(memcmp(info->image.data(), reinterpret_cast<const void*>(m->start), info->image.size()), 0);
    bool found = false;
    for (const VdsoSymbol& s : info->symbols)
        if (s.name == "__vdso_clock_gettime") {
            found = true;
            EXPECT_EQ(s.version, "LINUX_2.6");
            EXPECT_GT(s.size, 0u);
        }
    EXPECT_TRUE(found);
    EXPECT_EQ(info->build_id.size(), 40u);
}
