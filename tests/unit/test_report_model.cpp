// build_report is a pure function of the recordings and the facts about the reading machine
// passed in (tools/report/machine_facts.h): a recording written to disk and read back reports
// exactly what the facts given imply, whatever machine runs the test. The recording claims this
// very process (alive, with a thread of ours) and this machine's own vDSO, so a model that looked
// at /proc or measured the vDSO itself would report otherwise than the facts say.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/blank_recording.h"
#include "tools/recordings/recording_archive.h"
#include "tools/render/report_output.h"
#include "tools/report/report_model.h"
#include "tools/vdso_doctor/vdso_inspect.h"
#include "tracer/engine/segment_create.h"
#include "tracer/format/segment_format.h"

namespace f = vdsotrace::format;
namespace tr = vdsotrace::tracer;
namespace tools = vdsotrace::tools;

namespace {

constexpr uint64_t kStart = 1'000'000'000'000;  // the recording's start, monotonic ns

// This machine's running vDSO, byte for byte.
std::vector<unsigned char> live_vdso() {
    std::string error;
    auto self = vdsotrace::doctor::inspect_vdso(0, &error);
    return self ? self->image : std::vector<unsigned char>();
}

// A recording of this process, still running (no end written), one thread (ours) named
// "recorded-name": 1000 CLOCK_MONOTONIC calls from /nonexistent/example+0x1234, 5 of
// CLOCK_PROCESS_CPUTIME_ID from +0x1300; written to a file and read back. `adjust` changes the
// header before it is written.
std::vector<tools::Recording> recording_on_disk(const std::string& path, const std::vector<unsigned char>& vdso,
                                                const std::function<void(f::Header*)>& adjust = {}) {
    tr::Settings s;
    s.threads = 2;
    s.callers = 16;
    s.modules = 8;
    std::vector<unsigned char> bytes = vdsotrace::testing::blank_recording(s, vdso.size());
    auto* h = reinterpret_cast<f::Header*>(bytes.data());
    h->pid = getpid();
    h->ppid = 1;
    h->uid = getuid();
    h->state = f::kStateRunning;
    h->start_monotonic_ns = kStart;
    strcpy(h->session, "puretest");
    strcpy(h->exe, "/nonexistent/example");
    memcpy(h->cmdline, "example\0", 8);
    h->cmdline_size = 8;
    h->threads_claimed = 1;
    for (uint32_t i = 0; i < h->section_count; ++i)
        if (h->sections[i].kind == f::kSectionVdsoImage)
            memcpy(bytes.data() + h->sections[i].offset, vdso.data(), vdso.size());
    tr::Segment seg;
    tr::bind_segment(h, &seg);
    auto* sh = reinterpret_cast<f::ThreadSlotHeader*>(seg.threads);
    sh->state = f::kThreadLive;
    sh->tid = int32_t(syscall(SYS_gettid));
    strcpy(sh->name, "recorded-name");
    auto* callers = reinterpret_cast<f::CallerEntry*>(seg.threads + f::kSlotCallersOffset);
    callers[0] = {f::caller_key(f::counter_index(f::kClockGettime, CLOCK_MONOTONIC), 0x401234), 1000};
    callers[1] = {f::caller_key(f::counter_index(f::kClockGettime, CLOCK_PROCESS_CPUTIME_ID), 0x401300), 5};
    seg.modules[0].state = f::kModuleReady;
    seg.modules[0].start = 0x400000;
    seg.modules[0].end = 0x500000;
    strcpy(seg.modules[0].path, "/nonexistent/example");
    if (adjust) adjust(h);

    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    std::string error;
    auto recordings = tools::load_recordings(path, &error);
    EXPECT_TRUE(recordings.has_value()) << error;
    return recordings ? *recordings : std::vector<tools::Recording>{};
}

std::string text_of(const tools::Report& r) {
    std::ostringstream out;
    tools::write_text(r, tools::TextOptions{10, false}, out);
    return out.str();
}

// The lines of `text` from the one starting with `first` up to the next empty line.
std::string section(const std::string& text, const std::string& first) {
    const size_t at = text.find("\n" + first);
    if (at == std::string::npos) return "";
    const size_t end = text.find("\n\n", at + 1);
    return text.substr(at + 1, end == std::string::npos ? std::string::npos : end - at);
}

// The fallback row of the 5 CPU-time calls: known to enter the kernel on any machine.
const std::string kCpuTimeRow =
    "  clock_gettime CLOCK_PROCESS_CPUTIME_ID (2): 5 calls: CPU-time clocks are always read by the kernel\n"
    "    suggestion: if these calls time intervals rather than CPU use, CLOCK_MONOTONIC is served by the vDSO; if "
    "CPU time is what is needed, consider reading it less often\n";

// The Processes section of the text report for this process, with its fate and duration.
std::string processes_section(const std::string& fate_and_time) {
    return "Processes\n  pid " + std::to_string(getpid()) + " (parent 1): example\n    " + fate_and_time + "\n";
}

class ReportModel : public ::testing::Test {
protected:
    void SetUp() override {
        vdso_ = live_vdso();
        if (vdso_.empty()) GTEST_SKIP() << "no vDSO in this process";
        path_ = ::testing::TempDir() + "report_model_" + std::to_string(getpid()) + ".vdsotrace";
        recordings_ = recording_on_disk(path_, vdso_);
        ASSERT_EQ(recordings_.size(), 1u);
    }
    void TearDown() override { std::remove(path_.c_str()); }

    std::vector<unsigned char> vdso_;
    std::string path_;
    std::vector<tools::Recording> recordings_;
};

}  // namespace

// No facts: as if read on another machine. The live process, thread and vDSO are not looked at.
TEST_F(ReportModel, WithoutFactsReportsOnlyWhatTheRecordingSays) {
    const tools::Report r = tools::build_report(recordings_);
    ASSERT_EQ(r.processes.size(), 1u);
    EXPECT_EQ(r.processes[0].fate, tools::ProcessFate::kVanished);  // alive in truth: not asked
    EXPECT_EQ(r.processes[0].seconds, 0);
    ASSERT_EQ(r.threads.size(), 1u);
    EXPECT_EQ(r.threads[0].name, "recorded-name");
    EXPECT_EQ(r.total_calls, 1005u);
    EXPECT_EQ(r.fallbacks.basis, tools::FallbackBasis::kOtherVdso);  // the same vDSO in truth: not probed
    const std::string text = text_of(r);
    EXPECT_EQ(section(text, "Calls that entered the kernel"),
              std::string("Calls that entered the kernel instead of the vDSO\n"
              "  (recorded with another vDSO (another machine or kernel): only calls known to enter the kernel "
              "everywhere are listed, without costs)\n") +
                  kCpuTimeRow);
    EXPECT_EQ(section(text, "Processes"),
              processes_section("vanished without ending: killed by a signal no traced parent reaped, or exec'd an "
                                "untraced program, 1,005 calls over 0 us"));
}

// Facts given: the process runs, its thread is called "live-name", this machine's clocksource has
// no vDSO mode (so CLOCK_MONOTONIC entered the kernel at 500 ns a call) and CLOCK_MONOTONIC_COARSE
// (4 ms resolution) is served at 5 ns. The report says exactly that, however this machine is.
TEST_F(ReportModel, ReportsExactlyWhatTheFactsGiven) {
    tools::MachineFacts facts;
    facts.now_monotonic_ns = kStart + 2'000'000'000;
    facts.running.insert(recordings_[0].source);
    facts.thread_names[{recordings_[0].pid, recordings_[0].threads[0].tid}] = "live-name";
    facts.vdso_image = vdso_;
    tools::ClockFacts clocks;
    clocks.service.method = "seccomp";
    vdsotrace::doctor::ServiceRow mono;
    mono.function = "clock_gettime";
    mono.clock_id = CLOCK_MONOTONIC;
    mono.in_vdso = true;
    mono.known = true;
    mono.fallback = true;
    mono.syscall_ns = 500;
    vdsotrace::doctor::ServiceRow coarse = mono;
    coarse.clock_id = CLOCK_MONOTONIC_COARSE;
    coarse.fallback = false;
    coarse.vdso_ns = 5;
    clocks.service.rows = {mono, coarse};
    clocks.clocksource_fallback = true;
    facts.clocks = clocks;
    facts.resolution_ns[CLOCK_MONOTONIC_COARSE] = 4'000'000;

    const tools::Report r = tools::build_report(recordings_, facts);
    ASSERT_EQ(r.processes.size(), 1u);
    EXPECT_EQ(r.processes[0].fate, tools::ProcessFate::kRunning);
    EXPECT_EQ(r.processes[0].seconds, 2.0);
    ASSERT_EQ(r.threads.size(), 1u);
    EXPECT_EQ(r.threads[0].name, "live-name");
    EXPECT_EQ(r.fallbacks.basis, tools::FallbackBasis::kSeccomp);
    const std::string text = text_of(r);
    EXPECT_EQ(section(text, "Calls that entered the kernel"),
              std::string("Calls that entered the kernel instead of the vDSO\n"
              "  (which calls enter the kernel was measured on this machine (exactly, with a seccomp filter))\n"
              "  clock_gettime CLOCK_MONOTONIC (1): 1,000 calls, 500 ns each here, 500 us in all: the clocksource has "
              "no vDSO mode here: the vDSO passes every such call to the kernel\n"
              "    suggestion: consider CLOCK_MONOTONIC_COARSE where a resolution of 4 ms is enough (served by the "
              "vDSO: 5 ns a call here)\n") +
                  kCpuTimeRow);
    EXPECT_EQ(section(text, "Processes"), processes_section("still running, 1,005 calls over 2.00 s"));
    const std::string threads = section(text, "Threads");
    EXPECT_NE(threads.find("live-name"), std::string::npos) << threads;
    // The JSON renderer writes the same words.
    const auto j = tools::to_json(r);
    ASSERT_EQ(j["fallbacks"].size(), 2u);
    EXPECT_EQ(j["fallbacks"][0]["reason"],
              "the clocksource has no vDSO mode here: the vDSO passes every such call to the kernel");
    EXPECT_EQ(j["fallbacks"][0]["suggested_ns_per_call"], 5.0);
    EXPECT_EQ(j["fallbacks_note"], "which calls enter the kernel was measured on this machine (exactly, with a seccomp filter)");
}

// Format minor 6: a process killed by a signal whose traced parent reaped it (the shim's wait
// hooks wrote the signal and the parent's pid): the report names the signal and the reaper.
TEST_F(ReportModel, ReaperOfAKilledProcessIsNamed) {
    const auto recordings = recording_on_disk(path_, vdso_, [](f::Header* h) {
        h->state = f::kStateSignaled;
        h->exit_value = 9;
        h->reaped_by = 4242;
    });
    ASSERT_EQ(recordings.size(), 1u);
    EXPECT_EQ(recordings[0].reaped_by, 4242);
    const tools::Report r = tools::build_report(recordings);
    ASSERT_EQ(r.processes.size(), 1u);
    EXPECT_EQ(r.processes[0].fate, tools::ProcessFate::kSignaled);
    EXPECT_EQ(section(text_of(r), "Processes"),
              processes_section("killed by SIGKILL (reaped by PID 4242), 1,005 calls over 0 us"));
    const auto j = tools::to_json(r);
    EXPECT_EQ(j["processes"][0]["exit"]["signal"], 9);
    EXPECT_EQ(j["processes"][0]["reaped_by"], 4242);
}

// A process that wrote its own exit code has no reaper, whatever the field holds.
TEST_F(ReportModel, OwnExitCodeHasNoReaper) {
    const auto recordings = recording_on_disk(path_, vdso_, [](f::Header* h) {
        h->state = f::kStateExited;
        h->exit_value = 7;
    });
    const tools::Report r = tools::build_report(recordings);
    ASSERT_EQ(r.processes.size(), 1u);
    EXPECT_EQ(section(text_of(r), "Processes"), processes_section("exited with code 7, 1,005 calls over 0 us"));
    EXPECT_FALSE(tools::to_json(r)["processes"][0].contains("reaped_by"));
}

// Format minor 6: a process nobody saw end ran at least until the last activity its recording
// proves; the report gives that as a lower bound, for the process and for the run it ends.
TEST_F(ReportModel, KilledProcessRunsUntilItsLastActivity) {
    const auto recordings = recording_on_disk(path_, vdso_, [](f::Header* h) {
        h->last_activity_monotonic_ns = kStart + 1'500'000'000;
    });
    const tools::Report r = tools::build_report(recordings);  // no facts: not running, vanished
    ASSERT_EQ(r.processes.size(), 1u);
    EXPECT_EQ(r.processes[0].fate, tools::ProcessFate::kVanished);
    EXPECT_EQ(r.processes[0].seconds, 1.5);
    EXPECT_TRUE(r.processes[0].seconds_at_least);
    EXPECT_EQ(r.seconds, 1.5);
    EXPECT_TRUE(r.seconds_at_least);
    const std::string text = text_of(r);
    EXPECT_EQ(text.substr(0, text.find('\n', text.find("calls in"))).substr(text.find("1,005 vDSO")),
              "1,005 vDSO time calls in at least 1.50 s");
    EXPECT_EQ(section(text, "Processes"),
              processes_section("vanished without ending: killed by a signal no traced parent reaped, or exec'd an "
                                "untraced program, 1,005 calls over at least 1.50 s (until its last recorded activity)"));
    const auto j = tools::to_json(r);
    EXPECT_EQ(j["processes"][0]["seconds_at_least"], true);
    EXPECT_EQ(j["seconds_at_least"], true);
}
