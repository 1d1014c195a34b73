// What the injector reads from a real static glibc program before it runs (read_child_program):
// glibc's __rseq_offset, the rows of libc's clock wrappers, and, per function, the usual wrapper
// the trampoline's fast path steps out of without the rows' table (static glibc's __clock_gettime,
// __gettimeofday and time call the vDSO once each). A usual wrapper that went missing would not
// change a count, only the speed; this keeps it found.
#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tools/static_inject/child_program.h"

namespace f = vdsotrace::format;
using vdsotrace::inject::ChildProgram;

namespace {

// The program's own entry address (its load bias is then 0, as for a non-PIE program).
uint64_t elf_entry(const std::string& path) {
    Elf64_Ehdr eh{};
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    const bool ok = read(fd, &eh, sizeof eh) == ssize_t(sizeof eh);
    close(fd);
    return ok ? eh.e_entry : 0;
}

void expect_usual_wrappers(const char* env) {
    const char* path = getenv(env);
    ASSERT_NE(path, nullptr) << env << " is not set (meson sets it)";
    ChildProgram program;
    std::string why;
    ASSERT_TRUE(vdsotrace::inject::read_child_program(path, elf_entry(path), &program, &why)) << why;
    EXPECT_NE(program.rseq_offset_at, 0u) << "glibc's __rseq_offset not found in " << path;
    // glibc 2.36 (Debian 12): __clock_gettime has `sub $8, %rsp` before `call *%rax`, time
    // `push %rbx`, __gettimeofday two pushes and `sub $8, %rsp`.
    const struct {
        int fn;
        uint32_t cfa_offset;
    } expected[] = {{f::kClockGettime, 16}, {f::kGettimeofday, 32}, {f::kTime, 16}};
    for (const auto& [fn, cfa_offset] : expected) {
        const auto& usual = program.usual_wrappers[fn];
        ASSERT_NE(usual.begin, 0u) << "no usual wrapper for function " << fn << " in " << path;
        bool is_a_row = false;
        for (const auto& row : program.wrappers)
            is_a_row |= row.begin == usual.begin && row.cfa_offset == usual.cfa_offset && row.length == 1;
        EXPECT_TRUE(is_a_row) << "function " << fn;
        EXPECT_EQ(usual.cfa_offset, cfa_offset) << "function " << fn;
    }
    // Three different wrappers.
    EXPECT_NE(program.usual_wrappers[f::kClockGettime].begin, program.usual_wrappers[f::kGettimeofday].begin);
    EXPECT_NE(program.usual_wrappers[f::kClockGettime].begin, program.usual_wrappers[f::kTime].begin);
}

TEST(ChildProgram, FindsStaticGlibcsUsualWrappers) { expect_usual_wrappers("STATIC_CALLS"); }

using vdsotrace::inject::WrapperFunction;
using vdsotrace::inject::WrapperRow;

WrapperFunction wrapper(uint64_t start, int fn, unsigned calls, std::vector<WrapperRow> rows,
                        std::vector<uint64_t> targets = {}) {
    WrapperFunction w;
    w.start = start;
    w.end = start + 0x40;
    w.function = fn;
    w.calls = calls;
    w.rows = std::move(rows);
    w.call_targets = std::move(targets);
    return w;
}

// The fast path takes the usual wrapper's caller as the program's: a wrapper that another wrapper
// calls directly (musl's time -> __clock_gettime) is never one, nor one with two calls (which
// returns where?), nor one whose call has no row, nor one not named for a function.
TEST(ChildProgram, ChoosesOnlyUsualWrappersNoWrapperCalls) {
    WrapperRow usual[f::kFunctionCount]{};
    vdsotrace::inject::choose_usual_wrappers(
        {
            wrapper(0x1000, f::kClockGettime, 1, {{0x1010, 1, 16}}),
            wrapper(0x2000, f::kTime, 1, {{0x2010, 1, 16}}, {0x1000}),             // calls __clock_gettime
            wrapper(0x3000, f::kGettimeofday, 2, {{0x3010, 1, 16}, {0x3020, 1, 16}}),  // two calls
            wrapper(0x4000, f::kGetcpu, 1, {}),                                      // no row
            wrapper(0x5000, -1, 1, {{0x5010, 1, 8}}),                                // cgt_init
            wrapper(0x6000, f::kClockGetres, 1, {{0x6010, 1, 24}}, {0x2020}),        // calls into time
        },
        usual);
    EXPECT_EQ(usual[f::kClockGettime].begin, 0u) << "time calls it";
    EXPECT_EQ(usual[f::kTime].begin, 0u) << "clock_getres calls into it";
    EXPECT_EQ(usual[f::kGettimeofday].begin, 0u);
    EXPECT_EQ(usual[f::kGetcpu].begin, 0u);
    EXPECT_EQ(usual[f::kClockGetres].begin, 0x6010u);
    EXPECT_EQ(usual[f::kClockGetres].cfa_offset, 24u);

    // Nobody calls them: each is its function's usual wrapper (the first, for a function named twice).
    WrapperRow alone[f::kFunctionCount]{};
    vdsotrace::inject::choose_usual_wrappers({wrapper(0x1000, f::kClockGettime, 1, {{0x1010, 1, 16}}),
                                              wrapper(0x2000, f::kTime, 1, {{0x2010, 1, 16}}, {0x9000}),
                                              wrapper(0x7000, f::kClockGettime, 1, {{0x7010, 1, 32}})},
                                             alone);
    EXPECT_EQ(alone[f::kClockGettime].begin, 0x1010u);
    EXPECT_EQ(alone[f::kClockGettime].cfa_offset, 16u);
    EXPECT_EQ(alone[f::kTime].begin, 0x2010u);
}

// musl's static libc: its __clock_gettime makes three calls, and time and gettimeofday call it.
TEST(ChildProgram, MuslHasNoUsualWrapper) {
    const char* path = getenv("MUSL_STATIC_CALLS");
    if (path == nullptr || *path == '\0') GTEST_SKIP() << "musl-gcc was not found at configure time (package musl-tools)";
    ChildProgram program;
    std::string why;
    ASSERT_TRUE(vdsotrace::inject::read_child_program(path, elf_entry(path), &program, &why)) << why;
    EXPECT_FALSE(program.wrappers.empty());
    for (int fn = 0; fn < f::kFunctionCount; ++fn) EXPECT_EQ(program.usual_wrappers[fn].begin, 0u) << "function " << fn;
}

TEST(ChildProgram, FindsStaticPieGlibcsUsualWrappers) { expect_usual_wrappers("STATIC_PIE_CALLS"); }

}  // namespace
