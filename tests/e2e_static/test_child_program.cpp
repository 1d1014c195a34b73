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

TEST(ChildProgram, FindsStaticPieGlibcsUsualWrappers) { expect_usual_wrappers("STATIC_PIE_CALLS"); }

}  // namespace
