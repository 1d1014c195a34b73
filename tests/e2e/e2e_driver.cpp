// End-to-end tests: run the target programs of tests/e2e/targets under the real shim, through the
// real `vdsotrace` binary, and assert exact counts, names and exit statuses.
//
// Paths come from the environment (set by tests/e2e/meson.build): VDSOTRACE_BIN,
// VDSOTRACE_SHIM_PATH and E2E_<TARGET> for every target program and library.
//
// Every recording a test makes is deleted when the test ends: those named in the JSON reports,
// and, as a safety net, every /dev/shm/vdsotrace-<uid>-* segment whose pid or parent pid is a
// process this driver started (other people's recordings are never touched).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
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
std::string target(const char* name) { return env_path(name); }

// ---- Report accessors ------------------------------------------------------------------------------

std::map<std::string, uint64_t> functions_of(const json& r) {
    std::map<std::string, uint64_t> m;
    if (r.contains("functions"))
        for (const json& f : r["functions"]) m[f["name"].get<std::string>()] = f["calls"].get<uint64_t>();
    return m;
}

// (function, clock id) -> (clock name, calls)
std::map<std::pair<std::string, int>, std::pair<std::string, uint64_t>> clocks_of(const json& r) {
    std::map<std::pair<std::string, int>, std::pair<std::string, uint64_t>> m;
    if (r.contains("clocks"))
        for (const json& c : r["clocks"]) {
            auto key = std::make_pair(c["function"].get<std::string>(), c["id"].get<int>());
            EXPECT_EQ(m.count(key), 0u) << "duplicate clock row " << c.dump();
            m[key] = {c["name"].get<std::string>(), c["calls"].get<uint64_t>()};
        }
    return m;
}

std::vector<json> callers_with_symbol(const json& r, const std::string& symbol) {
    std::vector<json> out;
    if (r.contains("callers"))
        for (const json& c : r["callers"])
            if (c.value("symbol", "") == symbol) out.push_back(c);
    return out;
}

// ---- Fixture -----------------------------------------------------------------------------------------

class E2E : public ::testing::Test {
protected:
    void TearDown() override { cleanup_recordings(); }
};

// The report of e2e_counts (see targets/e2e_counts.c), checked exactly.
void expect_counts_report(const json& r, const std::string& program) {
    EXPECT_EQ(u64(r, "total_calls"), 1827u);
    const std::map<std::string, uint64_t> want_functions = {
        {"clock_gettime", 1306}, {"gettimeofday", 500}, {"time", 7}, {"getcpu", 11}, {"clock_getres", 3},
        {"getrandom", 0}};  // the vDSO's getrandom: listed, never called here (glibc 2.36)
    EXPECT_EQ(functions_of(r), want_functions);

    const std::map<std::pair<std::string, int>, std::pair<std::string, uint64_t>> want_clocks = {
        {{"clock_gettime", 1}, {"CLOCK_MONOTONIC", 1000}},
        {{"clock_gettime", 0}, {"CLOCK_REALTIME", 300}},
        {{"clock_gettime", -2}, {"invalid clock id", 2}},
        {{"clock_gettime", -1}, {"dynamic CPU clock", 4}},
        {{"clock_getres", 1}, {"CLOCK_MONOTONIC", 3}},
    };
    EXPECT_EQ(clocks_of(r), want_clocks);

    struct WantCaller {
        const char* symbol;
        const char* function;
        const char* clock;  // nullptr: no clock
        int clock_id;
        uint64_t calls;
    };
    const WantCaller want[] = {
        {"alpha_hammer", "clock_gettime", "CLOCK_MONOTONIC", 1, 1000},
        {"beta_reader", "clock_gettime", "CLOCK_REALTIME", 0, 300},
        {"gamma_tod", "gettimeofday", nullptr, 0, 500},
        {"delta_time", "time", nullptr, 0, 7},
        {"epsilon_cpu", "getcpu", nullptr, 0, 11},
        {"zeta_res", "clock_getres", "CLOCK_MONOTONIC", 1, 3},
        {"eta_invalid", "clock_gettime", "invalid clock id", -2, 2},
        {"theta_cpuclock", "clock_gettime", "dynamic CPU clock", -1, 4},
    };
    ASSERT_TRUE(r.contains("callers"));
    EXPECT_EQ(r["callers"].size(), std::size(want)) << r["callers"].dump(1);
    for (const WantCaller& w : want) {
        SCOPED_TRACE(w.symbol);
        auto rows = callers_with_symbol(r, w.symbol);
        ASSERT_EQ(rows.size(), 1u) << r["callers"].dump(1);
        const json& c = rows[0];
        EXPECT_EQ(c.value("function", ""), w.function);
        EXPECT_EQ(u64(c, "calls"), w.calls);
        if (w.clock) {
            EXPECT_EQ(c.value("clock", ""), w.clock);
            EXPECT_EQ(c.value("clock_id", 12345), w.clock_id);
        } else {
            EXPECT_FALSE(c.contains("clock")) << c.dump();
        }
        EXPECT_TRUE(ends_with(c.value("module", ""), "/" + program)) << c.dump();
        EXPECT_TRUE(ends_with(c.value("file", ""), "e2e_counts.c")) << c.dump();
        EXPECT_GT(c.value("line", 0), 0) << c.dump();
    }
    EXPECT_EQ(unattributed_sum(r), 0u);
    EXPECT_EQ(callers_sum(r), 1827u);

    ASSERT_TRUE(r.contains("threads"));
    ASSERT_EQ(r["threads"].size(), 1u) << r["threads"].dump(1);
    EXPECT_EQ(u64(r["threads"][0], "calls"), 1827u);
    EXPECT_FALSE(r["threads"][0].value("shared", true));
    ASSERT_TRUE(r.contains("processes"));
    ASSERT_EQ(r["processes"].size(), 1u);
    EXPECT_EQ(u64(r["processes"][0], "calls"), 1827u);
    EXPECT_TRUE(ends_with(r["processes"][0].value("exe", ""), "/" + program)) << r["processes"][0].dump();
    EXPECT_EQ(r["threads"][0].value("tid", -1), r["processes"][0].value("pid", -2));
}

// ---- 1. counts -------------------------------------------------------------------------------------

TEST_F(E2E, CountsExactPerFunctionClockAndCaller) {
    const std::string prog = target("E2E_COUNTS");
    Traced t = vdsotrace_run({prog});
    ASSERT_EQ(t.result.code, 0) << describe(t.result);
    EXPECT_NE(t.result.out.find("counts done"), std::string::npos);
    expect_counts_report(t.report, basename_of(prog));
    ASSERT_EQ(t.report["processes"].size(), 1u);
    const json& p = t.report["processes"][0];
    EXPECT_EQ(p["exit"], json({{"code", 0}})) << p.dump();
    EXPECT_EQ(p["argv"], json::array({prog})) << p.dump();
    EXPECT_EQ(p["pid"], t.report["threads"][0]["pid"]);
    EXPECT_EQ(p.value("ppid", -1), t.result.pid);
    // The text report goes to stderr and names the busiest caller.
    EXPECT_NE(t.result.err.find("alpha_hammer"), std::string::npos) << t.result.err;
}

TEST_F(E2E, ExitCodeIsPassedThrough) {
    const std::string prog = target("E2E_COUNTS");
    Traced t = vdsotrace_run({prog, "42"});
    EXPECT_EQ(t.result.code, 42) << describe(t.result);
    ASSERT_EQ(t.report["processes"].size(), 1u);
    EXPECT_EQ(t.report["processes"][0]["exit"], json({{"code", 42}}));
    EXPECT_EQ(t.report["processes"][0]["argv"], json::array({prog, "42"}));
    expect_counts_report(t.report, basename_of(prog));
}

// ---- 2. shared library constructor ----------------------------------------------------------------

TEST_F(E2E, CallFromSharedLibraryConstructor) {
    const std::string prog = target("E2E_CTOR_MAIN");
    const std::string lib = target("E2E_CTOR_LIB");
    Traced t = vdsotrace_run({prog});
    ASSERT_EQ(t.result.code, 0) << describe(t.result);
    EXPECT_NE(t.result.out.find("ctor value 42"), std::string::npos) << t.result.out;
    const json& r = t.report;
    EXPECT_EQ(u64(r, "total_calls"), 5u);
    EXPECT_EQ(functions_of(r)["clock_gettime"], 5u);
    const std::map<std::pair<std::string, int>, std::pair<std::string, uint64_t>> want_clocks = {
        {{"clock_gettime", 7}, {"CLOCK_BOOTTIME", 5}}};
    EXPECT_EQ(clocks_of(r), want_clocks);
    ASSERT_EQ(r["callers"].size(), 1u) << r.dump(1);
    const json& c = r["callers"][0];
    EXPECT_EQ(c.value("symbol", ""), "e2e_ctor_init") << c.dump();
    EXPECT_EQ(u64(c, "calls"), 5u);
    EXPECT_EQ(c.value("clock", ""), "CLOCK_BOOTTIME");
    const std::string module = c.value("module", "");
    EXPECT_EQ(module, lib);
    EXPECT_TRUE(ends_with(c.value("file", ""), "e2e_ctor_lib.c")) << c.dump();
    EXPECT_GT(c.value("line", 0), 0) << c.dump();
    // The calls came before the shim's constructor learnt the process's name: the thread is still
    // named (redis-server's main thread was nameless, its first call being jemalloc's).
    ASSERT_EQ(r["threads"].size(), 1u) << r["threads"].dump(1);
    EXPECT_EQ(r["threads"][0].value("name", ""), basename_of(prog).substr(0, 15)) << r["threads"].dump(1);
}

// ---- 3. threads ----------------------------------------------------------------------------------------

TEST_F(E2E, EightThreadsExactPerThread) {
    Traced t = vdsotrace_run({target("E2E_THREADS"), "8", "10000"});
    ASSERT_EQ(t.result.code, 0) << describe(t.result);
    const json& r = t.report;
    EXPECT_EQ(u64(r, "total_calls"), 80000u);
    ASSERT_EQ(r["threads"].size(), 8u) << r["threads"].dump(1);
    std::set<std::string> names;
    std::set<int> tids;
    for (const json& th : r["threads"]) {
        EXPECT_EQ(u64(th, "calls"), 10000u) << th.dump();
        EXPECT_FALSE(th.value("shared", true)) << th.dump();
        EXPECT_TRUE(th.value("exited", false)) << th.dump();
        names.insert(th.value("name", ""));
        tids.insert(th.value("tid", 0));
    }
    EXPECT_EQ(names, (std::set<std::string>{"e2e-w0", "e2e-w1", "e2e-w2", "e2e-w3", "e2e-w4", "e2e-w5", "e2e-w6",
                                            "e2e-w7"}));
    EXPECT_EQ(tids.size(), 8u);
    EXPECT_EQ(unattributed_sum(r), 0u);
    auto rows = callers_with_symbol(r, "worker_calls");
    ASSERT_EQ(rows.size(), 1u) << r["callers"].dump(1);
    EXPECT_EQ(u64(rows[0], "calls"), 80000u);
    EXPECT_FALSE(r["processes"][0].contains("notes")) << r["processes"][0].dump();
}

TEST_F(E2E, ThreadsBeyondCapacityShareOneSlot) {
    Traced t = vdsotrace_run({target("E2E_THREADS"), "8", "10000"}, {{"VDSOTRACE_THREADS", "2"}});
    ASSERT_EQ(t.result.code, 0) << describe(t.result);
    const json& r = t.report;
    EXPECT_EQ(u64(r, "total_calls"), 80000u);
    ASSERT_EQ(r["threads"].size(), 3u) << r["threads"].dump(1);
    int shared_rows = 0;
    for (const json& th : r["threads"]) {
        if (th.value("shared", false)) {
            ++shared_rows;
            EXPECT_EQ(u64(th, "calls"), 60000u) << th.dump();
        } else {
            EXPECT_EQ(u64(th, "calls"), 10000u) << th.dump();
        }
    }
    EXPECT_EQ(shared_rows, 1);
    EXPECT_EQ(callers_sum(r) + unattributed_sum(r), 80000u);
    auto rows = callers_with_symbol(r, "worker_calls");
    ASSERT_EQ(rows.size(), 1u) << r["callers"].dump(1);
    EXPECT_EQ(u64(rows[0], "calls"), 80000u);
    const json& p = r["processes"][0];
    ASSERT_TRUE(p.contains("notes")) << p.dump();
    bool mentions = false;
    for (const json& n : p["notes"]) mentions |= n.get<std::string>().find("VDSOTRACE_THREADS") != std::string::npos;
    EXPECT_TRUE(mentions) << p.dump();
    EXPECT_NE(p["notes"].dump().find("all 2 thread slots busy"), std::string::npos) << p.dump();
    EXPECT_NE(p["notes"].dump().find("their 60000 calls"), std::string::npos) << p.dump();
    EXPECT_EQ(lines_starting_with(t.result.err, "vdsotrace: ignoring bad settings").size(), 0u) << t.result.err;
}

// ---- 4. caller table overflow ------------------------------------------------------------------------

TEST_F(E2E, FortyCallSitesAllAttributedByDefault) {
    Traced t = vdsotrace_run({target("E2E_CALLSITES"), "25"});
    ASSERT_EQ(t.result.code, 0) << describe(t.result);
    const json& r = t.report;
    EXPECT_EQ(u64(r, "total_calls"), 1000u);
    EXPECT_EQ(unattributed_sum(r), 0u);
    ASSERT_EQ(r["callers"].size(), 40u);
    for (int i = 0; i < 40; ++i) {
        char name[16];
        snprintf(name, sizeof name, "site_%02d", i);
        auto rows = callers_with_symbol(r, name);
        ASSERT_EQ(rows.size(), 1u) << name;
        EXPECT_EQ(u64(rows[0], "calls"), 25u) << name;
    }
}

TEST_F(E2E, CallerTableOverflowGoesToUnattributed) {
    Traced t = vdsotrace_run({target("E2E_CALLSITES"), "25"}, {{"VDSOTRACE_CALLERS", "16"}});
    ASSERT_EQ(t.result.code, 0) << describe(t.result);
    const json& r = t.report;
    EXPECT_EQ(u64(r, "total_calls"), 1000u);
    EXPECT_EQ(functions_of(r)["clock_gettime"], 1000u);
    EXPECT_EQ(callers_sum(r) + unattributed_sum(r), 1000u);
    EXPECT_GT(unattributed_sum(r), 0u);
    EXPECT_LE(r["callers"].size(), 16u);
    for (const json& c : r["callers"]) {
        EXPECT_EQ(u64(c, "calls"), 25u) << c.dump();  // a call site is attributed entirely or not at all
        EXPECT_EQ(c.value("symbol", "").rfind("site_", 0), 0u) << c.dump();
    }
    ASSERT_EQ(r["unattributed"].size(), 1u) << r["unattributed"].dump();
    EXPECT_EQ(r["unattributed"][0].value("function", ""), "clock_gettime");
    EXPECT_EQ(r["unattributed"][0].value("clock", ""), "CLOCK_MONOTONIC");
    EXPECT_EQ(lines_starting_with(t.result.err, "vdsotrace: ignoring bad settings").size(), 0u) << t.result.err;
}

// ---- 5. C++ exceptions -----------------------------------------------------------------------------------

TEST_F(E2E, CxxExceptionsUnderTheShim) {
    const std::string prog = target("E2E_EXCEPTIONS");
    Result plain = run({prog});
    ASSERT_EQ(plain.code, 3) << describe(plain);
    EXPECT_EQ(plain.out, "caught 1000 exceptions, 7890 message bytes\n");
    Traced t = vdsotrace_run({prog});
    EXPECT_EQ(t.result.code, plain.code) << describe(t.result);
    EXPECT_EQ(t.result.out, plain.out);
    const json& r = t.report;
    EXPECT_EQ(u64(r, "total_calls"), 3000u);
    const std::map<std::pair<std::string, int>, std::pair<std::string, uint64_t>> want_clocks = {
        {{"clock_gettime", 1}, {"CLOCK_MONOTONIC", 1000}},
        {{"clock_gettime", 4}, {"CLOCK_MONOTONIC_RAW", 1000}},
        {{"clock_gettime", 0}, {"CLOCK_REALTIME", 1000}},
    };
    EXPECT_EQ(clocks_of(r), want_clocks);
    EXPECT_EQ(callers_sum(r), 3000u);
    EXPECT_EQ(r["processes"][0]["exit"], json({{"code", 3}}));
    // Also under plain LD_PRELOAD, with nothing but the program's own output on stdout and stderr.
    const std::string session = unique_session("exc");
    Result pre = run({prog}, {{"LD_PRELOAD", shim_path()}, {"VDSOTRACE_SESSION", session}});
    EXPECT_EQ(pre.code, 3);
    EXPECT_EQ(pre.out, plain.out);
    EXPECT_EQ(pre.err, plain.err);
}

// ---- 6. signal handlers ----------------------------------------------------------------------------------

void check_signal_run(const std::string& mode, int k) {
    Traced t = vdsotrace_run({target("E2E_SIGNAL"), mode, std::to_string(k)});
    ASSERT_EQ(t.result.code, 0) << describe(t.result);
    const uint64_t main_calls = parse_number_after(t.result.out, "main calls ");
    ASSERT_NE(main_calls, UINT64_MAX) << t.result.out;
    EXPECT_NE(t.result.out.find("handler calls " + std::to_string(k)), std::string::npos) << t.result.out;
    const json& r = t.report;
    auto clocks = clocks_of(r);
    EXPECT_EQ(clocks[std::make_pair(std::string("clock_gettime"), 1)].second, main_calls);
    EXPECT_EQ(clocks[std::make_pair(std::string("clock_gettime"), 0)].second, uint64_t(k));
    EXPECT_EQ(clocks.size(), 2u);
    EXPECT_EQ(u64(r, "total_calls"), main_calls + uint64_t(k));
    EXPECT_EQ(callers_sum(r) + unattributed_sum(r), main_calls + uint64_t(k));
    uint64_t handler = 0, main_loop = 0;
    for (const json& c : callers_with_symbol(r, "on_signal")) handler += u64(c, "calls");
    for (const json& c : callers_with_symbol(r, "main_loop_until_done")) main_loop += u64(c, "calls");
    for (const json& c : callers_with_symbol(r, "main_loop_raise")) main_loop += u64(c, "calls");
    EXPECT_EQ(main_loop, main_calls);
    // Signals that land while the shim creates the segment (on the main loop's first call) are
    // counted, but unattributed: only handler calls can be.
    for (const json& u : r["unattributed"]) EXPECT_EQ(u.value("clock", ""), "CLOCK_REALTIME") << u.dump();
    EXPECT_EQ(handler + unattributed_sum(r), uint64_t(k));
    // One thread. (Its calls may be split over two slots when a signal lands while it claims its
    // slot: SignalDuringFirstCallOfThreadClaimsOneSlot pins that bug down.)
    uint64_t thread_calls = 0;
    for (const json& th : r["threads"]) {
        EXPECT_EQ(th.value("tid", 0), r["processes"][0].value("pid", -1)) << th.dump();
        thread_calls += u64(th, "calls");
    }
    EXPECT_EQ(thread_calls, main_calls + uint64_t(k));
}

TEST_F(E2E, SignalHandlerInterruptsCountingTimer) {
    for (int i = 0; i < 5; ++i) {
        SCOPED_TRACE("round " + std::to_string(i));
        check_signal_run("timer", 200);
        cleanup_recordings();
    }
}

TEST_F(E2E, SignalHandlerCountsRaise) { check_signal_run("raise", 100); }

// A signal handler that calls the clock while its thread claims its slot (the thread's first
// call) must not make the thread claim a second slot: one row per thread, with all its calls.
TEST_F(E2E, SignalDuringFirstCallOfThreadClaimsOneSlot) {
    constexpr int kWorkers = 40;
    Traced t = vdsotrace_run({target("E2E_SIGCLAIM"), std::to_string(kWorkers)});
    ASSERT_EQ(t.result.code, 0) << describe(t.result);
    const uint64_t handler = parse_number_after(t.result.out, "handler calls ");
    ASSERT_NE(handler, UINT64_MAX) << t.result.out;
    const json& r = t.report;
    EXPECT_EQ(u64(r, "total_calls"), 1u + 10u * kWorkers + handler);
    auto clocks = clocks_of(r);
    EXPECT_EQ(clocks[std::make_pair(std::string("clock_gettime"), 7)].second, 1u);
    EXPECT_EQ(clocks[std::make_pair(std::string("clock_gettime"), 1)].second, 10u * kWorkers);
    EXPECT_EQ(clocks[std::make_pair(std::string("clock_gettime"), 0)].second, handler);
    EXPECT_EQ(callers_sum(r) + unattributed_sum(r), u64(r, "total_calls"));
    std::map<int, int> rows_per_tid;
    for (const json& th : r["threads"]) ++rows_per_tid[th.value("tid", 0)];
    int duplicated = 0;
    for (const auto& [tid, n] : rows_per_tid) duplicated += n > 1;
    EXPECT_EQ(duplicated, 0) << "threads with more than one slot; threads: " << r["threads"].dump(1);
    EXPECT_EQ(r["threads"].size(), size_t(1 + kWorkers));
}

// ---- 7. semantics against libc ---------------------------------------------------------------------------

TEST_F(E2E, InterposedFunctionsBehaveLikeLibc) {
    const std::string session = unique_session("sem");
    Result r = run({target("E2E_SEMANTICS")}, {{"LD_PRELOAD", shim_path()}, {"VDSOTRACE_SESSION", session}});
    EXPECT_EQ(r.code, 0) << describe(r);
    EXPECT_EQ(r.err, "") << r.err;
    EXPECT_EQ(parse_number_after(r.out, "symbols checked "), 5u) << r.out;
    EXPECT_EQ(parse_number_after(r.out, "comparisons "), 79u) << r.out;
    const uint64_t interposed = parse_number_after(r.out, "interposed calls ");
    EXPECT_EQ(interposed, 79u) << r.out;
    // Every call through the interposed symbols was counted, and so were libc's own calls of
    // clock_gettime, clock_getres and getcpu (found through its handle): they reach the vDSO
    // through the loader's pointers (shim/libc_internal.h), twice the interposed counts. libc's
    // time and gettimeofday are IFUNCs resolved into the vDSO before the shim ran: not counted.
    Result rep = run({vdsotrace_bin(), "report", "--json", session});
    ASSERT_EQ(rep.code, 0) << describe(rep);
    json j = parse_json(rep.out, "report --json");
    note_recordings(j);
    const uint64_t libc_own = 23u + 46u + 4u;
    EXPECT_EQ(u64(j, "total_calls"), interposed + libc_own);
    EXPECT_EQ(callers_sum(j), interposed + libc_own);
    // 23 clock ids: -1000, -1 and the 4 made by clock_getcpuclockid are dynamic CPU clocks; 16, 99
    // and 1<<20 are invalid; the rest are counted by id.
    auto clocks = clocks_of(j);
    EXPECT_EQ(clocks[std::make_pair(std::string("clock_gettime"), -1)].second, 2u * (4u + 2u));
    EXPECT_EQ(clocks[std::make_pair(std::string("clock_getres"), -1)].second, 2u * 2u * (4u + 2u));
    EXPECT_EQ(clocks[std::make_pair(std::string("clock_gettime"), -2)].second, 2u * 3u);  // 16, 99, 1<<20
    EXPECT_EQ(clocks[std::make_pair(std::string("clock_gettime"), 12)].first, "clock id 12");
    EXPECT_EQ(clocks[std::make_pair(std::string("clock_gettime"), 15)].second, 2u);
    EXPECT_EQ(functions_of(j)["gettimeofday"], 4u);
    EXPECT_EQ(functions_of(j)["time"], 2u);
    EXPECT_EQ(functions_of(j)["getcpu"], 2u * 4u);
    EXPECT_EQ(functions_of(j)["clock_gettime"], 2u * 23u);
    EXPECT_EQ(functions_of(j)["clock_getres"], 2u * 46u);
}

// ---- 8. death by signal -------------------------------------------------------------------------------

TEST_F(E2E, SigkillAfter123Calls) {
    Traced t = vdsotrace_run({target("E2E_SELFKILL"), "kill", "123"});
    EXPECT_EQ(t.result.code, 137) << describe(t.result);
    const json& r = t.report;
    EXPECT_EQ(u64(r, "total_calls"), 123u);
    ASSERT_EQ(r["processes"].size(), 1u);
    EXPECT_EQ(r["processes"][0]["exit"], json({{"signal", 9}}));
    auto rows = callers_with_symbol(r, "make_calls");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(u64(rows[0], "calls"), 123u);
}

TEST_F(E2E, AbortAfter77Calls) {
    Traced t = vdsotrace_run({target("E2E_SELFKILL"), "abort", "77"});
    EXPECT_EQ(t.result.code, 134) << describe(t.result);
    const json& r = t.report;
    EXPECT_EQ(u64(r, "total_calls"), 77u);
    ASSERT_EQ(r["processes"].size(), 1u);
    EXPECT_EQ(r["processes"][0]["exit"], json({{"signal", 6}}));
}

// ---- fork: one recording per process --------------------------------------------------------------------

TEST_F(E2E, ForkedChildGetsItsOwnRecording) {
    Traced t = vdsotrace_run({target("E2E_FORK")});
    ASSERT_EQ(t.result.code, 0) << describe(t.result);
    EXPECT_EQ(t.result.out, "child exited 5\n");
    const json& r = t.report;
    EXPECT_EQ(u64(r, "total_calls"), 150u);
    const std::map<std::pair<std::string, int>, std::pair<std::string, uint64_t>> want_clocks = {
        {{"clock_gettime", 1}, {"CLOCK_MONOTONIC", 120}},
        {{"clock_gettime", 0}, {"CLOCK_REALTIME", 30}},
    };
    EXPECT_EQ(clocks_of(r), want_clocks);
    ASSERT_EQ(r["processes"].size(), 2u) << r["processes"].dump(1);
    const json* parent = nullptr;
    const json* child = nullptr;
    for (const json& p : r["processes"]) (p.value("ppid", -1) == t.result.pid ? parent : child) = &p;
    ASSERT_TRUE(parent && child) << r["processes"].dump(1);
    EXPECT_EQ(u64(*parent, "calls"), 120u);
    EXPECT_EQ((*parent)["exit"], json({{"code", 0}}));
    EXPECT_EQ(u64(*child, "calls"), 30u);
    EXPECT_EQ(child->value("ppid", -1), parent->value("pid", -2));
    EXPECT_EQ((*child)["exit"], json({{"code", 5}}));
    EXPECT_EQ(r["threads"].size(), 2u) << r["threads"].dump(1);
    for (const char* s : {"parent_before", "parent_after", "child_calls"}) {
        auto rows = callers_with_symbol(r, s);
        ASSERT_EQ(rows.size(), 1u) << s;
        EXPECT_EQ(u64(rows[0], "calls"), std::string(s) == "parent_before" ? 100u : std::string(s) == "parent_after" ? 20u : 30u);
    }
}

// ---- 9. plain LD_PRELOAD, then report and ls -------------------------------------------------------------

TEST_F(E2E, PlainPreloadThenReportBySessionPidAndLs) {
    const std::string prog = target("E2E_COUNTS");
    const std::string session = unique_session("pre");
    Result r = run({prog}, {{"LD_PRELOAD", shim_path()}, {"VDSOTRACE_SESSION", session}});
    ASSERT_EQ(r.code, 0) << describe(r);
    EXPECT_EQ(r.out, "counts done\n");
    EXPECT_EQ(r.err, "");

    Result by_session = run({vdsotrace_bin(), "report", "--json", session});
    ASSERT_EQ(by_session.code, 0) << describe(by_session);
    json js = parse_json(by_session.out, "report --json SESSION");
    note_recordings(js);
    expect_counts_report(js, basename_of(prog));
    EXPECT_EQ(js.value("session", ""), session);
    ASSERT_EQ(js["processes"].size(), 1u);
    EXPECT_EQ(js["processes"][0].value("pid", -1), r.pid);
    EXPECT_EQ(js["processes"][0]["exit"], json({{"code", 0}}));
    const std::string recording = js["processes"][0].value("recording", "");
    EXPECT_NE(recording.find("-" + session + "-" + std::to_string(r.pid) + "-"), std::string::npos) << recording;

    Result by_pid = run({vdsotrace_bin(), "report", "--json", std::to_string(r.pid)});
    ASSERT_EQ(by_pid.code, 0) << describe(by_pid);
    json jp = parse_json(by_pid.out, "report --json PID");
    expect_counts_report(jp, basename_of(prog));
    EXPECT_EQ(jp.value("session", ""), session);

    Result by_path = run({vdsotrace_bin(), "report", "--json", recording});
    ASSERT_EQ(by_path.code, 0) << describe(by_path);
    expect_counts_report(parse_json(by_path.out, "report --json PATH"), basename_of(prog));

    Result ls = run({vdsotrace_bin(), "ls", "--json"});
    ASSERT_EQ(ls.code, 0) << describe(ls);
    json rows = parse_json(ls.out, "ls --json");
    ASSERT_TRUE(rows.is_array());
    int found = 0;
    for (const json& row : rows) {
        if (row.value("session", "") != session) continue;
        ++found;
        EXPECT_EQ(row.value("pid", -1), r.pid);
        EXPECT_EQ(u64(row, "calls"), 1827u);
        EXPECT_EQ(row.value("state", ""), "exit 0");
        EXPECT_EQ(row.value("recording", ""), recording);
        EXPECT_TRUE(ends_with(row.value("exe", ""), "/" + basename_of(prog))) << row.dump();
    }
    EXPECT_EQ(found, 1) << ls.out;

    // The text report names the callers too.
    Result text = run({vdsotrace_bin(), "report", session});
    EXPECT_EQ(text.code, 0) << describe(text);
    EXPECT_NE(text.out.find("alpha_hammer"), std::string::npos) << text.out;
}

// ---- 10. LD_PRELOAD already set ------------------------------------------------------------------------

TEST_F(E2E, ExistingPreloadIsKept) {
    const std::string prog = target("E2E_COUNTS");
    Traced t = vdsotrace_run({prog}, {{"LD_PRELOAD", target("E2E_OTHER_PRELOAD")}});
    ASSERT_EQ(t.result.code, 0) << describe(t.result);
    EXPECT_NE(t.result.err.find("other-preload-loaded\n"), std::string::npos) << t.result.err;
    expect_counts_report(t.report, basename_of(prog));
}

// ---- 11. bad settings -----------------------------------------------------------------------------------

TEST_F(E2E, BadSettingsWarnOnceAndChangeNothing) {
    const std::string prog = target("E2E_THREADS");
    Result plain = run({prog, "3", "1000"});
    ASSERT_EQ(plain.code, 0) << describe(plain);
    Traced t = vdsotrace_run({prog, "3", "1000"}, {{"VDSOTRACE_THREADS", "abc"}});
    EXPECT_EQ(t.result.code, plain.code) << describe(t.result);
    EXPECT_EQ(t.result.out, plain.out);
    auto warnings = lines_starting_with(t.result.err, "vdsotrace: ignoring bad settings");
    ASSERT_EQ(warnings.size(), 1u) << t.result.err;
    EXPECT_NE(warnings[0].find("VDSOTRACE_THREADS=abc"), std::string::npos) << warnings[0];
    EXPECT_EQ(u64(t.report, "total_calls"), 3000u);
    EXPECT_EQ(t.report["threads"].size(), 3u);
    EXPECT_FALSE(t.report["processes"][0].contains("notes"));

    // The same under plain LD_PRELOAD: the warning is all the shim adds to the output.
    const std::string session = unique_session("bad");
    Result pre = run({prog, "3", "1000"},
                     {{"LD_PRELOAD", shim_path()}, {"VDSOTRACE_SESSION", session}, {"VDSOTRACE_THREADS", "abc"}});
    EXPECT_EQ(pre.code, plain.code);
    EXPECT_EQ(pre.out, plain.out);
    auto pre_warnings = lines_starting_with(pre.err, "vdsotrace: ignoring bad settings");
    ASSERT_EQ(pre_warnings.size(), 1u) << pre.err;
    EXPECT_EQ(pre.err, plain.err + pre_warnings[0] + "\n");
    Result rep = run({vdsotrace_bin(), "report", "--json", session});
    ASSERT_EQ(rep.code, 0) << describe(rep);
    json j = parse_json(rep.out, "report --json");
    note_recordings(j);
    EXPECT_EQ(u64(j, "total_calls"), 3000u);

    // A malformed session id: warned about, recorded under the process's own session.
    Result sess = run({target("E2E_COUNTS")}, {{"LD_PRELOAD", shim_path()}, {"VDSOTRACE_SESSION", "bad-session/x"}});
    EXPECT_EQ(sess.code, 0);
    EXPECT_EQ(sess.out, "counts done\n");
    auto sess_warnings = lines_starting_with(sess.err, "vdsotrace: ignoring bad settings");
    ASSERT_EQ(sess_warnings.size(), 1u) << sess.err;
    EXPECT_NE(sess_warnings[0].find("VDSOTRACE_SESSION=bad-session/x"), std::string::npos) << sess_warnings[0];
    EXPECT_EQ(sess_warnings[0].back(), ')') << sess_warnings[0];  // "... (using the process's own)", no ';' after
    Result by_pid = run({vdsotrace_bin(), "report", "--json", std::to_string(sess.pid)});
    ASSERT_EQ(by_pid.code, 0) << describe(by_pid);
    json jp = parse_json(by_pid.out, "report --json PID");
    note_recordings(jp);
    EXPECT_EQ(jp.value("session", "").rfind("pid" + std::to_string(sess.pid) + ".", 0), 0u) << jp.value("session", "");
    EXPECT_EQ(u64(jp, "total_calls"), 1827u);
}

// ---- 12. reader on bad input -----------------------------------------------------------------------------

TEST_F(E2E, ReaderRejectsBadInput) {
    Traced t = vdsotrace_run({target("E2E_COUNTS")});
    ASSERT_EQ(t.result.code, 0) << describe(t.result);
    ASSERT_EQ(t.report["processes"].size(), 1u);
    const std::string recording = t.report["processes"][0].value("recording", "");
    const std::string original = read_file(recording);
    ASSERT_GT(original.size(), 8192u);
    const std::string dir = temp_dir_root();
    auto write = [&](const std::string& name, const std::string& bytes) {
        std::string p = dir + "/" + name;
        std::ofstream(p, std::ios::binary) << bytes;
        return p;
    };
    // A good copy reads fine.
    const std::string good = write("good.rec", original);
    Result ok = run({vdsotrace_bin(), "report", "--json", good});
    ASSERT_EQ(ok.code, 0) << describe(ok);
    expect_counts_report(parse_json(ok.out, "report of a copy"), basename_of(target("E2E_COUNTS")));

    std::mt19937 rng(12345);
    std::string garbage(8192, '\0');
    for (char& c : garbage) c = char(rng());
    garbage[0] = 'X';
    std::string version9 = original;
    version9[8] = 9;
    version9[9] = 0;
    struct Case {
        std::string name, bytes, expect;
    } cases[] = {
        {"garbage.rec", garbage, "wrong magic"},
        {"truncated.rec", original.substr(0, original.size() - 4096), "truncated"},
        {"version9.rec", version9, "version 9"},
        {"empty.rec", "", "too short"},
        {"short.rec", original.substr(0, 100), "too short"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        const std::string p = write(c.name, c.bytes);
        for (bool as_json : {false, true}) {
            std::vector<std::string> argv = {vdsotrace_bin(), "report"};
            if (as_json) argv.push_back("--json");
            argv.push_back(p);
            Result r = run(argv);
            EXPECT_EQ(r.code, 1) << describe(r);
            EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
            EXPECT_EQ(r.out, "");
        }
        unlink(p.c_str());
    }
    unlink(good.c_str());

    Result missing = run({vdsotrace_bin(), "report", dir + "/no-such-recording"});
    EXPECT_EQ(missing.code, 1) << describe(missing);
    Result no_session = run({vdsotrace_bin(), "report", unique_session("none")});
    EXPECT_EQ(no_session.code, 1) << describe(no_session);

    Result frob = run({vdsotrace_bin(), "frobnicate"});
    EXPECT_EQ(frob.code, 2) << describe(frob);
    Result bogus = run({vdsotrace_bin(), "report", "--bogus"});
    EXPECT_EQ(bogus.code, 2) << describe(bogus);
    Result nothing = run({vdsotrace_bin()});
    EXPECT_EQ(nothing.code, 2) << describe(nothing);
}

// ---- 13. command not found --------------------------------------------------------------------------------

TEST_F(E2E, RunNonexistentCommandExits127) {
    Result r = run({vdsotrace_bin(), "run", "--", "/nonexistent/cmd"});
    EXPECT_EQ(r.code, 127) << describe(r);
    EXPECT_NE(r.err.find("/nonexistent/cmd"), std::string::npos) << r.err;
    Result r2 = run({vdsotrace_bin(), "run", "--", "vdsotrace-e2e-no-such-command"}, {{"PATH", "/nonexistent"}});
    EXPECT_EQ(r2.code, 127) << describe(r2);
}

// A program that never reads the clock still gets a JSON report, with zero calls, and its status.
// libc's own clock reads (shim/libc_internal.h): timespec_get and clock() reach the vDSO through
// the loader's internal pointers, never the PLT. Each is counted once per call, as the vDSO
// function libc called, attributed to the program's function that called libc.
TEST_F(E2E, CallsLibcMakesInsideItselfAreCountedWithTheirCallers) {
    constexpr uint64_t n = 137;
    Traced t = vdsotrace_run({target("E2E_LIBC_INTERNAL"), std::to_string(n)});
    ASSERT_EQ(t.result.code, 0) << describe(t.result);  // every timed wait returned ETIMEDOUT
    EXPECT_EQ(t.result.err.find("are not counted"), std::string::npos) << t.result.err;
    const std::map<std::string, uint64_t> want_functions = {
        {"clock_gettime", 3 * n}, {"gettimeofday", 0}, {"time", 0}, {"getcpu", 0}, {"clock_getres", 0}, {"getrandom", 0}};
    EXPECT_EQ(functions_of(t.report), want_functions);
    const std::map<std::pair<std::string, int>, std::pair<std::string, uint64_t>> want_clocks = {
        {{"clock_gettime", 0}, {"CLOCK_REALTIME", n}},
        {{"clock_gettime", 1}, {"CLOCK_MONOTONIC", n}},
        {{"clock_gettime", 2}, {"CLOCK_PROCESS_CPUTIME_ID", n}},
    };
    EXPECT_EQ(clocks_of(t.report), want_clocks);
    // glibc 2.36's pthread_cond_timedwait hands the deadline to the kernel (futex) and reads no
    // clock: deadline_wait has no row. The three others have one each, with every call.
    EXPECT_EQ(t.report["callers"].size(), 3u) << t.report["callers"].dump(1);
    for (const auto& [symbol, clock] : {std::pair{"spec_reader", 0}, {"cpu_meter", 2}, {"plain_call", 1}}) {
        SCOPED_TRACE(symbol);
        const auto rows = callers_with_symbol(t.report, symbol);
        ASSERT_EQ(rows.size(), 1u) << t.report["callers"].dump(1);
        EXPECT_EQ(u64(rows[0], "calls"), n);
        EXPECT_EQ(rows[0].value("clock_id", -99), clock);
        EXPECT_TRUE(ends_with(rows[0].value("file", ""), "e2e_libc_internal.c")) << rows[0].dump();
    }
    EXPECT_EQ(unattributed_sum(t.report), 0u);
}

TEST_F(E2E, ProgramWithoutClockCallsGetsAnEmptyJsonReport) {
    Traced t = vdsotrace_run({"/bin/sh", "-c", "exit 5"});
    EXPECT_EQ(t.result.code, 5) << describe(t.result);
    EXPECT_EQ(u64(t.report, "total_calls"), 0u);
    ASSERT_TRUE(t.report.contains("functions"));
    for (const auto& f : t.report["functions"]) EXPECT_EQ(u64(f, "calls"), 0u) << f;
    EXPECT_EQ(t.report["callers"].size(), 0u);
    EXPECT_NE(t.result.err.find("made no vDSO time call"), std::string::npos) << t.result.err;
}

}  // namespace
