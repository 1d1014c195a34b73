// The text report's words (counts of one are singular, "1 call"; a caller that could not be named
// says why) and the flame graph's size. Built from Report values, so each case is exact.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include <fmt/format.h>

#include "tools/render/report_output.h"
#include "tools/render/stack_export.h"

namespace tools = vdsotrace::tools;

namespace {

std::string text_of(const tools::Report& r, size_t top = 20) {
    std::ostringstream out;
    tools::write_text(r, tools::TextOptions{top, false}, out);
    return out.str();
}

tools::Report one_call() {
    tools::Report r;
    r.session = "s";
    r.total_calls = 1;
    r.seconds = 0.001;
    r.functions = {{"clock_gettime", 1}, {"gettimeofday", 0}, {"time", 0}, {"getcpu", 0}, {"clock_getres", 0}};
    r.clocks = {{"clock_gettime", 1, "CLOCK_MONOTONIC", 1}};
    tools::CallerRow c;
    c.function = "clock_gettime";
    c.clock = "CLOCK_MONOTONIC";
    c.module = "/gone/app";
    c.offset = 0x1419;
    c.calls = 1;
    c.unnamed_because = "module file deleted or moved";
    r.callers = {c};
    tools::ProcessRow p;
    p.pid = 7;
    p.exe = "/gone/app";
    p.fate = tools::ProcessFate::kExited;
    p.calls = 1;
    p.seconds = 0.001;
    r.processes = {p};
    return r;
}

}  // namespace

TEST(ReportText, OneCallIsSingular) {
    const std::string t = text_of(one_call());
    EXPECT_NE(t.find("\n1 vDSO time call in "), std::string::npos) << t;
    EXPECT_NE(t.find("exited with code 0, 1 call over "), std::string::npos) << t;
    EXPECT_EQ(t.find("1 calls"), std::string::npos) << t;
}

TEST(ReportText, MoreCallSitesCountedInWords) {
    tools::Report r = one_call();
    r.callers.push_back(r.callers[0]);
    EXPECT_NE(text_of(r, 1).find("... 1 more call site (--top N shows more)"), std::string::npos) << text_of(r, 1);
    r.callers.push_back(r.callers[0]);
    EXPECT_NE(text_of(r, 1).find("... 2 more call sites (--top N shows more)"), std::string::npos);
}

TEST(ReportText, AnUnnamedCallerSaysWhy) {
    const std::string t = text_of(one_call());
    EXPECT_NE(t.find("app+0x1419  (unnamed: module file deleted or moved)"), std::string::npos) << t;
}

// The title names the program as started: Debian's redis-server is a link to redis-check-rdb.
TEST(ReportText, TitleNamesTheProgramAsStarted) {
    tools::Report r = one_call();
    r.processes[0].exe = "/usr/bin/redis-check-rdb";
    r.processes[0].argv = {"redis-server", "--port", "6399"};
    EXPECT_EQ(text_of(r).rfind("vdsotrace report: redis-server (pid 7), session s\n", 0), 0u) << text_of(r);
    r.processes[0].argv.clear();  // argv not recorded: the executable
    EXPECT_EQ(text_of(r).rfind("vdsotrace report: redis-check-rdb (pid 7), session s\n", 0), 0u) << text_of(r);
}

// A long C++ caller is shortened in text, whole in JSON.
TEST(ReportText, LongCppNamesShortenedInTextOnly) {
    tools::Report r = one_call();
    const std::string full =
        "v8::internal::Compiler::Compile(v8::internal::Isolate*, v8::internal::Handle<v8::internal::SharedFunctionInfo>, "
        "v8::internal::Compiler::ClearExceptionFlag, v8::internal::IsCompiledScope*)";
    r.callers[0].symbol = full;
    r.callers[0].unnamed_because.clear();
    r.callers[0].via = tools::CallerRow::Via{};
    r.callers[0].via->name = full;
    const std::string t = text_of(r);
    EXPECT_NE(t.find("v8::internal::Compiler::Compile(\u2026)  (app+0x1419)  via v8::internal::Compiler::Compile(\u2026)\n"),
              std::string::npos)
        << t;
    const nlohmann::json j = tools::to_json(r);
    EXPECT_EQ(j["callers"][0]["symbol"], full);
    EXPECT_EQ(j["callers"][0]["via"]["name"], full);
}

// The flame graph is as tall as the frames it draws: a one-call sliver 200 frames deep under a
// hot three-frame path is narrower than a pixel, left out (as flamegraph.pl does), and said so;
// the hot path's leaf lies in the first screen.
TEST(FlameGraph, SizedToTheFramesItDraws) {
    tools::StackReport s;
    s.enabled = true;
    auto frame = [](const std::string& name) {
        tools::StackFrame f;
        f.symbol = name;
        return f;
    };
    tools::StackRow hot;
    hot.function = "clock_gettime";
    hot.calls = 100000;
    hot.frames = {frame("main"), frame("a"), frame("b")};
    tools::StackRow sliver;
    sliver.function = "clock_gettime";
    sliver.calls = 1;
    sliver.frames = {frame("main")};
    for (int i = 0; i < 200; ++i) sliver.frames.push_back(frame("s" + std::to_string(i)));
    s.stacks = {hot, sliver};
    std::ostringstream out;
    tools::write_flamegraph(s, "test", out);
    const std::string svg = out.str();
    // all, main, a, b, clock_gettime: 5 levels of 17 px, 40 above, 20 below.
    EXPECT_NE(svg.find("width=\"1200\" height=\"145\""), std::string::npos) << svg.substr(0, 300);
    EXPECT_EQ(svg.find("data-name=\"s0\""), std::string::npos);
    EXPECT_NE(svg.find("; 1 path narrower than a pixel not drawn (--folded has them)"), std::string::npos);
    const size_t leaf = svg.find("data-name=\"clock_gettime\"");
    ASSERT_NE(leaf, std::string::npos);
    const size_t y = svg.find(" y=\"", svg.find("<rect", leaf));
    EXPECT_EQ(std::stoi(svg.substr(y + 4)), 40);  // its top edge, well within the first 900 px
    // Both stacks drawn when both are a pixel wide or more.
    s.stacks[1].calls = 1000;
    std::ostringstream both;
    tools::write_flamegraph(s, "test", both);
    EXPECT_NE(both.str().find("data-name=\"s199\""), std::string::npos);
    EXPECT_EQ(both.str().find("narrower than a pixel"), std::string::npos);
}

// Beyond 10 threads or processes: grouped by thread name and executable, the busiest 10 shown,
// the rest counted; --all (TextOptions::all) lists each.
TEST(ReportText, ManyThreadsAndProcessesAreGroupedAndCut) {
    tools::Report r = one_call();
    r.threads.clear();
    for (int i = 0; i < 13; ++i) r.threads.push_back({7, 100 + i, "t" + std::to_string(i), true, false, uint64_t(13 - i)});
    for (int i = 0; i < 11; ++i) r.threads.push_back({7, 200 + i, "worker", false, false, 100});
    r.processes.clear();
    for (int i = 0; i < 12; ++i) {
        tools::ProcessRow p;
        p.pid = 1000 + i;
        p.exe = "/bin/bash";
        p.fate = tools::ProcessFate::kExited;
        p.calls = 1;
        r.processes.push_back(p);
    }
    tools::ProcessRow server;
    server.pid = 2000;
    server.exe = "/usr/bin/redis-server";
    server.fate = tools::ProcessFate::kRunning;
    server.calls = 500;
    r.processes.push_back(server);

    std::ostringstream grouped;
    tools::write_text(r, tools::TextOptions{20, false, 10, false}, grouped);
    const std::string g = grouped.str();
    EXPECT_NE(g.find("  24 threads by name, busiest first (--all lists each)\n"), std::string::npos) << g;
    EXPECT_NE(g.find(fmt::format("  {:<24} {:>9} {:>15}  \n", "worker", "11", "1,100")), std::string::npos) << g;
    EXPECT_NE(g.find(fmt::format("  {:<24} {:>9} {:>15}  exited\n", "t0", "1", "13")), std::string::npos) << g;
    // worker and t0..t8 shown; t9..t12 (4+3+2+1 calls) counted.
    EXPECT_EQ(g.find(" t9 "), std::string::npos) << g;
    EXPECT_NE(g.find("  ... 4 more names (10 calls; --all shows them)\n"), std::string::npos) << g;
    EXPECT_NE(g.find("  13 processes by executable, busiest first (--all lists each with how it ended)\n"
                     "  /usr/bin/redis-server: 1 process, 500 calls (1 running)\n"
                     "  /bin/bash: 12 processes, 12 calls (12 exited)\n"),
              std::string::npos)
        << g;
    EXPECT_EQ(g.find("pid 1000"), std::string::npos);

    std::ostringstream all;
    tools::write_text(r, tools::TextOptions{20, false, 10, true}, all);
    EXPECT_NE(all.str().find("     112  t12"), std::string::npos) << all.str();
    EXPECT_NE(all.str().find("  pid 1011 (parent 0): /bin/bash\n"), std::string::npos) << all.str();
}

// A group's fates are counted with the same digit grouping as its processes and calls.
TEST(ReportText, LargeGroupsCountTheirFatesWithGroupedDigits) {
    tools::Report r = one_call();
    r.processes.clear();
    for (int i = 0; i < 2000; ++i) {
        tools::ProcessRow p;
        p.pid = 1000 + i;
        p.exe = "/usr/bin/date";
        p.fate = i < 1500 ? tools::ProcessFate::kExited : tools::ProcessFate::kRunning;
        p.calls = 1;
        r.processes.push_back(p);
    }
    std::ostringstream out;
    tools::write_text(r, tools::TextOptions{20, false, 10, false}, out);
    EXPECT_NE(out.str().find("  /usr/bin/date: 2,000 processes, 2,000 calls (1,500 exited, 500 running)\n"),
              std::string::npos)
        << out.str();
}
