// `vdsotrace export`: escaping and number formatting of the exposition formats, the exact text
// of a synthetic recording, the kernel-entry reasons, counters that never go backwards, and the
// one-line refusals of bad options.
#include <gtest/gtest.h>

#include <functional>

#include <time.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "tests/unit/blank_recording.h"
#include "tools/export/clock_metrics.h"
#include "tools/export/export_command.h"
#include "tools/export/exposition.h"
#include "tools/export/kernel_entry.h"
#include "tools/export/live_read.h"
#include "tracer/format/segment_format.h"
#include "tools/recordings/segment_reader.h"

namespace f = vdsotrace::format;
namespace ex = vdsotrace::tools::exposition;
using vdsotrace::tools::ClockMetrics;
using vdsotrace::tools::KernelEntryRules;
using vdsotrace::tools::kernel_entry_reason;
using vdsotrace::tools::Recording;

TEST(ExportEscaping, LabelValues) {
    EXPECT_EQ(ex::escape_label_value(R"(a\b"c)" "\nd"), R"(a\\b\"c\nd)");
    EXPECT_EQ(ex::escape_label_value("operator()<int>(std::vector<char, a>) x.cpp:12"),
              "operator()<int>(std::vector<char, a>) x.cpp:12");
    EXPECT_EQ(ex::escape_label_value("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
    // Not UTF-8: a stray byte, a truncated sequence, an overlong '/', a surrogate.
    EXPECT_EQ(ex::escape_label_value("a\xFFz"), "a\xEF\xBF\xBDz");
    EXPECT_EQ(ex::escape_label_value("a\xC3"), "a\xEF\xBF\xBD");
    EXPECT_EQ(ex::escape_label_value("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(ex::escape_label_value("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(ex::escape_label_value(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(ExportEscaping, HelpPerFormat) {
    EXPECT_EQ(ex::escape_help("a \"b\" c\\d\ne", ex::Format::kPrometheus), "a \"b\" c\\\\d\\ne");
    EXPECT_EQ(ex::escape_help("a \"b\" c\\d\ne", ex::Format::kOpenMetrics), "a \\\"b\\\" c\\\\d\\ne");
}

// Counters are u64 in the recording: at a billion calls a second they wrap after 584 years. The
// text keeps every digit (Prometheus reads it as a float64, exact up to 2^53).
TEST(ExportValues, LargeCountersInFull) {
    EXPECT_EQ(ex::format_value(uint64_t(0)), "0");
    EXPECT_EQ(ex::format_value(std::numeric_limits<uint64_t>::max()), "18446744073709551615");
    EXPECT_EQ(ex::format_value(uint64_t(1) << 53), "9007199254740992");
    EXPECT_EQ(ex::format_value((uint64_t(1) << 53) + 1), "9007199254740993");
    EXPECT_EQ(ex::format_value(1732912345.25), "1732912345.25");
    EXPECT_EQ(ex::format_value(0.1), "0.1");
}

TEST(ExportRender, BothFormats) {
    std::vector<ex::Family> fams = {
        {"x_calls_total", "Calls \"here\"", ex::Type::kCounter,
         {{{{"exe", "/bin/a b"}, {"caller", "f(\"q\")\\n"}}, uint64_t(18446744073709551615ull)}, {{}, uint64_t(2)}}},
        {"x_up", "Up", ex::Type::kGauge, {{{}, 1.5}}},
        {"x_empty_total", "Nothing yet", ex::Type::kCounter, {}},
    };
    EXPECT_EQ(ex::render(fams, ex::Format::kPrometheus),
              "# HELP x_calls_total Calls \"here\"\n"
              "# TYPE x_calls_total counter\n"
              "x_calls_total{exe=\"/bin/a b\",caller=\"f(\\\"q\\\")\\\\n\"} 18446744073709551615\n"
              "x_calls_total 2\n"
              "# HELP x_up Up\n"
              "# TYPE x_up gauge\n"
              "x_up 1.5\n"
              "# HELP x_empty_total Nothing yet\n"
              "# TYPE x_empty_total counter\n");
    EXPECT_EQ(ex::render(fams, ex::Format::kOpenMetrics),
              "# TYPE x_calls counter\n"
              "# HELP x_calls Calls \\\"here\\\"\n"
              "x_calls_total{exe=\"/bin/a b\",caller=\"f(\\\"q\\\")\\\\n\"} 18446744073709551615\n"
              "x_calls_total 2\n"
              "# TYPE x_up gauge\n"
              "# HELP x_up Up\n"
              "x_up 1.5\n"
              "# TYPE x_empty counter\n"
              "# HELP x_empty Nothing yet\n"
              "# EOF\n");
}

namespace {

// This machine's vDSO as a test wants it: clock_gettime on CLOCK_MONOTONIC served, the alarm
// clock passed to the kernel.
KernelEntryRules vdso_rules(bool clocksource_fallback) {
    KernelEntryRules rules;
    rules.service.method = "seccomp";
    rules.clocksource_fallback = clocksource_fallback;
    vdsotrace::doctor::ServiceRow mono;
    mono.function = "clock_gettime";
    mono.clock_id = CLOCK_MONOTONIC;
    mono.in_vdso = true;
    mono.fallback = clocksource_fallback;
    vdsotrace::doctor::ServiceRow alarm = mono;
    alarm.clock_id = CLOCK_REALTIME_ALARM;
    alarm.fallback = true;
    vdsotrace::doctor::ServiceRow tod;
    tod.function = "gettimeofday";
    tod.in_vdso = true;
    tod.fallback = clocksource_fallback;
    rules.service.rows = {mono, alarm, tod};
    return rules;
}

struct Synthetic {
    uint64_t mono_calls = 1000;      // attributed to two call sites of one function
    uint64_t tod_calls = 30;
    uint64_t cpu_unattributed = 5;   // CLOCK_PROCESS_CPUTIME_ID, caller table full
    uint64_t overflow_tod = 4;       // gettimeofday in the shared overflow slot
    bool route_gettimeofday_to_syscall = false;
    uint64_t getrandom_calls = 0;        // the vDSO's getrandom (format minor 4), at one call site
    uint64_t getrandom_unattributed = 0; // ... and in the slot header's own unattributed counter
};

// A recording image made by the writer's own layout code.
std::vector<unsigned char> synthetic_image(const Synthetic& in) {
    vdsotrace::testing::TestRecording rec(vdsotrace::testing::small_settings(2));
    f::Header* h = rec.header();
    h->pid = 4242;
    h->state = f::kStateRunning;
    h->start_realtime_ns = 1732912345250000000ull;
    h->flags = f::kFlagModulesFull | f::kFlagThreadsFull;
    strcpy(h->session, "svc.1");
    strcpy(h->exe, "/opt/my \"app\"/bin\\srv");
    h->doctor.filled = 1;
    for (int fn = 0; fn < f::kFunctionCount; ++fn) h->doctor.from_vdso[fn] = 1;
    if (in.route_gettimeofday_to_syscall) h->doctor.routes[f::kGettimeofday] = f::kRouteSyscall;
    f::ThreadSlotHeader* sh = rec.live_thread(0, 4242);
    f::CallerEntry* callers = rec.callers(0);
    const unsigned mono = f::counter_index(f::kClockGettime, CLOCK_MONOTONIC);
    const unsigned tod = f::counter_index(f::kGettimeofday, 0);
    callers[1] = {f::caller_key(mono, 0x401000), in.mono_calls - 400};
    callers[2] = {f::caller_key(mono, 0x401010), 400};
    callers[3] = {f::caller_key(tod, 0x402000), in.tod_calls};
    rec.unattributed(0)[f::counter_index(f::kClockGettime, CLOCK_PROCESS_CPUTIME_ID)] = in.cpu_unattributed;
    if (in.getrandom_calls != 0) callers[5] = {f::caller_key(f::counter_index(f::kGetrandom, 0), 0x403000), in.getrandom_calls};
    sh->unattributed_getrandom = in.getrandom_unattributed;
    // The shared overflow slot is the last of the thread section.
    rec.callers(2)[0] = {f::caller_key(tod, 0x402000), in.overflow_tod};
    return std::move(rec.bytes);
}

// The same, read back by the real reader.
Recording synthetic_recording(const Synthetic& in) {
    const std::vector<unsigned char> bytes = synthetic_image(in);
    std::string error;
    auto r = vdsotrace::tools::parse_recording(bytes, "synthetic", &error);
    EXPECT_TRUE(r) << error;
    return r ? *r : Recording{};
}

std::string synthetic_export(ClockMetrics& m, const Synthetic& in, const std::string& identity = "seg-a") {
    m.begin(vdso_rules(false));
    m.add(synthetic_recording(in), identity);
    return ex::render(m.finish(), ex::Format::kPrometheus);
}

void name_callers(ClockMetrics& m) {
    m.set_namer([](const Recording&, uint64_t address) {
        return address < 0x402000 ? std::string("Server::tick() \"hot\" srv.cpp:10") : std::string("log_line(int)");
    });
}

}  // namespace

TEST(ExportModel, SyntheticRecordingExactText) {
    ClockMetrics m(5);
    name_callers(m);
    const std::string p = "exe=\"/opt/my \\\"app\\\"/bin\\\\srv\",pid=\"4242\",session=\"svc.1\"";
    EXPECT_EQ(synthetic_export(m, {}),
              "# HELP vdsotrace_calls_total Calls to the clock functions the vDSO serves, per process, function and clock\n"
              "# TYPE vdsotrace_calls_total counter\n"
              "vdsotrace_calls_total{" + p + ",function=\"clock_gettime\",clock=\"CLOCK_MONOTONIC\"} 1000\n"
              "vdsotrace_calls_total{" + p + ",function=\"clock_gettime\",clock=\"CLOCK_PROCESS_CPUTIME_ID\"} 5\n"
              "vdsotrace_calls_total{" + p + ",function=\"gettimeofday\",clock=\"\"} 34\n"
              "# HELP vdsotrace_kernel_calls_total Of those calls, the ones that entered the kernel instead of the vDSO, and why\n"
              "# TYPE vdsotrace_kernel_calls_total counter\n"
              "vdsotrace_kernel_calls_total{" + p + ",function=\"clock_gettime\",clock=\"CLOCK_PROCESS_CPUTIME_ID\",reason=\"cpu_clock\"} 5\n"
              "# HELP vdsotrace_caller_calls_total Calls from the busiest call sites of each process (the top N: export --callers)\n"
              "# TYPE vdsotrace_caller_calls_total counter\n"
              "vdsotrace_caller_calls_total{" + p + ",function=\"clock_gettime\",clock=\"CLOCK_MONOTONIC\",caller=\"Server::tick() \\\"hot\\\" srv.cpp:10\"} 1000\n"
              "vdsotrace_caller_calls_total{" + p + ",function=\"gettimeofday\",clock=\"\",caller=\"log_line(int)\"} 34\n"
              "# HELP vdsotrace_overflow_calls_total Calls of threads beyond the recording's thread slots (counted together: raise VDSOTRACE_THREADS)\n"
              "# TYPE vdsotrace_overflow_calls_total counter\n"
              "vdsotrace_overflow_calls_total{" + p + "} 4\n"
              "# HELP vdsotrace_unattributed_calls_total Calls whose thread's caller table was full (counted, caller unknown: raise VDSOTRACE_CALLERS)\n"
              "# TYPE vdsotrace_unattributed_calls_total counter\n"
              "vdsotrace_unattributed_calls_total{" + p + "} 5\n"
              "# HELP vdsotrace_lost_samples_total Sampled calls whose stack was not kept, by reason\n"
              "# TYPE vdsotrace_lost_samples_total counter\n"
              "# HELP vdsotrace_threads_full 1 when the recording ran out of thread slots\n"
              "# TYPE vdsotrace_threads_full gauge\n"
              "vdsotrace_threads_full{" + p + "} 1\n"
              "# HELP vdsotrace_modules_full 1 when the recording's module table filled up (some callers unnamed: raise VDSOTRACE_MODULES)\n"
              "# TYPE vdsotrace_modules_full gauge\n"
              "vdsotrace_modules_full{" + p + "} 1\n"
              "# HELP vdsotrace_process_start_time_seconds When the recording started, in seconds since the epoch\n"
              "# TYPE vdsotrace_process_start_time_seconds gauge\n"
              "vdsotrace_process_start_time_seconds{" + p + "} 1732912345.25\n"
              "# HELP vdsotrace_export_recordings Live recordings in this export\n"
              "# TYPE vdsotrace_export_recordings gauge\n"
              "vdsotrace_export_recordings 1\n"
              "# HELP vdsotrace_export_unreadable_recordings Recordings listed but not readable for this export (removed or half-written meanwhile)\n"
              "# TYPE vdsotrace_export_unreadable_recordings gauge\n"
              "vdsotrace_export_unreadable_recordings 0\n"
              "# HELP vdsotrace_clocksource_kernel_fallback 1 when this machine's clocksource has no vDSO mode, so every clock call enters the kernel\n"
              "# TYPE vdsotrace_clocksource_kernel_fallback gauge\n"
              "vdsotrace_clocksource_kernel_fallback 0\n");
}

// The vDSO's getrandom (format minor 4): its own series, no clock label, never a kernel entry; its
// unattributed calls (kept in the slot header) count as unattributed.
TEST(ExportModel, GetrandomHasItsOwnSeries) {
    ClockMetrics m(5);
    name_callers(m);
    Synthetic in;
    in.getrandom_calls = 300;
    in.getrandom_unattributed = 2;
    const std::string text = synthetic_export(m, in);
    const std::string p = "exe=\"/opt/my \\\"app\\\"/bin\\\\srv\",pid=\"4242\",session=\"svc.1\"";
    EXPECT_NE(text.find("vdsotrace_calls_total{" + p + ",function=\"getrandom\",clock=\"\"} 302\n"), std::string::npos)
        << text;
    EXPECT_NE(text.find(",function=\"getrandom\",clock=\"\",caller=\"log_line(int)\"} 300\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("vdsotrace_kernel_calls_total{" + p + ",function=\"getrandom\""), std::string::npos) << text;
    EXPECT_NE(text.find("vdsotrace_unattributed_calls_total{" + p + "} 7\n"), std::string::npos) << text;
}

TEST(ExportModel, TopCallersAreBounded) {
    ClockMetrics m(1);
    name_callers(m);
    const std::string text = synthetic_export(m, {});
    EXPECT_NE(text.find("caller=\"Server::tick() \\\"hot\\\" srv.cpp:10\"} 1000\n"), std::string::npos);
    EXPECT_EQ(text.find("log_line"), std::string::npos);
    ClockMetrics none(0);
    name_callers(none);
    EXPECT_EQ(synthetic_export(none, {}).find("vdsotrace_caller_calls_total{"), std::string::npos);
}

TEST(ExportModel, RoutedCallsAreKernelEntries) {
    ClockMetrics m(0);
    name_callers(m);
    Synthetic in;
    in.route_gettimeofday_to_syscall = true;
    EXPECT_NE(synthetic_export(m, in).find(",function=\"gettimeofday\",clock=\"\",reason=\"route\"} 34\n"),
              std::string::npos);
}

// A live read can catch an exiting thread's calls in neither slot for an instant: the next
// export of the same process must not go below what was exported. A new process (another
// recording file) with the same labels starts afresh, and a process absent from one export is
// forgotten.
TEST(ExportModel, CountersNeverGoBackwardsWhileTheProcessLives) {
    ClockMetrics m(0);
    name_callers(m);
    const std::string mono = ",function=\"clock_gettime\",clock=\"CLOCK_MONOTONIC\"} ";
    EXPECT_NE(synthetic_export(m, {}).find(mono + "1000\n"), std::string::npos);
    Synthetic lower;
    lower.mono_calls = 900;
    EXPECT_NE(synthetic_export(m, lower).find(mono + "1000\n"), std::string::npos);
    Synthetic higher;
    higher.mono_calls = 1200;
    EXPECT_NE(synthetic_export(m, higher).find(mono + "1200\n"), std::string::npos);
    EXPECT_NE(synthetic_export(m, lower, "seg-b").find(mono + "900\n"), std::string::npos);  // pid reused
    m.begin(vdso_rules(false));
    EXPECT_EQ(ex::render(m.finish(), ex::Format::kPrometheus).find("vdsotrace_calls_total{"), std::string::npos);
    EXPECT_NE(synthetic_export(m, lower).find(mono + "900\n"), std::string::npos);
}

TEST(ExportKernelEntry, Reasons) {
    f::DoctorHeader d{};
    d.filled = 1;
    for (int fn = 0; fn < f::kFunctionCount; ++fn) d.from_vdso[fn] = 1;
    const KernelEntryRules here = vdso_rules(false);
    EXPECT_EQ(kernel_entry_reason(d, f::kClockGettime, CLOCK_MONOTONIC, here), "");
    EXPECT_EQ(kernel_entry_reason(d, f::kGettimeofday, 0, here), "");
    EXPECT_EQ(kernel_entry_reason(d, f::kClockGettime, CLOCK_THREAD_CPUTIME_ID, here), "cpu_clock");
    EXPECT_EQ(kernel_entry_reason(d, f::kClockGettime, f::kBucketDynamicCpu, here), "cpu_clock");
    EXPECT_EQ(kernel_entry_reason(d, f::kClockGetres, f::kBucketInvalid, here), "invalid_clock");
    EXPECT_EQ(kernel_entry_reason(d, f::kClockGettime, CLOCK_REALTIME_ALARM, here), "not_in_vdso");
    const KernelEntryRules xen = vdso_rules(true);
    EXPECT_EQ(kernel_entry_reason(d, f::kClockGettime, CLOCK_MONOTONIC, xen), "clocksource");
    EXPECT_EQ(kernel_entry_reason(d, f::kGettimeofday, 0, xen), "clocksource");
    d.routes[f::kClockGettime] = f::kRouteSyscall;
    EXPECT_EQ(kernel_entry_reason(d, f::kClockGettime, CLOCK_MONOTONIC, here), "route");
    d.from_vdso[f::kGetcpu] = 0;
    EXPECT_EQ(kernel_entry_reason(d, f::kGetcpu, 0, here), "no_vdso_function");
}

TEST(ExportOptions, BadValuesAreRefusedInOneLine) {
    using vdsotrace::tools::ExportOptionsText;
    // The one-line message for the options `set` gives (the others left at their defaults).
    auto refusal = [](const std::function<void(ExportOptionsText&)>& set) {
        ExportOptionsText t;
        set(t);
        vdsotrace::tools::ExportOptions o;
        std::string error;
        EXPECT_FALSE(vdsotrace::tools::validate_export_options(t, &o, &error));
        EXPECT_EQ(error.find('\n'), std::string::npos);
        return error;
    };
    EXPECT_EQ(refusal([](auto& t) { t.format = "json"; }), "--format json: say prometheus or openmetrics");
    EXPECT_EQ(refusal([](auto& t) { t.callers = "101"; }), "--callers 101: a number of call sites per process, 0 to 100");
    EXPECT_EQ(refusal([](auto& t) { t.callers = "-1"; }), "--callers -1: a number of call sites per process, 0 to 100");
    EXPECT_EQ(refusal([](auto& t) { t.textfile = "/nonexistent/dir"; }),
              "--textfile /nonexistent/dir: not a directory this user can write to");
    EXPECT_NE(refusal([](auto& t) {
                  t.textfile = "/tmp";
                  t.format = "openmetrics";
              }).find("reads the Prometheus text format"),
              std::string::npos);
    EXPECT_EQ(refusal([](auto& t) {
                  t.textfile = "/tmp";
                  t.output = "/tmp/x.prom";
              }),
              "--textfile and --output both say where to write: choose one");
    EXPECT_EQ(refusal([](auto& t) { t.interval = "0"; }), "--interval 0: seconds between refreshes, 0.1 to 86400");
    EXPECT_EQ(refusal([](auto& t) { t.interval = "1s"; }), "--interval 1s: seconds between refreshes, 0.1 to 86400");
    EXPECT_EQ(refusal([](auto& t) { t.clean_older_than = "5x"; }),
              "--clean-older-than 5x: not a duration (like 90s, 15m, 2h, 3d)");
    EXPECT_EQ(refusal([](auto& t) { t.sessions = {"redis", "a-b"}; }),
              "--session a-b: not a session id (letters, digits, '.' and '_', up to 40)");
    EXPECT_EQ(refusal([](auto& t) { t.output = "/nonexistent/x.prom"; }),
              "--output /nonexistent/x.prom: its directory does not exist or is not writable");

    ExportOptionsText t;
    t.format = "openmetrics";
    t.callers = "0";
    t.interval = "2.5";
    t.clean_older_than = "15m";
    vdsotrace::tools::ExportOptions o;
    std::string error;
    ASSERT_TRUE(vdsotrace::tools::validate_export_options(t, &o, &error)) << error;
    EXPECT_TRUE(o.openmetrics);
    EXPECT_EQ(o.callers, 0u);
    EXPECT_EQ(o.interval, 2.5);
    EXPECT_EQ(o.clean_older_than, 900);
}

// The exporter reads a live recording without its untouched thread slots: what it parses must be
// what the whole file says (totals, callers, the shared slot at the end).
TEST(ExportLiveRead, SameRecordingAsTheWholeFile) {
    const std::vector<unsigned char> image = synthetic_image({});
    const std::string path = ::testing::TempDir() + "/live_read_test.vdsotrace";
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(image.data()), std::streamsize(image.size()));
    vdsotrace::tools::LiveReader reader;
    std::string error;
    const std::vector<unsigned char>* bytes = reader.read(path, &error, false);
    ASSERT_TRUE(bytes) << error;
    EXPECT_EQ(bytes->size(), image.size());
    auto partial = vdsotrace::tools::parse_recording(*bytes, path, &error);
    auto whole = vdsotrace::tools::parse_recording(image, path, &error);
    ASSERT_TRUE(partial && whole) << error;
    EXPECT_EQ(partial->totals(), whole->totals());
    ASSERT_EQ(partial->threads.size(), whole->threads.size());
    for (size_t i = 0; i < whole->threads.size(); ++i) {
        EXPECT_EQ(partial->threads[i].shared, whole->threads[i].shared);
        EXPECT_EQ(partial->threads[i].callers.size(), whole->threads[i].callers.size());
        EXPECT_EQ(partial->threads[i].total(), whole->threads[i].total());
    }
    EXPECT_EQ(partial->totals()[f::counter_index(f::kGettimeofday, 0)], 34u);  // 4 of them in the shared slot
    // A header claiming more slots than there are reads them all; a file that is not a recording
    // is read as it is and refused by the parser.
    std::vector<unsigned char> claims = image;
    reinterpret_cast<f::Header*>(claims.data())->threads_claimed = ~0ull;
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(claims.data()), std::streamsize(claims.size()));
    bytes = reader.read(path, &error, false);
    ASSERT_TRUE(bytes);
    EXPECT_EQ(*bytes, claims);
    // What that read wrote is zero again for the next recording read into the same buffer.
    std::vector<unsigned char> busy = image;
    memset(busy.data() + sizeof(f::Header), 0xAB, busy.size() - sizeof(f::Header));
    auto* bh = reinterpret_cast<f::Header*>(busy.data());
    bh->threads_claimed = 2;
    bh->modules_claimed = 8;
    bh->tree.threads_logged = 1u << 20;
    const std::string busy_path = path + ".busy";
    std::ofstream(busy_path, std::ios::binary).write(reinterpret_cast<const char*>(busy.data()), std::streamsize(busy.size()));
    ASSERT_TRUE(reader.read(busy_path, &error, false));
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(image.data()), std::streamsize(image.size()));
    bytes = reader.read(path, &error, false);
    ASSERT_TRUE(bytes);
    EXPECT_EQ(*bytes, image);  // the parts it does not read are zero in this image
    auto again = vdsotrace::tools::parse_recording(*bytes, path, &error);
    ASSERT_TRUE(again) << error;
    EXPECT_EQ(again->totals(), whole->totals());
    std::remove(busy_path.c_str());
    std::ofstream(path, std::ios::binary) << "not a recording";
    bytes = reader.read(path, &error, false);
    ASSERT_TRUE(bytes);
    EXPECT_EQ(std::string(bytes->begin(), bytes->end()), "not a recording");  // nothing left of the last one
    EXPECT_FALSE(vdsotrace::tools::parse_recording(*bytes, path, &error));
    EXPECT_FALSE(reader.read(path + ".missing", &error, false));
    std::remove(path.c_str());
}
