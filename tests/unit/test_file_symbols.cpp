// Functions named from a module's file when its dynamic symbols do not name them
// (tracer/wrappers/file_symbols.h): how hidden clock wrappers (node's uv__hrtime, HotSpot's
// os::javaTimeNanos) are recognised.
#include <gtest/gtest.h>
#include <dlfcn.h>
#include <sys/auxv.h>

#include <cstdint>
#include <cstring>

#include "tracer/wrappers/symbol_at.h"

namespace w = vdsotrace::tracer::wrappers;

namespace {

// Internal linkage, and this test is not linked with -rdynamic: only .symtab has its name.
__attribute__((noinline)) int hidden_clock_helper(int x) {
    asm volatile("" ::: "memory");
    return x * 3 + 1;
}

}  // namespace

TEST(FileSymbols, NamesAFunctionTheDynamicSymbolsDoNot) {
    const uintptr_t pc = reinterpret_cast<uintptr_t>(&hidden_clock_helper) + 1;
    w::CodeSite site;
    ASSERT_TRUE(w::code_site_at(pc, &site));
    EXPECT_EQ(site.symbol, nullptr) << "exported? " << site.symbol;
    EXPECT_TRUE(w::name_from_file(pc, &site));
    ASSERT_NE(site.symbol, nullptr);
    EXPECT_STREQ(site.symbol, "_ZN12_GLOBAL__N_119hidden_clock_helperEi");
    // Again (the file is mapped once, then only scanned): the same name, in the same mapping.
    w::CodeSite again;
    ASSERT_TRUE(w::code_site_at(pc, &again));
    EXPECT_TRUE(w::name_from_file(pc, &again));
    EXPECT_EQ(again.symbol, site.symbol);
    EXPECT_EQ(hidden_clock_helper(2), 7);
}

TEST(FileSymbols, AnExportedNameIsKept) {
    const uintptr_t pc = reinterpret_cast<uintptr_t>(&getauxval) + 1;
    w::CodeSite site;
    ASSERT_TRUE(w::code_site_at(pc, &site));
    ASSERT_NE(site.symbol, nullptr);
    const char* exported = site.symbol;
    EXPECT_TRUE(w::name_from_file(pc, &site));
    EXPECT_EQ(site.symbol, exported);
}

TEST(FileSymbols, TheVdsoHasNoFile) {
    const auto vdso = uintptr_t(getauxval(AT_SYSINFO_EHDR));
    if (vdso == 0) GTEST_SKIP() << "no vDSO";
    w::CodeSite site;
    ASSERT_TRUE(w::code_site_at(vdso + 16, &site));  // the ELF header: in no function
    EXPECT_EQ(site.symbol, nullptr);
    EXPECT_TRUE(w::name_from_file(vdso + 16, &site));
    EXPECT_EQ(site.symbol, nullptr);
}

// module_symbol finds a module's exported names through its GNU hash table (libc's 3,000 names
// were compared one by one): the same addresses the loader gives, and nothing for a name absent.
TEST(FileSymbols, ModuleSymbolFindsWhatTheLoaderFinds) {
    void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    ASSERT_NE(libc, nullptr);
    const auto in_libc = reinterpret_cast<uintptr_t>(dlsym(libc, "qsort"));
    ASSERT_NE(in_libc, 0u);
    for (const char* name : {"qsort", "opendir", "getenv", "clock_gettime", "__libc_start_main"}) {
        void* want = dlsym(libc, name);
        ASSERT_NE(want, nullptr) << name;
        EXPECT_EQ(w::module_symbol(in_libc, name), want) << name;
    }
    uint64_t size = 0;
    EXPECT_EQ(w::module_symbol(in_libc, "qsort", &size), dlsym(libc, "qsort"));
    EXPECT_GT(size, 0u);
    EXPECT_EQ(w::module_symbol(in_libc, "no_such_symbol_in_libc"), nullptr);
    EXPECT_EQ(w::module_symbol(in_libc, "Py_Version"), nullptr);
    EXPECT_EQ(w::module_symbol(in_libc, ""), nullptr);
    dlclose(libc);
}
