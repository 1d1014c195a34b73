// The text report's words: counts of one are singular ("1 call"), a caller that could not be
// named says why. Built from a Report value, so each case is exact.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "report_output.h"

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
