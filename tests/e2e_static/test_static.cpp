// Statically linked programs under the real `vdsotrace run`: the injected trampoline must count
// every call exactly, name the function that made it, and leave the program's output and fate
// unchanged. Programs: static_calls.c (glibc, static and static-pie; musl), hammer.go (pure Go).
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/e2e_harness.h"

using nlohmann::json;

namespace {

namespace harness = vdsotrace::test;

std::string env(const char* name) {
    const char* v = getenv(name);
    return v == nullptr ? "" : v;
}

struct Result {
    int status = -1;  // from waitpid
    std::string out, err;
    json report;      // the --json report, when one was asked for
};

Result run(const std::vector<std::string>& argv) {
    harness::Result r = harness::run(argv);
    return {r.status, r.out, r.err, {}};
}

// `vdsotrace run --json FILE [extra] -- argv`, with its report parsed. The recordings of the
// session are removed (--output-dir keeps nothing in /dev/shm's way: `clean` is not ours).
Result traced(const std::vector<std::string>& argv, const std::vector<std::string>& extra = {}) {
    harness::Traced t = harness::vdsotrace_run(argv, {}, 120, extra);
    harness::remove_recordings(t.report);
    return {t.result.status, t.result.out, t.result.err, t.report};
}

// Calls of `function` (and `clock`, when given) attributed to the caller named `symbol`.
uint64_t calls_from(const json& report, const std::string& function, const std::string& symbol,
                    const std::string& clock = "") {
    uint64_t n = 0;
    for (const json& c : report["callers"]) {
        if (c["function"] != function || c.value("symbol", "") != symbol) continue;
        if (!clock.empty() && c.value("clock", "") != clock) continue;
        n += c["calls"].get<uint64_t>();
    }
    return n;
}

uint64_t clock_calls(const json& report, const std::string& function, const std::string& clock) {
    for (const json& c : report["clocks"])
        if (c["function"] == function && c["name"] == clock) return c["calls"].get<uint64_t>();
    return 0;
}

void expect_glibc_counts(const json& report, uint64_t extra_total = 0) {
    EXPECT_EQ(calls_from(report, "clock_gettime", "call_monotonic", "CLOCK_MONOTONIC"), 3000u);
    EXPECT_EQ(calls_from(report, "gettimeofday", "call_gettimeofday"), 700u);
    EXPECT_EQ(calls_from(report, "time", "call_time"), 50u);
    EXPECT_EQ(report["total_calls"].get<uint64_t>(), 3750u + extra_total) << report.dump(1);
    EXPECT_TRUE(report["unattributed"].empty());
}

// Whether this machine lets a process be traced by its parent at all (kernel.yama.ptrace_scope=3
// or a seccomp profile may refuse it): the counting tests need it, the refusal test does not.
bool ptrace_allowed() {
    static const bool allowed = [] {
        const pid_t pid = fork();
        if (pid == 0) _exit(ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) == 0 ? 0 : 1);
        int status = 0;
        waitpid(pid, &status, 0);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }();
    return allowed;
}
#define REQUIRE_PTRACE() \
    if (!ptrace_allowed()) GTEST_SKIP() << "ptrace is refused on this machine (kernel.yama.ptrace_scope, seccomp)"

constexpr const char* kNotice = "is statically linked: counting its vDSO calls through an injected trampoline";

// The program's outcome and output with and without vdsotrace must be the same.
void expect_same_outcome(const Result& native, const Result& under) {
    EXPECT_EQ(native.out, under.out);
    if (WIFSIGNALED(native.status)) {
        ASSERT_TRUE(WIFEXITED(under.status));
        EXPECT_EQ(WEXITSTATUS(under.status), 128 + WTERMSIG(native.status));
    } else {
        ASSERT_TRUE(WIFEXITED(native.status));
        ASSERT_TRUE(WIFEXITED(under.status));
        EXPECT_EQ(WEXITSTATUS(under.status), WEXITSTATUS(native.status));
    }
}

TEST(StaticGlibc, CountsEveryCallAndNamesItsFunction) {
    REQUIRE_PTRACE();
    const std::vector<std::string> argv = {env("STATIC_CALLS"), "exit", "3"};
    const Result native = run(argv);
    const Result r = traced(argv);
    ASSERT_TRUE(r.report.is_object()) << r.err;
    EXPECT_NE(r.err.find(kNotice), std::string::npos) << r.err;
    expect_glibc_counts(r.report);
    expect_same_outcome(native, r);
    EXPECT_EQ(native.out, "calls made: 3000 700 50, mode exit\n");
    ASSERT_EQ(r.report["processes"].size(), 1u);
    EXPECT_EQ(r.report["processes"][0]["exit"], json({{"code", 3}}));
    EXPECT_EQ(r.report["processes"][0]["argv"], json(argv));
    EXPECT_EQ(r.report["processes"][0]["exe"], std::filesystem::canonical(argv[0]).string());
}

TEST(StaticGlibc, DeathBySignalIsRecordedAndPassedOn) {
    REQUIRE_PTRACE();
    const std::vector<std::string> argv = {env("STATIC_CALLS"), "signal"};
    const Result native = run(argv);
    ASSERT_TRUE(WIFSIGNALED(native.status));
    EXPECT_EQ(WTERMSIG(native.status), SIGTERM);
    const Result r = traced(argv);
    ASSERT_TRUE(r.report.is_object()) << r.err;
    expect_glibc_counts(r.report);
    expect_same_outcome(native, r);
    EXPECT_EQ(r.report["processes"][0]["exit"], json({{"signal", SIGTERM}}));
}

TEST(StaticGlibc, StaticPieIsCountedToo) {
    REQUIRE_PTRACE();
    const std::vector<std::string> argv = {env("STATIC_PIE_CALLS"), "exit", "0"};
    const Result native = run(argv);
    const Result r = traced(argv);
    ASSERT_TRUE(r.report.is_object()) << r.err;
    expect_glibc_counts(r.report);
    expect_same_outcome(native, r);
}

TEST(StaticGlibc, ThreadsShareTheCountsExactly) {
    REQUIRE_PTRACE();
    const std::vector<std::string> argv = {env("STATIC_CALLS"), "threads", "0"};
    const Result r = traced(argv);
    ASSERT_TRUE(r.report.is_object()) << r.err;
    EXPECT_EQ(calls_from(r.report, "clock_gettime", "thread_calls", "CLOCK_REALTIME"), 4000u);
    expect_glibc_counts(r.report, 4000);
    EXPECT_EQ(r.out, "calls made: 3000 700 50, mode threads\nthreads done\n");
}

// With rseq turned off (glibc registers no area; __rseq_offset is still set), the trampoline's
// fast path finds the area unregistered and every call counts on the slow path, with locked adds
// into the CPU slots: still exact, threads included.
TEST(StaticGlibc, CountsExactlyWithRseqTurnedOff) {
    REQUIRE_PTRACE();
    const std::vector<std::string> argv = {env("STATIC_CALLS"), "threads", "0"};
    harness::Traced t = harness::vdsotrace_run(argv, {{"GLIBC_TUNABLES", "glibc.pthread.rseq=0"}});
    harness::remove_recordings(t.report);
    ASSERT_TRUE(t.report.is_object()) << t.result.err;
    EXPECT_EQ(calls_from(t.report, "clock_gettime", "thread_calls", "CLOCK_REALTIME"), 4000u);
    expect_glibc_counts(t.report, 4000);
    EXPECT_EQ(t.result.out, "calls made: 3000 700 50, mode threads\nthreads done\n");
}

// A forked child shares its parent's recording (the mapping is inherited): its calls are counted
// there, under the parent's pid.
TEST(StaticGlibc, ForkedChildCountsIntoTheParentsRecording) {
    REQUIRE_PTRACE();
    const std::vector<std::string> argv = {env("STATIC_CALLS"), "fork", "0"};
    const Result r = traced(argv);
    ASSERT_TRUE(r.report.is_object()) << r.err;
    EXPECT_EQ(calls_from(r.report, "clock_gettime", "child_calls", "CLOCK_BOOTTIME"), 100u);
    expect_glibc_counts(r.report, 100);
    EXPECT_EQ(r.report["processes"].size(), 1u);
    EXPECT_EQ(r.out, "calls made: 3000 700 50, mode fork\nchild status 0\n");
}

TEST(StaticGlibc, NoInjectKeepsTheWarning) {
    const std::vector<std::string> argv = {env("STATIC_CALLS"), "exit", "4"};
    const Result native = run(argv);
    const Result r = traced(argv, {"--no-inject"});
    ASSERT_TRUE(r.report.is_object()) << r.err;
    EXPECT_NE(r.err.find("is statically linked: the loader does not apply LD_PRELOAD to it"), std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find(kNotice), std::string::npos) << r.err;
    EXPECT_EQ(r.report["total_calls"].get<uint64_t>(), 0u);
    expect_same_outcome(native, r);
}

TEST(StaticGlibc, RefusedPtraceSaysWhyAndRunsUntraced) {
    const std::vector<std::string> argv = {env("STATIC_CALLS"), "exit", "6"};
    const Result native = run(argv);
    std::vector<std::string> cmd = {env("SECCOMP_REFUSE"), "ptrace", env("VDSOTRACE_BIN"), "run", "--keep-live", "-o", "/dev/null", "--", argv[0], argv[1], argv[2]};
    const Result r = run(cmd);
    EXPECT_NE(r.err.find("cannot count the vDSO calls of " + argv[0] + ": ptrace is not allowed here"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("it runs untraced"), std::string::npos) << r.err;
    expect_same_outcome(native, r);
}

// musl makes gettimeofday and time out of clock_gettime(CLOCK_REALTIME), and its static libc has
// no unwind tables: the step out of its wrappers comes from their prologues.
TEST(StaticMusl, CountsEveryCallAndNamesItsFunction) {
    const std::string exe = env("MUSL_STATIC_CALLS");
    if (exe.empty()) GTEST_SKIP() << "musl-gcc was not found at configure time (package musl-tools)";
    REQUIRE_PTRACE();
    const std::vector<std::string> argv = {exe, "exit", "7"};
    const Result native = run(argv);
    const Result r = traced(argv);
    ASSERT_TRUE(r.report.is_object()) << r.err;
    EXPECT_EQ(calls_from(r.report, "clock_gettime", "call_monotonic", "CLOCK_MONOTONIC"), 3000u);
    EXPECT_EQ(calls_from(r.report, "clock_gettime", "call_gettimeofday", "CLOCK_REALTIME"), 700u);
    EXPECT_EQ(calls_from(r.report, "clock_gettime", "call_time", "CLOCK_REALTIME"), 50u);
    EXPECT_EQ(clock_calls(r.report, "clock_gettime", "CLOCK_REALTIME"), 750u);
    EXPECT_EQ(clock_calls(r.report, "clock_gettime", "CLOCK_MONOTONIC"), 3000u);
    EXPECT_EQ(r.report["total_calls"].get<uint64_t>(), 3750u);
    expect_same_outcome(native, r);
    EXPECT_EQ(r.report["processes"][0]["exit"], json({{"code", 7}}));
}

TEST(StaticGo, TimeNowCountedAndAttributedToItsGoCaller) {
    REQUIRE_PTRACE();
    const std::string exe = env("GO_HAMMER");
    if (exe.empty()) GTEST_SKIP() << "go was not found at configure time (package golang-go)";
    const std::vector<std::string> argv = {exe, "2500"};
    const Result native = run(argv);
    const Result r = traced(argv);
    ASSERT_TRUE(r.report.is_object()) << r.err;
    EXPECT_EQ(calls_from(r.report, "clock_gettime", "main.hammer", "CLOCK_REALTIME"), 2500u) << r.report.dump(1);
    EXPECT_EQ(calls_from(r.report, "clock_gettime", "main.hammer", "CLOCK_MONOTONIC"), 2500u);
    EXPECT_EQ(native.out, "hammered 2500\n");
    expect_same_outcome(native, r);
    EXPECT_EQ(r.report["processes"][0]["exit"], json({{"code", 5}}));
}

TEST(StaticGo, StrippedBinaryAttributedThroughGoFunctionTable) {
    REQUIRE_PTRACE();
    const std::string exe = env("GO_HAMMER_STRIPPED");
    if (exe.empty()) GTEST_SKIP() << "go was not found at configure time (package golang-go)";
    const std::vector<std::string> argv = {exe, "1200"};
    const Result native = run(argv);
    const Result r = traced(argv);
    ASSERT_TRUE(r.report.is_object()) << r.err;
    EXPECT_EQ(calls_from(r.report, "clock_gettime", "main.hammer", "CLOCK_REALTIME"), 1200u) << r.report.dump(1);
    EXPECT_EQ(calls_from(r.report, "clock_gettime", "main.hammer", "CLOCK_MONOTONIC"), 1200u);
    expect_same_outcome(native, r);
}

}  // namespace
