// Tests for tools/symbolizer: names addresses in a fixture shared library built with -g -O2
// (tests/unit/fixtures/symbolizer_fixture.cpp, path in $SYMBOLIZER_FIXTURE) and in a copy of
// this process's vDSO.
#include "tools/symbols/symbolizer.h"
#include "tools/symbols/symbol_cache.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using vdsotrace::tools::demangle;
using vdsotrace::tools::ModuleRef;
using vdsotrace::tools::SymbolInfo;
using vdsotrace::tools::Symbolizer;

// Line numbers in symbolizer_fixture.cpp.
constexpr int kLinePlainCall = 27;
constexpr int kLineLambdaCall = 51;
constexpr int kLineHammerCall = 41;
constexpr int kLineLeafSinkCall = 17;
constexpr int kLineLeafInlinedAt = 22;

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct PhdrSearch {
    uintptr_t bias = 0;
    const ElfW(Phdr)* phdr = nullptr;
    size_t phnum = 0;
    bool found = false;
    uintptr_t probe = 0;
};

// Build id of the loaded object that contains `probe`, from its PT_NOTE segments.
std::string build_id_of_loaded(const void* probe) {
    PhdrSearch s;
    s.probe = reinterpret_cast<uintptr_t>(probe);
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* data) -> int {
            auto* s = static_cast<PhdrSearch*>(data);
            for (size_t i = 0; i < info->dlpi_phnum; ++i) {
                const ElfW(Phdr)& ph = info->dlpi_phdr[i];
                if (ph.p_type != PT_LOAD) continue;
                uintptr_t start = info->dlpi_addr + ph.p_vaddr;
                if (s->probe >= start && s->probe < start + ph.p_memsz) {
                    s->bias = info->dlpi_addr;
                    s->phdr = info->dlpi_phdr;
                    s->phnum = info->dlpi_phnum;
                    s->found = true;
                    return 1;
                }
            }
            return 0;
        },
        &s);
    if (!s.found) return "";
    for (size_t i = 0; i < s.phnum; ++i) {
        const ElfW(Phdr)& ph = s.phdr[i];
        if (ph.p_type != PT_NOTE) continue;
        auto p = reinterpret_cast<const unsigned char*>(s.bias + ph.p_vaddr);
        const unsigned char* end = p + ph.p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            ElfW(Nhdr) nh;
            std::memcpy(&nh, p, sizeof nh);
            const unsigned char* name = p + sizeof nh;
            const unsigned char* desc = name + ((nh.n_namesz + 3) & ~3u);
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
                std::string hex;
                char buf[3];
                for (size_t k = 0; k < nh.n_descsz; ++k) {
                    std::snprintf(buf, sizeof buf, "%02x", desc[k]);
                    hex += buf;
                }
                return hex;
            }
            p = desc + ((nh.n_descsz + 3) & ~3u);
        }
    }
    return "";
}

class FixtureTest : public ::testing::Test {
protected:
    void SetUp() override {
        const char* path = std::getenv("SYMBOLIZER_FIXTURE");
        ASSERT_NE(path, nullptr) << "SYMBOLIZER_FIXTURE is not set";
        path_ = path;
        handle_ = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        ASSERT_NE(handle_, nullptr) << dlerror();
        link_map* lm = nullptr;
        ASSERT_EQ(dlinfo(handle_, RTLD_DI_LINKMAP, &lm), 0) << dlerror();
        bias_ = lm->l_addr;
        captured_ = static_cast<void**>(dlsym(handle_, "fixture_captured"));
        ASSERT_NE(captured_, nullptr);
    }
    void TearDown() override {
        if (handle_ != nullptr) dlclose(handle_);
    }

    template <class Fn>
    Fn fn(const char* name) {
        void* p = dlsym(handle_, name);
        EXPECT_NE(p, nullptr) << name;
        return reinterpret_cast<Fn>(p);
    }
    uint64_t vaddr(const void* runtime) const { return reinterpret_cast<uintptr_t>(runtime) - bias_; }
    // ELF vaddr of the call instruction that produced the return address in captured slot.
    uint64_t call_site(int slot) const {
        EXPECT_NE(captured_[slot], nullptr);
        return vaddr(captured_[slot]) - 1;
    }
    ModuleRef module(std::string build_id = "") const { return ModuleRef{path_, std::move(build_id)}; }

    std::string path_;
    void* handle_ = nullptr;
    uintptr_t bias_ = 0;
    void** captured_ = nullptr;
    Symbolizer sym_;
};

TEST_F(FixtureTest, PlainExternCFunction) {
    auto plain = fn<int (*)(int)>("fixture_plain");
    ASSERT_NE(plain, nullptr);

    SymbolInfo at_entry = sym_.lookup(module(), vaddr(reinterpret_cast<void*>(plain)));
    EXPECT_EQ(at_entry.problem, "");
    EXPECT_EQ(at_entry.symbol, "fixture_plain");
    EXPECT_EQ(at_entry.symbol_offset, 0u);
    EXPECT_TRUE(at_entry.inlined.empty());

    EXPECT_EQ(plain(4), 4 * 2 + 0 + 1);
    SymbolInfo call = sym_.lookup(module(), call_site(0));
    EXPECT_EQ(call.problem, "");
    EXPECT_EQ(call.symbol, "fixture_plain");
    EXPECT_GT(call.symbol_offset, 0u);
    EXPECT_TRUE(ends_with(call.file, "symbolizer_fixture.cpp")) << call.file;
    EXPECT_EQ(call.line, kLinePlainCall);
    EXPECT_TRUE(call.inlined.empty());
}

TEST_F(FixtureTest, TemplateMethodIsDemangled) {
    void* hammer = dlsym(handle_, "_ZN7fixture3BoxIiE6hammerEi");
    ASSERT_NE(hammer, nullptr) << dlerror();
    SymbolInfo info = sym_.lookup(module(), vaddr(hammer));
    EXPECT_EQ(info.problem, "");
    EXPECT_EQ(info.symbol, "fixture::Box<int>::hammer(int)");
    EXPECT_EQ(info.symbol_offset, 0u);

    // Call it (an ordinary member function taking `this` first) to capture the call site.
    auto as_fn = reinterpret_cast<int (*)(void*, int)>(hammer);
    int dummy = 0;
    EXPECT_EQ(as_fn(&dummy, 10), 10 * 2 + 3 - 4);
    SymbolInfo call = sym_.lookup(module(), call_site(3));
    EXPECT_EQ(call.symbol, "fixture::Box<int>::hammer(int)");
    EXPECT_TRUE(ends_with(call.file, "symbolizer_fixture.cpp")) << call.file;
    EXPECT_EQ(call.line, kLineHammerCall);
}

TEST_F(FixtureTest, Lambda) {
    auto call_lambda = fn<int (*)(int)>("fixture_call_lambda");
    ASSERT_NE(call_lambda, nullptr);
    call_lambda(3);
    SymbolInfo info = sym_.lookup(module(), call_site(1));
    EXPECT_EQ(info.problem, "");
    EXPECT_NE(info.symbol.find("outer_lambda_holder"), std::string::npos) << info.symbol;
    // GCC: "outer_lambda_holder(int)::{lambda(int)#1}::operator()(int) const"; clang names a
    // lambda without linkage "outer_lambda_holder(int)::$_0::operator()(int) const".
    EXPECT_TRUE(info.symbol.find("{lambda") != std::string::npos ||
                info.symbol.find("::$_") != std::string::npos)
        << info.symbol;
    EXPECT_TRUE(ends_with(info.file, "symbolizer_fixture.cpp")) << info.file;
    EXPECT_EQ(info.line, kLineLambdaCall);
}

TEST_F(FixtureTest, InlinedFunction) {
    auto outer = fn<int (*)(int)>("outer_with_inline");
    ASSERT_NE(outer, nullptr);
    EXPECT_EQ(outer(1), ((1 + 5) * 2 + 2) * 3 + 7);
    SymbolInfo info = sym_.lookup(module(), call_site(2));
    EXPECT_EQ(info.problem, "");
    EXPECT_EQ(info.symbol, "outer_with_inline");
    EXPECT_TRUE(ends_with(info.file, "symbolizer_fixture.cpp")) << info.file;
    EXPECT_EQ(info.line, kLineLeafSinkCall);
    ASSERT_EQ(info.inlined.size(), 1u);
#if defined(__clang__)
    // clang gives the static C-linkage function a linkage name (_ZL12leaf_inlinedi), GCC does
    // not; the fixture is built by the same compiler as this test.
    EXPECT_TRUE(info.inlined[0].function == "leaf_inlined" ||
                info.inlined[0].function == "leaf_inlined(int)")
        << info.inlined[0].function;
#else
    EXPECT_EQ(info.inlined[0].function, "leaf_inlined");
#endif
    EXPECT_TRUE(ends_with(info.inlined[0].file, "symbolizer_fixture.cpp")) << info.inlined[0].file;
    EXPECT_EQ(info.inlined[0].line, kLineLeafInlinedAt);
}

TEST_F(FixtureTest, ResultsAreStableAcrossRepeatedLookups) {
    auto plain = fn<int (*)(int)>("fixture_plain");
    ASSERT_NE(plain, nullptr);
    uint64_t a = vaddr(reinterpret_cast<void*>(plain));
    for (int i = 0; i < 3; ++i) {
        SymbolInfo info = sym_.lookup(module(), a);
        EXPECT_EQ(info.symbol, "fixture_plain");
    }
}

TEST_F(FixtureTest, BuildIdIsChecked) {
    auto plain = fn<int (*)(int)>("fixture_plain");
    ASSERT_NE(plain, nullptr);
    uint64_t a = vaddr(reinterpret_cast<void*>(plain));
    std::string id = build_id_of_loaded(reinterpret_cast<void*>(plain));
    ASSERT_FALSE(id.empty()) << "fixture has no build id";

    SymbolInfo good = sym_.lookup(module(id), a);
    EXPECT_EQ(good.problem, "");
    EXPECT_EQ(good.symbol, "fixture_plain");

    std::string upper = id;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(sym_.lookup(module(upper), a).symbol, "fixture_plain");

    std::string wrong = id;
    wrong[0] = wrong[0] == '0' ? '1' : '0';
    SymbolInfo bad = sym_.lookup(module(wrong), a);
    EXPECT_EQ(bad.problem, "build id mismatch");
    EXPECT_EQ(bad.symbol, "");
    EXPECT_EQ(bad.file, "");
    EXPECT_EQ(bad.line, 0);
}

// One symbolizer serves every recording of a report: a name read once for a build id and address
// is the name of that build id and address wherever the module was mapped (here: a path that does
// not exist, which alone would say "file not found"), and never the name of another build.
TEST_F(FixtureTest, NamesAreCachedPerBuildIdAndAddress) {
    auto plain = fn<int (*)(int)>("fixture_plain");
    ASSERT_NE(plain, nullptr);
    const uint64_t a = vaddr(reinterpret_cast<void*>(plain));
    const std::string id = build_id_of_loaded(reinterpret_cast<void*>(plain));
    ASSERT_FALSE(id.empty()) << "fixture has no build id";
    const ModuleRef elsewhere{"/nonexistent/copy/of/the/fixture.so", id};

    EXPECT_EQ(sym_.lookup(elsewhere, a).problem, "file not found");  // nothing read for it yet
    EXPECT_EQ(sym_.lookup(module(id), a).symbol, "fixture_plain");   // read from the file
    const SymbolInfo same = sym_.lookup(elsewhere, a);                // the same build id and address
    EXPECT_EQ(same.symbol, "fixture_plain");
    EXPECT_EQ(same.problem, "");
    EXPECT_EQ(sym_.lookup(elsewhere, a + 1).problem, "file not found");  // another address: not read

    std::string other = id;
    other[0] = other[0] == '0' ? '1' : '0';
    EXPECT_EQ(sym_.lookup(ModuleRef{elsewhere.path, other}, a).problem, "file not found");
    EXPECT_EQ(sym_.lookup(module(other), a).problem, "build id mismatch");
    EXPECT_EQ(sym_.lookup(module(id), a).symbol, "fixture_plain");
}

TEST_F(FixtureTest, AddressOutsideAnyFunctionHasNoSymbol) {
    SymbolInfo info = sym_.lookup(module(), 0x7fffffff0000ull);
    EXPECT_EQ(info.symbol, "");
    EXPECT_EQ(info.line, 0);
    EXPECT_TRUE(info.inlined.empty());
}

TEST(Symbolizer, MissingFile) {
    Symbolizer sym;
    ModuleRef m{"/nonexistent/dir/libnothing.so", "00112233"};
    SymbolInfo info = sym.lookup(m, 0x1000);
    EXPECT_EQ(info.problem, "file not found");
    EXPECT_EQ(info.symbol, "");
    // Cached: same answer again.
    EXPECT_EQ(sym.lookup(m, 0x2000).problem, "file not found");
    // The vDSO has no file unless its image was added.
    EXPECT_EQ(sym.lookup(ModuleRef{"[vdso]", ""}, 0x1000).problem, "file not found");
}

TEST(Symbolizer, NotAnElfFile) {
    char path[] = "/tmp/symbolizer_test_XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    const char text[] = "definitely not an ELF file\n";
    ASSERT_EQ(write(fd, text, sizeof text), static_cast<ssize_t>(sizeof text));
    close(fd);
    Symbolizer sym;
    SymbolInfo info = sym.lookup(ModuleRef{path, ""}, 0x10);
    unlink(path);
    EXPECT_NE(info.problem, "");
    EXPECT_NE(info.problem, "file not found");
    EXPECT_EQ(info.symbol, "");
}

// The live vDSO: its bytes as a recording copies them (up to the end of the last PT_LOAD's file
// contents, which on x86_64 does not include the section header table), the bytes of its whole
// page-rounded mapping (which does), and the ELF vaddr of `name` from its .dynsym section.
struct LiveVdso {
    std::vector<unsigned char> recorded;
    std::vector<unsigned char> mapping;
    uint64_t vaddr = 0;
};

bool read_live_vdso(const char* name, LiveVdso* out) {
    auto base = reinterpret_cast<const unsigned char*>(getauxval(AT_SYSINFO_EHDR));
    if (base == nullptr) return false;
    ElfW(Ehdr) eh;
    std::memcpy(&eh, base, sizeof eh);
    size_t size = 0;
    for (size_t i = 0; i < eh.e_phnum; ++i) {
        ElfW(Phdr) ph;
        std::memcpy(&ph, base + eh.e_phoff + i * eh.e_phentsize, sizeof ph);
        if (ph.p_type == PT_LOAD && ph.p_offset + ph.p_filesz > size) size = ph.p_offset + ph.p_filesz;
    }
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t mapped = (size + page - 1) / page * page;  // the kernel maps whole pages
    out->recorded.assign(base, base + size);
    out->mapping.assign(base, base + mapped);
    const unsigned char* img = out->mapping.data();
    if (eh.e_shoff == 0 || eh.e_shentsize != sizeof(ElfW(Shdr)) ||
        eh.e_shoff + eh.e_shnum * sizeof(ElfW(Shdr)) > mapped) {
        return false;
    }
    for (size_t i = 0; i < eh.e_shnum; ++i) {
        ElfW(Shdr) sh;
        std::memcpy(&sh, img + eh.e_shoff + i * eh.e_shentsize, sizeof sh);
        if (sh.sh_type != SHT_DYNSYM || sh.sh_link >= eh.e_shnum || sh.sh_entsize != sizeof(ElfW(Sym)) ||
            sh.sh_offset + sh.sh_size > mapped) {
            continue;
        }
        ElfW(Shdr) str;
        std::memcpy(&str, img + eh.e_shoff + sh.sh_link * eh.e_shentsize, sizeof str);
        if (str.sh_offset + str.sh_size > mapped) continue;
        for (size_t k = 0; k < sh.sh_size / sh.sh_entsize; ++k) {
            ElfW(Sym) s;
            std::memcpy(&s, img + sh.sh_offset + k * sh.sh_entsize, sizeof s);
            if (s.st_shndx == SHN_UNDEF || s.st_name >= str.sh_size) continue;
            const char* n = reinterpret_cast<const char*>(img + str.sh_offset + s.st_name);
            if (strnlen(n, str.sh_size - s.st_name) < str.sh_size - s.st_name && std::strcmp(n, name) == 0) {
                out->vaddr = s.st_value;
                return true;
            }
        }
    }
    return false;
}

void expect_clock_gettime(const SymbolInfo& info, uint64_t offset) {
    EXPECT_EQ(info.problem, "");
    EXPECT_TRUE(info.symbol == "__vdso_clock_gettime" || info.symbol == "clock_gettime") << info.symbol;
    EXPECT_EQ(info.symbol_offset, offset);
}

TEST(Symbolizer, VdsoImageAsRecorded) {
    if (getauxval(AT_SYSINFO_EHDR) == 0) GTEST_SKIP() << "no vDSO in this process";
    LiveVdso vdso;
    if (!read_live_vdso("__vdso_clock_gettime", &vdso)) GTEST_SKIP() << "no __vdso_clock_gettime";

    Symbolizer sym;
    ModuleRef ref{"[vdso]", ""};
    EXPECT_EQ(sym.lookup(ref, vdso.vaddr).problem, "file not found");  // before add_image

    sym.add_image("[vdso]", vdso.recorded);
    vdso.recorded.assign(vdso.recorded.size(), 0);  // the symbolizer keeps its own copy
    expect_clock_gettime(sym.lookup(ref, vdso.vaddr), 0);
    expect_clock_gettime(sym.lookup(ref, vdso.vaddr + 1), 1);
}

TEST(Symbolizer, VdsoImageWithSectionHeaders) {
    if (getauxval(AT_SYSINFO_EHDR) == 0) GTEST_SKIP() << "no vDSO in this process";
    LiveVdso vdso;
    if (!read_live_vdso("__vdso_clock_gettime", &vdso)) GTEST_SKIP() << "no __vdso_clock_gettime";

    Symbolizer sym;
    sym.add_image("[vdso]", vdso.mapping);
    expect_clock_gettime(sym.lookup(ModuleRef{"[vdso]", ""}, vdso.vaddr + 3), 3);
    // Replacing the image drops the session opened on the old bytes.
    sym.add_image("[vdso]", vdso.recorded);
    expect_clock_gettime(sym.lookup(ModuleRef{"[vdso]", ""}, vdso.vaddr), 0);
}

TEST(Demangle, Cases) {
    EXPECT_EQ(demangle("_ZN3foo3barEv"), "foo::bar()");
    EXPECT_EQ(demangle("_ZN7fixture3BoxIiE6hammerEi"), "fixture::Box<int>::hammer(int)");
    EXPECT_EQ(demangle("_ZL12leaf_inlinedi"), "leaf_inlined(int)");
    EXPECT_EQ(demangle("main"), "main");
    EXPECT_EQ(demangle("fixture_plain"), "fixture_plain");
    EXPECT_EQ(demangle("__vdso_clock_gettime"), "__vdso_clock_gettime");
    EXPECT_EQ(demangle(""), "");
    EXPECT_EQ(demangle("_Z"), "_Z");                  // mangled prefix, invalid body: unchanged
    EXPECT_EQ(demangle("_Znotvalid!!"), "_Znotvalid!!");
}

}  // namespace

// The cache alone: keyed by build id and address when a name was found, by path and build id when
// the answer depends on where the module is (or when there is no build id).
TEST(SymbolCache, SameBuildIdSameNameOtherBuildIdsApart) {
    vdsotrace::tools::SymbolCache cache;
    SymbolInfo named;
    named.symbol = "work";
    named.file = "work.c";
    named.line = 12;
    cache.add(ModuleRef{"/usr/lib/libwork.so.1", "aabb"}, 0x1234, named);

    const SymbolInfo* hit = cache.find(ModuleRef{"/lib/libwork.so.1", "AABB"}, 0x1234);
    ASSERT_NE(hit, nullptr);
    EXPECT_EQ(hit->symbol, "work");
    EXPECT_EQ(hit->file, "work.c");
    EXPECT_EQ(hit->line, 12);
    EXPECT_EQ(cache.find(ModuleRef{"/usr/lib/libwork.so.1", "aabc"}, 0x1234), nullptr);  // another build
    EXPECT_EQ(cache.find(ModuleRef{"/usr/lib/libwork.so.1", "aabb"}, 0x1235), nullptr);  // another address
    EXPECT_EQ(cache.find(ModuleRef{"/usr/lib/libwork.so.1", ""}, 0x1234), nullptr);      // no build id known

    SymbolInfo gone;
    gone.problem = "file not found";
    cache.add(ModuleRef{"/tmp/deleted.so", "ccdd"}, 0x10, gone);
    ASSERT_NE(cache.find(ModuleRef{"/tmp/deleted.so", "ccdd"}, 0x10), nullptr);
    EXPECT_EQ(cache.find(ModuleRef{"/tmp/deleted.so", "ccdd"}, 0x10)->problem, "file not found");
    EXPECT_EQ(cache.find(ModuleRef{"/tmp/elsewhere.so", "ccdd"}, 0x10), nullptr);  // depends on the path

    SymbolInfo no_id;
    no_id.symbol = "main";
    cache.add(ModuleRef{"/bin/prog", ""}, 0x20, no_id);
    ASSERT_NE(cache.find(ModuleRef{"/bin/prog", ""}, 0x20), nullptr);
    EXPECT_EQ(cache.find(ModuleRef{"/bin/other", ""}, 0x20), nullptr);
    EXPECT_EQ(cache.size(), 3u);
}

namespace {

// This process's libc: its file and the range of its code (ELF addresses).
struct LibcCode {
    std::string path;
    uint64_t start = 0, end = 0;
};

LibcCode libc_code() {
    LibcCode c;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void* data) -> int {
            auto* c = static_cast<LibcCode*>(data);
            if (std::strstr(info->dlpi_name, "/libc.so") == nullptr) return 0;
            for (size_t i = 0; i < info->dlpi_phnum; ++i) {
                const ElfW(Phdr)& ph = info->dlpi_phdr[i];
                if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
                    c->path = info->dlpi_name;
                    c->start = ph.p_vaddr;
                    c->end = ph.p_vaddr + ph.p_memsz;
                    return 1;
                }
            }
            return 0;
        },
        &c);
    return c;
}

void expect_same(const SymbolInfo& fast, const SymbolInfo& walked, uint64_t vaddr) {
    SCOPED_TRACE(testing::Message() << "address " << std::hex << vaddr);
    EXPECT_EQ(fast.symbol, walked.symbol);
    EXPECT_EQ(fast.symbol_offset, walked.symbol_offset);
    EXPECT_EQ(fast.file, walked.file);
    EXPECT_EQ(fast.line, walked.line);
    auto names = [](const SymbolInfo& i) {
        std::string out = i.symbol + ":";
        for (const auto& f : i.inlined) out += " " + f.function + "@" + std::to_string(f.line);
        return out;
    };
    ASSERT_EQ(fast.inlined.size(), walked.inlined.size()) << names(fast) << " / walked " << names(walked);
    for (size_t i = 0; i < fast.inlined.size(); ++i) {
        EXPECT_EQ(fast.inlined[i].function, walked.inlined[i].function) << i;
        EXPECT_EQ(fast.inlined[i].file, walked.inlined[i].file) << i;
        EXPECT_EQ(fast.inlined[i].line, walked.inlined[i].line) << i;
    }
}

}  // namespace

// Inline chains come from each unit's inline index, read once; libdw's scope walk per address is
// the reference. Every 197th byte of libc's code (about 7,500 addresses: plain, inlined and nested
// inlined code) and every byte of the fixture's outer_with_inline are named the same both ways.
TEST(Symbolizer, InlineIndexAgreesWithTheScopeWalk) {
    const LibcCode libc = libc_code();
    ASSERT_FALSE(libc.path.empty());
    Symbolizer fast, walked;
    walked.walk_scopes_always(true);
    const ModuleRef m{libc.path, ""};
    size_t chained = 0, nested = 0, compared = 0;
    for (uint64_t a = libc.start; a < libc.end; a += 197) {
        const SymbolInfo f = fast.lookup(m, a), w = walked.lookup(m, a);
        expect_same(f, w, a);
        chained += !w.inlined.empty();
        nested += w.inlined.size() > 1;
        ++compared;
        if (HasFatalFailure() || testing::Test::HasFailure()) break;
    }
    if (chained == 0) GTEST_SKIP() << "libc has no debug information here (libc6-dbg): " << compared << " addresses compared";
    EXPECT_GT(nested, 0u) << "no nested inline chain among " << chained << " inlined addresses";

    const char* fixture = std::getenv("SYMBOLIZER_FIXTURE");
    ASSERT_NE(fixture, nullptr);
    void* handle = dlopen(fixture, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle, nullptr) << dlerror();
    link_map* lm = nullptr;
    ASSERT_EQ(dlinfo(handle, RTLD_DI_LINKMAP, &lm), 0);
    Dl_info info{};
    ElfW(Sym)* sym = nullptr;
    void* fn = dlsym(handle, "outer_with_inline");
    ASSERT_NE(fn, nullptr);
    ASSERT_NE(dladdr1(fn, &info, reinterpret_cast<void**>(&sym), RTLD_DL_SYMENT), 0);
    const uint64_t start = reinterpret_cast<uintptr_t>(fn) - lm->l_addr;
    for (uint64_t a = start; a < start + (sym ? sym->st_size : 64); ++a)
        expect_same(fast.lookup({fixture, ""}, a), walked.lookup({fixture, ""}, a), a);
    dlclose(handle);
}
