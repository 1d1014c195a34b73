// The perf map parser (tools/symbols/perf_map.h): perf's "START SIZE name" lines as node, HotSpot and
// CPython write them, later lines winning over the code they replace, and malformed input.
#include <gtest/gtest.h>

#include "tools/symbols/perf_map.h"

namespace vt = vdsotrace::tools;

namespace {

std::string name_at(const vt::PerfMap& m, uint64_t address, uint64_t* offset = nullptr) {
    const std::string* n = m.find(address, offset);
    return n ? *n : "(none)";
}

}  // namespace

TEST(PerfMap, NodeAndHotSpotLines) {
    const vt::PerfMap m = vt::PerfMap::parse(
        "7ff3b674ee80 378 JS:~hotA /tmp/app.js:1:14\n"
        "0x00007fb2f4ec7980 0x0000000000000098 long Clock.hot(int)\n"
        "18c4000 300 Builtin:DeoptimizationEntry_Eager\n");
    EXPECT_EQ(m.lines(), 3u);
    uint64_t off = 0;
    EXPECT_EQ(name_at(m, 0x7ff3b674ee80, &off), "JS:~hotA /tmp/app.js:1:14");
    EXPECT_EQ(off, 0u);
    EXPECT_EQ(name_at(m, 0x7ff3b674ee80 + 0x377, &off), "JS:~hotA /tmp/app.js:1:14");
    EXPECT_EQ(off, 0x377u);
    EXPECT_EQ(name_at(m, 0x7ff3b674ee80 + 0x378), "(none)");  // the end is exclusive
    EXPECT_EQ(name_at(m, 0x7ff3b674ee7f), "(none)");
    EXPECT_EQ(name_at(m, 0x7fb2f4ec7980 + 0x4d, &off), "long Clock.hot(int)");
    EXPECT_EQ(off, 0x4du);
    EXPECT_EQ(name_at(m, 0x18c4000), "Builtin:DeoptimizationEntry_Eager");
}

TEST(PerfMap, LaterLinesReplaceTheCodeTheyCover) {
    // B is written over the middle of A (code moved there after A was freed): A keeps both ends,
    // with offsets still from A's start; C replaces B exactly.
    const vt::PerfMap m = vt::PerfMap::parse(
        "1000 100 A\n"
        "1040 20 B\n"
        "1040 20 C\n");
    uint64_t off = 0;
    EXPECT_EQ(name_at(m, 0x1000), "A");
    EXPECT_EQ(name_at(m, 0x103f), "A");
    EXPECT_EQ(name_at(m, 0x1040), "C");
    EXPECT_EQ(name_at(m, 0x105f), "C");
    EXPECT_EQ(name_at(m, 0x1060, &off), "A");
    EXPECT_EQ(off, 0x60u);
    EXPECT_EQ(name_at(m, 0x10ff), "A");
    EXPECT_EQ(name_at(m, 0x1100), "(none)");
    // A line covering several older ones replaces them all.
    const vt::PerfMap n = vt::PerfMap::parse("1000 10 A\n1010 10 B\n1020 10 C\n1008 20 D\n");
    EXPECT_EQ(name_at(n, 0x1007), "A");
    EXPECT_EQ(name_at(n, 0x1008), "D");
    EXPECT_EQ(name_at(n, 0x1027), "D");
    EXPECT_EQ(name_at(n, 0x1028), "C");
}

TEST(PerfMap, MalformedLinesAreSkipped) {
    const vt::PerfMap m = vt::PerfMap::parse(
        "\n"
        "garbage\n"
        "1000 10\n"                       // no name
        "1000 0 empty\n"                  // no size
        "zz00 10 not hex\n"
        "11111111111111111 10 too long\n" // 17 digits
        "ffffffffffffff00 200 wraps\n"
        "2000  10\ttwo  spaces\n"
        "3000 10 ok\r\n"
        "4000 10 last without newline");
    EXPECT_EQ(m.lines(), 3u);
    EXPECT_EQ(name_at(m, 0x2005), "two  spaces");
    EXPECT_EQ(name_at(m, 0x3005), "ok");
    EXPECT_EQ(name_at(m, 0x4005), "last without newline");
    EXPECT_EQ(name_at(m, 0x1000), "(none)");
    EXPECT_TRUE(vt::PerfMap::parse("").empty());
}
