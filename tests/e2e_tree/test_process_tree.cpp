// Whole process trees under the real shim through the real `vdsotrace`: every count is known in
// advance and checked exactly, per process and clock. Programs: see tree_*.cpp in this folder.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/e2e_harness.h"

using nlohmann::json;

namespace {

namespace harness = vdsotrace::test;
using harness::remove_recordings;
using harness::start;
using harness::temp_path;

std::string env(const char* name) { return harness::env_path(name); }
std::string slurp(const std::string& path) { return harness::read_file(path); }
std::string base(const std::string& p) { return harness::basename_of(p); }

struct Result {
    int status = -1;  // from waitpid
    std::string out, err;
    int code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }
};

Result run(const std::vector<std::string>& argv, const harness::EnvOverrides& extra_env = {}) {
    harness::Result r = harness::run(argv, extra_env);
    return {r.status, r.out, r.err};
}

// `vdsotrace run --json F [options] -- argv`: the run's result and its JSON report; the
// recordings it names are removed when it goes (tests must leave /dev/shm clean).
struct Traced {
    Result result;
    json report;
    ~Traced() { harness::remove_recordings(report); }
};

void trace(Traced* t, const std::vector<std::string>& options, const std::vector<std::string>& argv,
           const harness::EnvOverrides& extra_env = {}) {
    harness::Traced h = harness::vdsotrace_run(argv, extra_env, 120, options);
    t->result = {h.result.status, h.result.out, h.result.err};
    t->report = h.report;
}

// The processes of a report whose executable is named `exe`, in start order.
std::vector<json> processes_of(const json& report, const std::string& exe) {
    std::vector<json> out;
    for (const json& p : report["processes"])
        if (base(p["exe"]) == exe) out.push_back(p);
    return out;
}

// A process's calls per "function/clock" ("time", "clock_gettime/CLOCK_MONOTONIC").
std::map<std::string, uint64_t> clocks_of(const json& process) {
    std::map<std::string, uint64_t> m;
    for (const json& c : process["clocks"])
        m[c["function"].get<std::string>() + (c.contains("clock") ? "/" + c["clock"].get<std::string>() : "")] +=
            c["calls"].get<uint64_t>();
    return m;
}

using Clocks = std::map<std::string, uint64_t>;
const char* const kMono = "clock_gettime/CLOCK_MONOTONIC";
const char* const kReal = "clock_gettime/CLOCK_REALTIME";
const char* const kCoarse = "clock_gettime/CLOCK_MONOTONIC_COARSE";

// Reads "ready <pid>" from a pipe (bounded wait); returns the pid, or -1.
int wait_ready(int fd) {
    std::string line;
    char c;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        ssize_t n = read(fd, &c, 1);
        if (n <= 0) return -1;
        if (c == '\n') break;
        line += c;
    }
    return line.rfind("ready ", 0) == 0 ? std::atoi(line.c_str() + 6) : -1;
}

TEST(ProcessTree, ForkThenExecSplitsExactlyByProcessAndClock) {
    const long n = 1000, m = 200, k = 30;
    Traced t;
    trace(&t, {}, {env("TREE_FORK_EXEC"), env("TREE_CALLER"), std::to_string(n), std::to_string(m), std::to_string(k)});
    ASSERT_EQ(t.result.code(), 0) << t.result.err;
    EXPECT_EQ(t.report["total_calls"], n + m + k);
    ASSERT_EQ(t.report["processes"].size(), 3u);

    const std::vector<json> parents = processes_of(t.report, "tree_fork_exec");
    const std::vector<json> execd = processes_of(t.report, "tree_caller");
    ASSERT_EQ(parents.size(), 2u);
    ASSERT_EQ(execd.size(), 1u);
    const json& parent = parents[0]["clocks"][0]["clock"] == "CLOCK_MONOTONIC" ? parents[0] : parents[1];
    const json& child = &parent == &parents[0] ? parents[1] : parents[0];
    EXPECT_EQ(clocks_of(parent), (Clocks{{kMono, n}}));
    EXPECT_EQ(parent["exit"], json({{"code", 0}}));
    EXPECT_EQ(clocks_of(child), (Clocks{{kReal, m}}));
    EXPECT_EQ(child["exit"], json({{"exec", true}}));
    EXPECT_EQ(child["ppid"], parent["pid"]);
    EXPECT_EQ(clocks_of(execd[0]), (Clocks{{"time", k}}));
    EXPECT_EQ(execd[0]["pid"], child["pid"]);
    EXPECT_EQ(execd[0]["previous_image_id"], child["recording_id"]);
    EXPECT_EQ(execd[0]["argv"], json({env("TREE_CALLER"), std::to_string(k), "time", "3"}));
    // Reaped by its parent, not by vdsotrace: the shim recorded its exit code in exit().
    EXPECT_EQ(execd[0]["exit"], json({{"code", 3}}));
}

TEST(ProcessTree, ForkedChildLinksToTheRecordingOfItsParent) {
    // The daemon's first process records before forking; the grandchild links to that recording.
    Traced t;
    trace(&t, {}, {env("TREE_DAEMON"), "77"});
    ASSERT_EQ(t.result.code(), 0) << t.result.err;
    const std::vector<json> p = processes_of(t.report, "tree_daemon");
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(clocks_of(p[0]), (Clocks{{kReal, 1}}));
    EXPECT_EQ(p[1]["parent_recording_id"], p[0]["recording_id"]);
}

TEST(ProcessTree, DoubleForkingDaemonThatClosesEveryDescriptorIsCountedAndReaped) {
    Traced t;
    trace(&t, {}, {env("TREE_DAEMON"), "77"});
    ASSERT_EQ(t.result.code(), 0) << t.result.err;
    EXPECT_EQ(t.report["total_calls"], 78);
    const std::vector<json> p = processes_of(t.report, "tree_daemon");
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[0]["exit"], json({{"code", 0}}));
    EXPECT_EQ(clocks_of(p[1]), (Clocks{{kMono, 77}}));
    // vdsotrace is the subreaper of the tree: the orphaned daemon's exit code is known.
    EXPECT_EQ(p[1]["exit"], json({{"code", 7}}));
}

TEST(ProcessTree, PosixSpawnAndVforkChildrenRecordOnTheirOwn) {
    Traced t;
    trace(&t, {}, {env("TREE_SPAWN"), env("TREE_CALLER"), "100", "40"});
    ASSERT_EQ(t.result.code(), 0) << t.result.err;
    EXPECT_EQ(t.report["total_calls"], 180);
    const std::vector<json> parent = processes_of(t.report, "tree_spawn");
    ASSERT_EQ(parent.size(), 1u);
    EXPECT_EQ(clocks_of(parent[0]), (Clocks{{"gettimeofday", 100}}));
    EXPECT_EQ(parent[0]["exit"], json({{"code", 0}}));
    Clocks children;
    for (const json& c : processes_of(t.report, "tree_caller")) {
        EXPECT_EQ(c["ppid"], parent[0]["pid"]);
        for (auto& [k, v] : clocks_of(c)) children[k] += v;
    }
    EXPECT_EQ(children, (Clocks{{kCoarse, 40}, {"time", 40}}));
}

// A vfork child that calls the clock before exec runs on its parent's memory and thread: its
// calls count in the parent's recording (documented), which keeps its own pid and every count.
void check_vfork_child_calls(bool parent_records_first) {
    const long x = 25, k = 40, n = 300;
    Traced t;
    trace(&t, {}, {env("TREE_VFORK_CALLS"), env("TREE_CALLER"), std::to_string(x), std::to_string(k), std::to_string(n),
                   parent_records_first ? "1" : "0"});
    ASSERT_EQ(t.result.code(), 0) << t.result.err;
    const long before = parent_records_first ? 1 : 0;
    EXPECT_EQ(t.report["total_calls"], x + k + n + before);
    const std::vector<json> parent = processes_of(t.report, "tree_vfork_calls");
    const std::vector<json> execd = processes_of(t.report, "tree_caller");
    ASSERT_EQ(parent.size(), 1u);
    ASSERT_EQ(execd.size(), 1u);
    EXPECT_EQ(clocks_of(parent[0]), (Clocks{{kReal, n + before}, {kMono, x}}));
    EXPECT_EQ(parent[0]["exit"], json({{"code", 0}}));
    EXPECT_NE(parent[0]["pid"], execd[0]["pid"]);
    EXPECT_EQ(execd[0]["ppid"], parent[0]["pid"]);
    EXPECT_EQ(clocks_of(execd[0]), (Clocks{{"time", k}}));
    EXPECT_EQ(execd[0]["exit"], json({{"code", 9}}));
}

TEST(ProcessTree, VforkChildCallingBeforeExecDoesNotCorruptAParentWithoutRecording) {
    check_vfork_child_calls(false);
}

TEST(ProcessTree, VforkChildCallingBeforeExecDoesNotCorruptARecordingParent) { check_vfork_child_calls(true); }

TEST(ProcessTree, ThousandShortLivedThreadsKeepTheirNamesAndExactCounts) {
    // 1,000 threads, 50 at once, with the default 256 slots: an exited thread's slot is reused
    // after its counts and name are kept, so every thread is reported on its own.
    Traced t;
    trace(&t, {}, {env("TREE_THREADS"), "1000", "10"});
    ASSERT_EQ(t.result.code(), 0) << t.result.err;
    EXPECT_EQ(t.report["total_calls"], 10001);
    EXPECT_EQ(t.report["processes"][0]["calls"], 10001);
    EXPECT_FALSE(t.report["processes"][0].contains("notes")) << t.report["processes"][0];
    std::map<std::string, uint64_t> by_name;
    for (const json& th : t.report["threads"]) {
        EXPECT_FALSE(th["shared"].get<bool>()) << th;
        by_name[th["name"]] += th["calls"].get<uint64_t>();
        if (th["name"] != "boss") {
            EXPECT_TRUE(th["exited"].get<bool>()) << th;
        }
    }
    ASSERT_EQ(by_name.size(), 1001u);
    EXPECT_EQ(by_name["boss"], 1u);
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(by_name["w" + std::to_string(i)], 10u) << i;
}

TEST(ProcessTree, MoreLiveThreadsThanSlotsShareTheOverflowSlotExactly) {
    Traced t;
    trace(&t, {}, {env("TREE_THREADS"), "1000", "10", "together"}, {{"VDSOTRACE_THREADS", "8"}});
    ASSERT_EQ(t.result.code(), 0) << t.result.err;
    EXPECT_EQ(t.report["total_calls"], 10001);
    uint64_t shared = 0, sum = 0;
    for (const json& th : t.report["threads"]) {
        sum += th["calls"].get<uint64_t>();
        if (th["shared"]) shared += th["calls"].get<uint64_t>();
    }
    EXPECT_EQ(sum, 10001u);
    EXPECT_GT(shared, 0u);
    ASSERT_TRUE(t.report["processes"][0].contains("notes"));
    EXPECT_NE(t.report["processes"][0]["notes"][0].get<std::string>().find("VDSOTRACE_THREADS"), std::string::npos);
}

TEST(ProcessTree, PipelineOfSeveralProgramsIsCountedPerProcess) {
    const std::string c = env("TREE_CALLER");
    Traced t;
    trace(&t, {}, {"/bin/sh", "-c", c + " 100 mono 0 | " + c + " 200 real 0 stdin | " + c + " 300 time 0 stdin"});
    ASSERT_EQ(t.result.code(), 0) << t.result.err;
    const std::vector<json> p = processes_of(t.report, "tree_caller");
    ASSERT_EQ(p.size(), 3u);
    Clocks all;
    for (const json& one : p) {
        const Clocks cl = clocks_of(one);
        ASSERT_EQ(cl.size(), 1u);
        EXPECT_TRUE(cl == (Clocks{{kMono, 100}}) || cl == (Clocks{{kReal, 200}}) || cl == (Clocks{{"time", 300}}));
        EXPECT_EQ(one["exit"], json({{"code", 0}}));
        for (auto& [k, v] : cl) all[k] += v;
    }
    EXPECT_EQ(all, (Clocks{{kMono, 100}, {kReal, 200}, {"time", 300}}));
    uint64_t others = 0;  // the shell's own calls, if it makes any
    for (const json& one : t.report["processes"])
        if (base(one["exe"]) != "tree_caller") others += one["calls"].get<uint64_t>();
    EXPECT_EQ(t.report["total_calls"], 600 + others);
}

TEST(ProcessTree, RunExitsWithTheCommandsStatus) {
    Traced t;
    trace(&t, {}, {env("TREE_CALLER"), "5", "mono", "42"});
    EXPECT_EQ(t.result.code(), 42);
    EXPECT_EQ(t.report["processes"][0]["exit"], json({{"code", 42}}));
    EXPECT_NE(t.result.err.find("vdsotrace report"), std::string::npos) << t.result.err;

    Traced killed;
    trace(&killed, {}, {"/bin/sh", "-c", env("TREE_CALLER") + " 3 mono 0; kill -TERM $$"});
    EXPECT_EQ(killed.result.code(), 128 + SIGTERM);
}

TEST(ProcessTree, SigkilledProgramKeepsEveryCallAndIsReportedKilled) {
    const std::string json_file = temp_path("kill.json"), err = temp_path("kill.err");
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t vt = start({env("VDSOTRACE_BIN"), "run", "--keep-live", "-o", "/dev/null", "--json", json_file, "--", env("TREE_SLEEPER"), "real", "500"}, "",
                     err, {}, false, fds[1]);
    close(fds[1]);
    const int pid = wait_ready(fds[0]);
    close(fds[0]);
    ASSERT_GT(pid, 0);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(vt, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL) << status;
    json report = json::parse(slurp(json_file), nullptr, false);
    std::remove(json_file.c_str());
    std::remove(err.c_str());
    ASSERT_TRUE(report.contains("processes"));
    EXPECT_EQ(report["total_calls"], 500);
    EXPECT_EQ(report["processes"][0]["exit"], json({{"signal", SIGKILL}}));
    Result ls = run({env("VDSOTRACE_BIN"), "ls", "--json"});
    json rows = json::parse(ls.out, nullptr, false);
    bool listed = false;
    for (const json& r : rows)
        if (r.value("pid", 0) == pid && r.value("session", "") == report["session"]) {
            listed = true;
            EXPECT_EQ(r["state"], "signal 9");
            EXPECT_EQ(r["calls"], 500);
        }
    EXPECT_TRUE(listed) << ls.out;
    remove_recordings(report);
}

TEST(ProcessTree, SigkilledProgramUnderPlainPreloadIsReportedVanished) {
    const std::string session = "e2etreekill" + std::to_string(getpid());
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const std::string err = temp_path("vanish.err");
    pid_t p = start({env("TREE_SLEEPER"), "tod", "250"}, "", err,
                    {{"LD_PRELOAD", env("VDSOTRACE_SHIM")}, {"VDSOTRACE_SESSION", session}}, false, fds[1]);
    close(fds[1]);
    ASSERT_EQ(wait_ready(fds[0]), p);
    close(fds[0]);
    kill(p, SIGKILL);
    waitpid(p, nullptr, 0);
    std::remove(err.c_str());
    Result r = run({env("VDSOTRACE_BIN"), "report", "--json", session});
    ASSERT_EQ(r.code(), 0) << r.err;
    json report = json::parse(r.out, nullptr, false);
    EXPECT_EQ(report["total_calls"], 250);
    EXPECT_EQ(report["processes"][0]["exit"], json({{"vanished", true}}));
    Result ls = run({env("VDSOTRACE_BIN"), "ls"});
    EXPECT_NE(ls.out.find("vanished"), std::string::npos) << ls.out;
    remove_recordings(report);
}

TEST(ProcessTree, CtrlCReachesTheCommandAndTheReportStillComes) {
    const std::string json_file = temp_path("int.json"), err = temp_path("int.err");
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t vt = start({env("VDSOTRACE_BIN"), "run", "--keep-live", "-o", "/dev/null", "--json", json_file, "--", env("TREE_SLEEPER"), "mono", "300"}, "",
                     err, {}, true, fds[1]);
    close(fds[1]);
    ASSERT_GT(wait_ready(fds[0]), 0);
    close(fds[0]);
    kill(-vt, SIGINT);  // what the terminal does on Ctrl-C: the whole foreground process group
    int status = 0;
    waitpid(vt, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGINT) << status;
    EXPECT_NE(slurp(err).find("vdsotrace report"), std::string::npos) << slurp(err);
    json report = json::parse(slurp(json_file), nullptr, false);
    std::remove(json_file.c_str());
    std::remove(err.c_str());
    ASSERT_TRUE(report.contains("processes"));
    EXPECT_EQ(report["total_calls"], 300);
    EXPECT_EQ(report["processes"][0]["exit"], json({{"signal", SIGINT}}));
    remove_recordings(report);
}

TEST(ProcessTree, NoFollowExecLeavesExecdProgramsUntraced) {
    Traced t;
    trace(&t, {"--no-follow-exec"}, {env("TREE_FORK_EXEC"), env("TREE_CALLER"), "100", "20", "3"});
    ASSERT_EQ(t.result.code(), 0) << t.result.err;
    EXPECT_EQ(t.report["total_calls"], 120);
    EXPECT_TRUE(processes_of(t.report, "tree_caller").empty());
}

TEST(ProcessTree, SavedSessionIsReadLaterAndValidated) {
    const std::string saved = temp_path("saved.vdsotrace");
    Traced t;
    trace(&t, {"--save", saved}, {env("TREE_FORK_EXEC"), env("TREE_CALLER"), "10", "20", "30"});
    ASSERT_EQ(t.result.code(), 0) << t.result.err;
    remove_recordings(t.report);  // the saved copy must stand alone
    Result r = run({env("VDSOTRACE_BIN"), "report", "--json", saved});
    ASSERT_EQ(r.code(), 0) << r.err;
    json again = json::parse(r.out, nullptr, false);
    EXPECT_EQ(again["total_calls"], 60);
    EXPECT_EQ(again["processes"].size(), 3u);
    EXPECT_EQ(again["session"], t.report["session"]);

    // Truncated: refused with a message, never a crash.
    std::filesystem::resize_file(saved, std::filesystem::file_size(saved) - 100);
    Result bad = run({env("VDSOTRACE_BIN"), "report", saved});
    EXPECT_EQ(bad.code(), 1);
    EXPECT_NE(bad.err.find("truncated"), std::string::npos) << bad.err;
    std::remove(saved.c_str());
}

TEST(ProcessTree, OutputDirKeepsACopyOfEachRecording) {
    const std::string dir = temp_path("dir");
    Traced t;
    trace(&t, {"--output-dir", dir}, {env("TREE_FORK_EXEC"), env("TREE_CALLER"), "1", "2", "3"});
    ASSERT_EQ(t.result.code(), 0) << t.result.err;
    remove_recordings(t.report);
    Result r = run({env("VDSOTRACE_BIN"), "report", "--json", dir});
    ASSERT_EQ(r.code(), 0) << r.err;
    EXPECT_EQ(json::parse(r.out, nullptr, false)["total_calls"], 6);
    std::filesystem::remove_all(dir);
}

TEST(ProcessTree, ReportPerProcessAndForOnePid) {
    Traced t;
    trace(&t, {}, {env("TREE_FORK_EXEC"), env("TREE_CALLER"), "11", "22", "33"});
    ASSERT_EQ(t.result.code(), 0) << t.result.err;
    Result r = run({env("VDSOTRACE_BIN"), "report", "--per-process", t.report["session"]});
    ASSERT_EQ(r.code(), 0) << r.err;
    EXPECT_NE(r.out.find("replaced by exec"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("exited with code 0"), std::string::npos) << r.out;
    const json execd = processes_of(t.report, "tree_caller").at(0);
    Result one = run({env("VDSOTRACE_BIN"), "report", "--json", std::to_string(execd["pid"].get<int>())});
    ASSERT_EQ(one.code(), 0) << one.err;
    EXPECT_EQ(json::parse(one.out, nullptr, false)["total_calls"], 22 + 33);  // both images of that pid
}

// A program started with plain LD_PRELOAD (not under `run`), calling the clock in a loop; killed
// and its recording removed at the end.
struct RunningSleeper {
    pid_t pid = -1;
    std::string session;
    explicit RunningSleeper(const std::string& what) : session("e2etreelive" + std::to_string(getpid())) {
        int fds[2];
        if (pipe(fds) != 0) return;
        pid = start({env("TREE_SLEEPER"), what}, "", temp_path("sleeper.err"),
                    {{"LD_PRELOAD", env("VDSOTRACE_SHIM")}, {"VDSOTRACE_SESSION", session}}, false, fds[1]);
        close(fds[1]);
        if (wait_ready(fds[0]) != pid) ADD_FAILURE() << "the sleeper did not start";
        close(fds[0]);
    }
    ~RunningSleeper() {
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
        }
        std::remove(temp_path("sleeper.err").c_str());
        run({env("VDSOTRACE_BIN"), "clean", session});
    }
};

TEST(Top, OnceJsonShowsAPositiveRateForTheFunctionARunningProgramCalls) {
    RunningSleeper s("tod");
    Result r = run({env("VDSOTRACE_BIN"), "top", std::to_string(s.pid), "--once", "--json", "--interval", "0.3"});
    ASSERT_EQ(r.code(), 0) << r.err;
    json view = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(view.contains("functions")) << r.out;
    ASSERT_EQ(view["functions"].size(), 1u) << r.out;
    EXPECT_EQ(view["functions"][0]["function"], "gettimeofday");
    EXPECT_GT(view["functions"][0]["rate"].get<double>(), 0.0);
    ASSERT_EQ(view["processes"].size(), 1u);
    EXPECT_EQ(view["processes"][0]["pid"], s.pid);
    EXPECT_EQ(view["processes"][0]["state"], "running");
    ASSERT_FALSE(view["callers"].empty());
    EXPECT_GT(view["callers"][0]["rate"].get<double>(), 0.0);
    // The call site is inlined from tree_calls.h into main: with debug information (the default
    // debugoptimized build) it is named by its source; without (a plain release build) by main.
    const std::string caller = view["callers"][0]["caller"].get<std::string>();
    EXPECT_TRUE(caller.find("tree_calls.h") != std::string::npos || caller == "main") << r.out;
}

TEST(Top, PlainTextWhenNotATerminal) {
    RunningSleeper s("time");
    Result r = run({env("VDSOTRACE_BIN"), "top", s.session, "--once", "--interval", "0.2"});
    ASSERT_EQ(r.code(), 0) << r.err;
    EXPECT_EQ(r.out.find("\x1b"), std::string::npos);
    EXPECT_NE(r.out.find("calls/s"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("time"), std::string::npos) << r.out;
}

TEST(Clean, RemovesEndedRecordingsButNeverThoseOfRunningProcesses) {
    RunningSleeper s("mono");
    // An ended process in the same session.
    Result ended = run({env("TREE_CALLER"), "4", "real"}, {{"LD_PRELOAD", env("VDSOTRACE_SHIM")},
                                                            {"VDSOTRACE_SESSION", s.session}});
    ASSERT_EQ(ended.code(), 0);
    auto count = [&] {
        size_t n = 0;
        for (const auto& e : std::filesystem::directory_iterator("/dev/shm"))
            n += e.path().filename().string().find("-" + s.session + "-") != std::string::npos;
        return n;
    };
    ASSERT_EQ(count(), 2u);
    Result young = run({env("VDSOTRACE_BIN"), "clean", s.session, "--older-than", "1h"});
    EXPECT_EQ(young.code(), 0) << young.err;
    EXPECT_EQ(count(), 2u);  // ended less than an hour ago: kept
    Result c = run({env("VDSOTRACE_BIN"), "clean", s.session});
    EXPECT_EQ(c.code(), 0) << c.err;
    EXPECT_NE(c.out.find("removed 1 recording(s); kept 1 of running processes"), std::string::npos) << c.out;
    EXPECT_EQ(count(), 1u);
    Result usage = run({env("VDSOTRACE_BIN"), "clean"});
    EXPECT_EQ(usage.code(), 2);
    Result bad = run({env("VDSOTRACE_BIN"), "clean", "--all", "--older-than", "soon"});
    EXPECT_EQ(bad.code(), 2);
}

// The interactive view, driven through tmux on a narrow (60-column) terminal: it shows the live
// rate, pauses, changes the sort order and quits on its keys.
struct Tmux {
    std::string socket = "vdsotrace_e2e_" + std::to_string(getpid());
    Result cmd(std::vector<std::string> args) const {
        args.insert(args.begin(), {"/usr/bin/tmux", "-L", socket});
        return run(args);
    }
    std::string screen() const { return cmd({"capture-pane", "-p", "-J", "-t", "top"}).out; }  // -J: wrapped lines joined
    // Waits (bounded) until the screen contains `text`.
    bool shows(const std::string& text) const {
        for (int i = 0; i < 100; ++i) {
            if (screen().find(text) != std::string::npos) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return false;
    }
    ~Tmux() { cmd({"kill-server"}); }
};

TEST(Top, InteractiveViewOnANarrowTerminalRespondsToKeys) {
    if (access("/usr/bin/tmux", X_OK) != 0) GTEST_SKIP() << "tmux is not installed (.ci/packages lists it)";
    RunningSleeper s("mono");
    Tmux tmux;
    Result started = tmux.cmd({"new-session", "-d", "-s", "top", "-x", "60", "-y", "24",
                               env("VDSOTRACE_BIN") + " top " + std::to_string(s.pid) + " --interval 0.2"});
    ASSERT_EQ(started.code(), 0) << started.err;
    ASSERT_TRUE(tmux.shows("clock_gettime CLOCK_MONOTONIC")) << tmux.screen();
    const std::string screen = tmux.screen();
    EXPECT_NE(screen.find("top callers"), std::string::npos) << screen;  // the narrow layout
    EXPECT_NE(screen.find("sort: rate"), std::string::npos) << screen;
    std::istringstream lines(screen);
    for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 60u) << line;
    tmux.cmd({"send-keys", "-t", "top", "p"});
    EXPECT_TRUE(tmux.shows("(paused)")) << tmux.screen();
    tmux.cmd({"send-keys", "-t", "top", "p"});
    tmux.cmd({"send-keys", "-t", "top", "s"});
    EXPECT_TRUE(tmux.shows("sort: total")) << tmux.screen();
    tmux.cmd({"send-keys", "-t", "top", "q"});
    bool ended = false;
    for (int i = 0; i < 50 && !ended; ++i) {
        ended = tmux.cmd({"has-session", "-t", "top"}).code() != 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(ended) << "q did not quit";
}

}  // namespace
