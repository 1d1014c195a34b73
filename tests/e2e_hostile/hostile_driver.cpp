// Hostile environments, end to end: the traced program must compute the same output and exit the
// same way with the shim as without it, whatever its environment; where the shim cannot record it
// says so exactly once on stderr and passes every call through. Where it can record, counts are
// exact.
//
// Paths come from the environment (tests/e2e_hostile/meson.build): VDSOTRACE_BIN,
// VDSOTRACE_SHIM_PATH, HOSTILE_CALLS{,_NOPLT,_STATIC,_ASAN,_TSAN} (tests/e2e_hostile/targets/
// hostile_calls.c built five ways) and HOSTILE_ASAN_RUNTIME (gcc's libasan.so).
// Tests needing root or mount namespaces skip (GTEST_SKIP with the reason) where they cannot run;
// CI runs as root, where they all run.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/e2e_harness.h"

namespace {

namespace fs = std::filesystem;
using namespace vdsotrace::test;

std::string vdsotrace_bin() { return env_path("VDSOTRACE_BIN"); }
std::string shim_path() { return env_path("VDSOTRACE_SHIM_PATH"); }
std::string prog(const char* variant = "HOSTILE_CALLS") { return env_path(variant); }

// Debian 12's other preloads (listed in .ci/packages); empty when not installed.
std::string debian_library(const char* file) {
    for (const char* dir : {"/usr/lib/x86_64-linux-gnu/", "/usr/lib/aarch64-linux-gnu/", "/usr/lib/"}) {
        std::string p = std::string(dir) + file;
        if (access(p.c_str(), R_OK) == 0) return p;
    }
    return "";
}

uint64_t calls_of_symbol(const json& r, const std::string& symbol) {
    uint64_t n = 0;
    if (r.contains("callers"))
        for (const json& c : r["callers"])
            if (c.value("symbol", "") == symbol) n += c["calls"].get<uint64_t>();
    return n;
}

uint64_t calls_from_module(const json& r, const std::string& module_part) {
    uint64_t n = 0;
    if (r.contains("callers"))
        for (const json& c : r["callers"])
            if (contains(c.value("module", ""), module_part)) n += c["calls"].get<uint64_t>();
    return n;
}

class Hostile : public ::testing::Test {
protected:
    void TearDown() override { cleanup_recordings(); }
};

// The shim's one line when it cannot record, checked to appear exactly once with `reason`.
void expect_one_pass_through_line(const Result& traced, const Result& plain, const std::string& reason) {
    auto lines = lines_starting_with(traced.err, "vdsotrace: ");
    ASSERT_EQ(lines.size(), 1u) << traced.err;
    EXPECT_TRUE(contains(lines[0], reason)) << lines[0];
    EXPECT_TRUE(contains(lines[0], "not recording, calls pass through unchanged")) << lines[0];
    EXPECT_EQ(traced.err, plain.err + lines[0] + "\n");
}

// ---- /dev/shm full, read-only, missing: a private mount namespace ---------------------------------

bool can_unshare_mounts(std::string* why) {
    if (getuid() != 0) {
        *why = "needs root to mount over /dev/shm in a private mount namespace";
        return false;
    }
    Result r = run({"unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /dev/shm"});
    if (r.code != 0) {
        *why = "unshare -m / mount not available here: " + r.err;
        return false;
    }
    return true;
}

// argv run in a private mount namespace after `setup` (a shell command) changed /dev/shm there.
std::vector<std::string> in_namespace(const std::string& setup, std::vector<std::string> argv) {
    std::vector<std::string> out = {"unshare", "-m", "sh", "-c", setup + " && exec \"$@\"", "sh"};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
}

void check_shm_setup(const std::string& setup, const std::string& reason) {
    std::string why;
    if (!can_unshare_mounts(&why)) GTEST_SKIP() << why;
    const std::vector<std::string> cmd = {prog(), "plain", "1000"};
    Result plain = run(in_namespace(setup, cmd));
    ASSERT_EQ(plain.code, 7) << describe(plain);
    ASSERT_EQ(plain.out, "plain ok 1000 of 1000\n");
    ASSERT_EQ(plain.err, "");

    Result pre = run(in_namespace(setup, cmd), {{"LD_PRELOAD", shim_path()}, {"VDSOTRACE_SESSION", unique_session("shm")}});
    EXPECT_EQ(pre.code, plain.code) << describe(pre);
    EXPECT_EQ(pre.out, plain.out);
    expect_one_pass_through_line(pre, plain, reason);

    // Through `vdsotrace run` too: the command's status and output come through, and the one line.
    std::vector<std::string> run_cmd = {vdsotrace_bin(), "run", "--keep-live", "-o", "/dev/null", "--"};
    run_cmd.insert(run_cmd.end(), cmd.begin(), cmd.end());
    Result via_run = run(in_namespace(setup, run_cmd));
    EXPECT_EQ(via_run.code, plain.code) << describe(via_run);
    EXPECT_EQ(via_run.out, plain.out);
    auto lines = lines_starting_with(via_run.err, "vdsotrace: cannot");
    ASSERT_EQ(lines.size(), 1u) << via_run.err;
    EXPECT_TRUE(contains(lines[0], reason)) << lines[0];
}

TEST_F(Hostile, ShmFull) {
    // Smaller than what a recording backs at its start (32 KiB since format 2: a short process's
    // recording fits in 64 KiB, so a 64k /dev/shm is no longer full for it).
    check_shm_setup("mount -t tmpfs -o size=16k tmpfs /dev/shm", "no space left on /dev/shm");
}

TEST_F(Hostile, ShmReadOnly) {
    check_shm_setup("mount -t tmpfs -o ro tmpfs /dev/shm", "/dev/shm is read-only");
}

TEST_F(Hostile, ShmMissing) {
    check_shm_setup("{ umount -l /dev/shm 2>/dev/null; mount -t tmpfs tmpfs /dev; }", "/dev/shm does not exist");
}

// ---- settings that make no sense --------------------------------------------------------------------

TEST_F(Hostile, BadSettingsOneMessageDefaultsExactCounts) {
    struct Case {
        std::string variable, value;
    } cases[] = {
        {"VDSOTRACE_THREADS", "0"},
        {"VDSOTRACE_THREADS", "99999999999999999999"},
        {"VDSOTRACE_THREADS", "65537"},
        {"VDSOTRACE_THREADS", "-4"},
        {"VDSOTRACE_THREADS", ""},
        {"VDSOTRACE_CALLERS", "17"},
        {"VDSOTRACE_CALLERS", "0"},
        {"VDSOTRACE_CALLERS", "1048576"},
        {"VDSOTRACE_MODULES", "lots"},
        {"VDSOTRACE_MODULES", " 64"},
        {"VDSOTRACE_MODULES", "0x40"},
    };
    Result plain = run({prog(), "plain", "1000"});
    ASSERT_EQ(plain.code, 7) << describe(plain);
    for (const Case& c : cases) {
        SCOPED_TRACE(c.variable + "=" + c.value);
        const std::string session = unique_session("set");
        Result pre = run({prog(), "plain", "1000"},
                         {{"LD_PRELOAD", shim_path()}, {"VDSOTRACE_SESSION", session}, {c.variable, c.value}});
        EXPECT_EQ(pre.code, plain.code) << describe(pre);
        EXPECT_EQ(pre.out, plain.out);
        auto lines = lines_starting_with(pre.err, "vdsotrace: ");
        ASSERT_EQ(lines.size(), 1u) << pre.err;
        EXPECT_EQ(lines[0].rfind("vdsotrace: ignoring bad settings: ", 0), 0u) << lines[0];
        EXPECT_TRUE(contains(lines[0], c.variable + "=" + c.value + " is not")) << lines[0];
        EXPECT_EQ(pre.err, lines[0] + "\n");
        auto h = header_of_session(session);
        ASSERT_TRUE(h) << "no segment for " << session;
        EXPECT_EQ(h->thread_capacity, 256u);
        EXPECT_EQ(h->caller_capacity, 256u);
        EXPECT_EQ(h->module_capacity, 128u);
        json j = report_session(session);
        EXPECT_EQ(u64(j, "total_calls"), 1000u);
        EXPECT_EQ(calls_of_symbol(j, "hot_loop"), 1000u) << j.dump(1);
    }
}

// Every value in range, together too big for a recording: one message, all three defaults.
TEST_F(Hostile, HugeCapacitiesTogetherFallBackToDefaults) {
    const std::string session = unique_session("huge");
    Result pre = run({prog(), "plain", "1000"}, {{"LD_PRELOAD", shim_path()},
                                                 {"VDSOTRACE_SESSION", session},
                                                 {"VDSOTRACE_THREADS", "65536"},
                                                 {"VDSOTRACE_CALLERS", "65536"},
                                                 {"VDSOTRACE_MODULES", "65536"}});
    EXPECT_EQ(pre.code, 7) << describe(pre);
    EXPECT_EQ(pre.out, "plain ok 1000 of 1000\n");
    auto lines = lines_starting_with(pre.err, "vdsotrace: ");
    ASSERT_EQ(lines.size(), 1u) << pre.err;
    EXPECT_TRUE(contains(lines[0], "ignoring bad settings")) << lines[0];
    EXPECT_TRUE(contains(lines[0], "larger than the 1024 MiB")) << lines[0];
    auto h = header_of_session(session);
    ASSERT_TRUE(h) << "no segment for " << session;
    EXPECT_EQ(h->thread_capacity, 256u);
    EXPECT_EQ(h->caller_capacity, 256u);
    EXPECT_EQ(h->module_capacity, 128u);
    json j = report_session(session);
    EXPECT_EQ(u64(j, "total_calls"), 1000u);
}

// ---- descriptors ------------------------------------------------------------------------------------

TEST_F(Hostile, DescriptorLimitOfThree) {
    Result plain = run({prog(), "fdlimit", "1000"});
    ASSERT_EQ(plain.code, 7) << describe(plain);
    ASSERT_EQ(plain.out, "fdlimit ok 1000 of 1000, open EMFILE\n");
    Result pre = run({prog(), "fdlimit", "1000"}, {{"LD_PRELOAD", shim_path()}, {"VDSOTRACE_SESSION", unique_session("fd")}});
    EXPECT_EQ(pre.code, plain.code) << describe(pre);
    EXPECT_EQ(pre.out, plain.out);
    expect_one_pass_through_line(pre, plain, "too many open files");
}

void check_close_all(const std::string& mode, uint64_t want_calls) {
    Result plain = run({prog(), mode, "500"});
    ASSERT_EQ(plain.code, 7) << describe(plain);
    const std::string session = unique_session("close");
    Result pre = run({prog(), mode, "500"}, {{"LD_PRELOAD", shim_path()}, {"VDSOTRACE_SESSION", session}});
    EXPECT_EQ(pre.code, plain.code) << describe(pre);
    EXPECT_EQ(pre.out, "");
    EXPECT_EQ(pre.err, "");
    json j = report_session(session);
    EXPECT_EQ(u64(j, "total_calls"), want_calls);
    EXPECT_EQ(calls_of_symbol(j, "hot_loop"), want_calls);
    Traced t = vdsotrace_run({prog(), mode, "500"});
    EXPECT_EQ(t.result.code, 7) << describe(t.result);
    EXPECT_EQ(u64(t.report, "total_calls"), want_calls);
    ASSERT_EQ(t.report["processes"].size(), 1u);
    EXPECT_EQ(t.report["processes"][0]["exit"], json({{"code", 7}}));
}

TEST_F(Hostile, ClosesEveryDescriptorBeforeFirstCall) { check_close_all("closeall-before", 500); }
TEST_F(Hostile, ClosesEveryDescriptorAfterFirstCall) { check_close_all("closeall-after", 1000); }

// ---- seccomp, signals -------------------------------------------------------------------------------

// A filter the shim does not see coming (installed with raw prctl system calls): its first call's
// shm_open is refused; it says so once and passes calls through.
TEST_F(Hostile, SeccompRefusesShmOpen) {
    Result plain = run({prog(), "seccomp-raw", "1000"});
    if (plain.code == 4) GTEST_SKIP() << "seccomp filters are not available here";
    ASSERT_EQ(plain.code, 7) << describe(plain);
    ASSERT_EQ(plain.out, "seccomp ok 1000 of 1000, exclusive open EPERM\n");
    Result pre = run({prog(), "seccomp-raw", "1000"},
                     {{"LD_PRELOAD", shim_path()}, {"VDSOTRACE_SESSION", unique_session("sc")}});
    EXPECT_EQ(pre.code, plain.code) << describe(pre);
    EXPECT_EQ(pre.out, plain.out);
    expect_one_pass_through_line(pre, plain, "operation not permitted");
}

// The same filter installed through libc's prctl: the shim makes its recording at
// PR_SET_NO_NEW_PRIVS, before the filter exists, and records every call (it refused to record).
TEST_F(Hostile, SeccompSeenComing) {
    Result plain = run({prog(), "seccomp", "1000"});
    if (plain.code == 4) GTEST_SKIP() << "seccomp filters are not available here";
    ASSERT_EQ(plain.code, 7) << describe(plain);
    ASSERT_EQ(plain.out, "seccomp ok 1000 of 1000, exclusive open EPERM\n");
    const std::string session = unique_session("sc");
    Result pre = run({prog(), "seccomp", "1000"}, {{"LD_PRELOAD", shim_path()}, {"VDSOTRACE_SESSION", session}});
    EXPECT_EQ(pre.code, plain.code) << describe(pre);
    EXPECT_EQ(pre.out, plain.out);
    EXPECT_EQ(pre.err, plain.err);
    json j = report_session(session);
    EXPECT_EQ(u64(j, "total_calls"), 1000u);
    EXPECT_EQ(calls_of_symbol(j, "hot_loop"), 1000u) << j.dump(1);
}

TEST_F(Hostile, OwnSigsegvHandlerOnSigaltstack) {
    Result plain = run({prog(), "sigsegv", "1000"});
    ASSERT_EQ(plain.code, 7) << describe(plain);
    ASSERT_EQ(plain.out, "sigsegv handled 1, handler ok 1, ok 2000 of 2000\n");
    Traced t = vdsotrace_run({prog(), "sigsegv", "1000"});
    EXPECT_EQ(t.result.code, plain.code) << describe(t.result);
    EXPECT_EQ(t.result.out, plain.out);
    EXPECT_EQ(u64(t.report, "total_calls"), 2001u);
    EXPECT_EQ(calls_of_symbol(t.report, "hot_loop"), 2000u);
    EXPECT_EQ(calls_of_symbol(t.report, "on_segv"), 1u) << t.report["callers"].dump(1);
}

TEST_F(Hostile, AllSignalsBlocked) {
    Result plain = run({prog(), "blockall", "2000"});
    ASSERT_EQ(plain.code, 7) << describe(plain);
    ASSERT_EQ(plain.out, "blockall ok 10000 of 10000\n");
    Traced t = vdsotrace_run({prog(), "blockall", "2000"});
    EXPECT_EQ(t.result.code, plain.code) << describe(t.result);
    EXPECT_EQ(t.result.out, plain.out);
    EXPECT_EQ(u64(t.report, "total_calls"), 10000u);
    EXPECT_EQ(calls_of_symbol(t.report, "hot_loop"), 10000u);
    ASSERT_EQ(t.report["threads"].size(), 5u) << t.report["threads"].dump(1);
    for (const json& th : t.report["threads"]) EXPECT_EQ(u64(th, "calls"), 2000u) << th.dump();
}

// ---- other preloads, allocators, loader settings, build flags ----------------------------------

void check_allocator(const char* file) {
    const std::string lib = debian_library(file);
    if (lib.empty()) GTEST_SKIP() << file << " is not installed (see .ci/packages)";
    Result plain = run({prog(), "blockall", "2000"}, {{"LD_PRELOAD", lib}});
    ASSERT_EQ(plain.code, 7) << describe(plain);
    ASSERT_EQ(plain.out, "blockall ok 10000 of 10000\n");
    // Either order in LD_PRELOAD; `vdsotrace run` puts the shim after the allocator.
    for (const std::string& order : {lib + ":" + shim_path(), shim_path() + ":" + lib}) {
        SCOPED_TRACE(order);
        const std::string session = unique_session("alloc");
        Result pre = run({prog(), "blockall", "2000"}, {{"LD_PRELOAD", order}, {"VDSOTRACE_SESSION", session}});
        EXPECT_EQ(pre.code, plain.code) << describe(pre);
        EXPECT_EQ(pre.out, plain.out);
        EXPECT_EQ(pre.err, plain.err);
        json j = report_session(session);
        // The allocator's own clock reads (jemalloc's decay timer) count too, as its own callers.
        EXPECT_EQ(calls_of_symbol(j, "hot_loop"), 10000u);
        EXPECT_EQ(u64(j, "total_calls"), 10000u + calls_from_module(j, file)) << j["callers"].dump(1);
    }
    // Through `vdsotrace run`, which is itself started with the allocator preloaded. Not in a
    // sanitized build (.ci/sanitize): an ASan program cannot run on another allocator.
    if (getenv("HOSTILE_TOOLS_SANITIZED") != nullptr) return;
    Traced t = vdsotrace_run({prog(), "blockall", "2000"}, {{"LD_PRELOAD", lib}});
    EXPECT_EQ(t.result.code, 7) << describe(t.result);
    EXPECT_EQ(t.result.out, plain.out);
    EXPECT_EQ(calls_of_symbol(t.report, "hot_loop"), 10000u);
    EXPECT_EQ(u64(t.report, "total_calls"), 10000u + calls_from_module(t.report, file));
}

TEST_F(Hostile, WithJemalloc) { check_allocator("libjemalloc.so.2"); }
TEST_F(Hostile, WithTcmalloc) { check_allocator("libtcmalloc.so.4"); }

// libfaketime interposes the same functions. The faked time must still come out: its definitions
// must come first in the search order and reach the real functions (through the shim, which
// counts them) with dlsym(RTLD_NEXT). So the shim goes after it in LD_PRELOAD, which is what
// `vdsotrace run` does with an LD_PRELOAD it finds.
TEST_F(Hostile, WithLibfaketime) {
    const std::string lib = debian_library("faketime/libfaketime.so.1");
    if (lib.empty()) GTEST_SKIP() << "libfaketime is not installed (see .ci/packages)";
    const EnvOverrides faked = {{"LD_PRELOAD", lib}, {"FAKETIME", "@2000-01-01 00:00:00"}};
    Result plain = run({prog(), "faketime"}, faked);
    ASSERT_EQ(plain.code, 7) << describe(plain);
    ASSERT_EQ(plain.out, "years 2000 2000 2000\n");

    Traced t = vdsotrace_run({prog(), "faketime"}, faked);
    EXPECT_EQ(t.result.code, 7) << describe(t.result);
    EXPECT_EQ(t.result.out, plain.out);
    // The program's own calls went to libfaketime; whatever it passed on is what the shim counted,
    // all of it from inside libfaketime.
    const std::string fake_module = fs::path(lib).filename().string();
    EXPECT_EQ(calls_of_symbol(t.report, "main"), 0u);
    if (t.report.contains("callers")) {
        for (const json& c : t.report["callers"]) {
            EXPECT_TRUE(contains(c.value("module", ""), fake_module)) << c.dump();
        }
    }
    EXPECT_EQ(callers_sum(t.report) + unattributed_sum(t.report), u64(t.report, "total_calls"));

    // In plain LD_PRELOAD the same order works.
    Result pre = run({prog(), "faketime"}, {{"LD_PRELOAD", lib + ":" + shim_path()},
                                           {"FAKETIME", "@2000-01-01 00:00:00"},
                                           {"VDSOTRACE_SESSION", unique_session("fake")}});
    EXPECT_EQ(pre.code, 7) << describe(pre);
    EXPECT_EQ(pre.out, plain.out);
}

TEST_F(Hostile, LdBindNow) {
    Traced t = vdsotrace_run({prog(), "plain", "1000"}, {{"LD_BIND_NOW", "1"}});
    EXPECT_EQ(t.result.code, 7) << describe(t.result);
    EXPECT_EQ(t.result.out, "plain ok 1000 of 1000\n");
    EXPECT_EQ(u64(t.report, "total_calls"), 1000u);
    EXPECT_EQ(calls_of_symbol(t.report, "hot_loop"), 1000u);
}

TEST_F(Hostile, BuiltWithNoPlt) {
    Traced t = vdsotrace_run({prog("HOSTILE_CALLS_NOPLT"), "plain", "1000"});
    EXPECT_EQ(t.result.code, 7) << describe(t.result);
    EXPECT_EQ(t.result.out, "plain ok 1000 of 1000\n");
    EXPECT_EQ(u64(t.report, "total_calls"), 1000u);
    EXPECT_EQ(calls_of_symbol(t.report, "hot_loop"), 1000u);
}

// Sanitizer runtimes intercept clock_gettime themselves: the program's calls reach the shim from
// the interceptor (one caller row with every one of them); the runtime's own few calls are counted
// as what they are.
void check_sanitized(const char* variant, const EnvOverrides& env) {
    const std::string p = getenv(variant) ? prog(variant) : "";
    if (p.empty()) GTEST_SKIP() << variant << " is not built (a sanitized build of the whole project)";
    Result plain = run({p, "blockall", "500"}, env);
    ASSERT_EQ(plain.code, 7) << describe(plain);
    ASSERT_EQ(plain.out, "blockall ok 2500 of 2500\n");
    Traced t = vdsotrace_run({p, "blockall", "500"}, env);
    EXPECT_EQ(t.result.code, 7) << describe(t.result);
    EXPECT_EQ(t.result.out, plain.out);
    int rows_with_all = 0;
    for (const json& c : t.report["callers"]) {
        const std::string sym = c.value("symbol", "");
        if (u64(c, "calls") == 2500u && (sym == "hot_loop" || contains(sym, "interceptor_clock_gettime"))) ++rows_with_all;
    }
    EXPECT_EQ(rows_with_all, 1) << t.report["callers"].dump(1);
    EXPECT_GE(u64(t.report, "total_calls"), 2500u);
    EXPECT_EQ(callers_sum(t.report) + unattributed_sum(t.report), u64(t.report, "total_calls"));
}

// gcc links ASan's runtime dynamically, and it must be the first library: preload it and let
// `vdsotrace run` put the shim after it (without that, ASan itself refuses to start).
TEST_F(Hostile, AddressSanitizerProgram) {
    const char* runtime = getenv("HOSTILE_ASAN_RUNTIME");
    if (runtime == nullptr || access(runtime, R_OK) != 0) GTEST_SKIP() << "gcc's libasan.so not found";
    check_sanitized("HOSTILE_CALLS_ASAN", {{"LD_PRELOAD", runtime}});
}

TEST_F(Hostile, ThreadSanitizerProgram) { check_sanitized("HOSTILE_CALLS_TSAN", {}); }

// ---- heavy use ----------------------------------------------------------------------------------------

// 64 lanes start short-lived threads of 200 calls each for 2 s: thousands of threads come and go
// while others read the clock; far more than the 256 thread slots, so most share the overflow
// slot. Nothing may be lost, nothing may crash or hang (the run times out after 120 s).
TEST_F(Hostile, SixtyFourThreadsComingAndGoing) {
    Traced t = vdsotrace_run({prog(), "threads", "200", "64", "2000"}, {}, 120);
    ASSERT_EQ(t.result.code, 7) << describe(t.result);
    const uint64_t threads = parse_number_after(t.result.out, "threads ");
    const uint64_t calls = parse_number_after(t.result.out, " calls ");
    ASSERT_NE(calls, UINT64_MAX) << t.result.out;
    EXPECT_EQ(calls, threads * 200);
    EXPECT_GT(threads, 64u);
    EXPECT_EQ(u64(t.report, "total_calls"), calls);
    EXPECT_EQ(calls_of_symbol(t.report, "hot_loop"), calls);
    uint64_t per_thread = 0;
    for (const json& th : t.report["threads"]) per_thread += u64(th, "calls");
    EXPECT_EQ(per_thread, calls);
    EXPECT_EQ(u64(t.report["processes"][0], "calls"), calls);
}

// ---- what LD_PRELOAD cannot reach: said up front -------------------------------------------------

// A static program ignores LD_PRELOAD: `run` says so before it runs and counts its calls through
// the trampoline it injects instead (tests/e2e_static has the details; --no-inject is tested there).
TEST_F(Hostile, StaticProgramIsNamedBeforeItRuns) {
    const std::string p = prog("HOSTILE_CALLS_STATIC");
    Traced t = vdsotrace_run({p, "plain", "100"});
    EXPECT_EQ(t.result.code, 7) << describe(t.result);
    EXPECT_EQ(t.result.out, "plain ok 100 of 100\n");
    auto lines = lines_starting_with(t.result.err, "vdsotrace: ");
    ASSERT_GE(lines.size(), 1u) << t.result.err;
    EXPECT_TRUE(contains(lines[0], "is statically linked: counting its vDSO calls through an injected trampoline"))
        << lines[0];
    // Where ptrace is refused (kernel.yama.ptrace_scope=3, seccomp) run says so and counts nothing.
    const bool refused = contains(t.result.err, "ptrace is not allowed here");
    EXPECT_EQ(u64(t.report, "total_calls"), refused ? 0u : 100u) << t.result.err;
}

TEST_F(Hostile, SetuidProgramIsNamedBeforeItRuns) {
    if (getuid() != 0) GTEST_SKIP() << "needs root to give a copy of the program to another user";
    const std::string copy = temp_dir_root() + "/hostile_calls_setuid";
    std::error_code ec;
    fs::copy_file(prog(), copy, fs::copy_options::overwrite_existing, ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_EQ(chown(copy.c_str(), 65534, 65534), 0) << strerror(errno);
    ASSERT_EQ(chmod(copy.c_str(), 04755), 0) << strerror(errno);
    Traced t = vdsotrace_run({copy, "plain", "100"});
    EXPECT_EQ(t.result.code, 7) << describe(t.result);
    EXPECT_EQ(t.result.out, "plain ok 100 of 100\n");
    auto lines = lines_starting_with(t.result.err, "vdsotrace: ");
    ASSERT_GE(lines.size(), 1u) << t.result.err;
    EXPECT_TRUE(contains(lines[0], "is set-user-ID or set-group-ID")) << lines[0];
    EXPECT_EQ(u64(t.report, "total_calls"), 0u);
    unlink(copy.c_str());
}

// ---- the reader and other users' recordings ----------------------------------------------------

TEST_F(Hostile, ReaderRefusesOtherUsersRecordingsUnlessAsked) {
    if (getuid() != 0) GTEST_SKIP() << "needs root to give a recording to another user";
    const std::string session = unique_session("own");
    Result pre = run({prog(), "plain", "300"}, {{"LD_PRELOAD", shim_path()}, {"VDSOTRACE_SESSION", session}});
    ASSERT_EQ(pre.code, 7) << describe(pre);
    json mine = report_session(session);
    ASSERT_EQ(mine["processes"].size(), 1u);
    const std::string segment = mine["processes"][0].value("recording", "");
    ASSERT_FALSE(segment.empty());

    // A saved copy owned by nobody: refused, then read when asked explicitly.
    const std::string copy = temp_dir_root() + "/foreign.vdsotrace";
    std::error_code ec;
    fs::copy_file(segment, copy, fs::copy_options::overwrite_existing, ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_EQ(chown(copy.c_str(), 65534, 65534), 0) << strerror(errno);
    Result refused = run({vdsotrace_bin(), "report", "--json", copy});
    EXPECT_EQ(refused.code, 1) << describe(refused);
    EXPECT_EQ(refused.out, "");
    EXPECT_TRUE(contains(refused.err, "owned by uid 65534")) << refused.err;
    EXPECT_TRUE(contains(refused.err, "--allow-other-users")) << refused.err;
    Result allowed = run({vdsotrace_bin(), "report", "--allow-other-users", "--json", copy});
    ASSERT_EQ(allowed.code, 0) << describe(allowed);
    EXPECT_EQ(u64(parse_json(allowed.out, "report --allow-other-users"), "total_calls"), 300u);

    // The live segment handed to nobody (as if nobody had planted it under our name): the session
    // no longer resolves to it, except when asked.
    ASSERT_EQ(chown(segment.c_str(), 65534, 65534), 0) << strerror(errno);
    Result by_session = run({vdsotrace_bin(), "report", "--json", session});
    EXPECT_EQ(by_session.code, 1) << describe(by_session);
    EXPECT_EQ(by_session.out, "");
    Result by_session_allowed = run({vdsotrace_bin(), "report", "--allow-other-users", "--json", session});
    EXPECT_EQ(by_session_allowed.code, 0) << describe(by_session_allowed);
    EXPECT_EQ(u64(parse_json(by_session_allowed.out, "report --allow-other-users SESSION"), "total_calls"), 300u);
    unlink(segment.c_str());
    unlink(copy.c_str());
}

}  // namespace
