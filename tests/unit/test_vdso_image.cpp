// Unit tests for tracer/vdso_image: the live vDSO, synthetic images built in memory, and
// corrupt or truncated images (read right before a PROT_NONE page, so any out-of-bounds read
// crashes the test instead of passing silently).

#include "tracer/common/vdso_image.h"
#include "tracer/common/elf_bytes.h"

#include <elf.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace vdsotrace::vdso;

using vdsotrace::elf::Addr;
using vdsotrace::elf::Dyn;
using vdsotrace::elf::Ehdr;
using vdsotrace::elf::HashWord;
using vdsotrace::elf::Phdr;
using vdsotrace::elf::Sym;

// p_vaddr - p_offset of the PT_LOAD: every dynamic pointer is shifted by this, so an
// implementation that forgets load_offset reads the wrong place.
constexpr uint64_t kVaddr = 0x10000;

uint32_t elf_hash(const std::string& s) {
    uint32_t h = 0;
    for (unsigned char c : s) {
        h = (h << 4) + c;
        uint32_t g = h & 0xf0000000u;
        if (g) h ^= g >> 24;
        h &= ~g;
    }
    return h;
}

uint32_t gnu_hash(const std::string& s) {
    uint32_t h = 5381;
    for (unsigned char c : s) h = h * 33 + c;
    return h;
}

// Version indexes used by the builder's verdef table.
enum Ver : uint16_t { kLocal = 0, kBase = 1, kLinux26 = 2, kOther = 3 };

struct SymSpec {
    std::string name;
    unsigned char type = STT_FUNC;
    unsigned char bind = STB_GLOBAL;
    bool defined = true;
    uint16_t version = kLinux26;
    uint64_t size = 16;
};

std::vector<SymSpec> default_syms() {
    return {
        {"__vdso_clock_gettime", STT_FUNC, STB_GLOBAL, true, kLinux26, 100},
        {"__vdso_time", STT_FUNC, STB_WEAK, true, kLinux26, 20},
        {"__vdso_object", STT_OBJECT, STB_GLOBAL, true, kLinux26, 8},
        {"__vdso_undef", STT_FUNC, STB_GLOBAL, false, kLinux26, 0},
        {"__vdso_local", STT_FUNC, STB_LOCAL, true, kLinux26, 12},
        {"__vdso_other", STT_FUNC, STB_GLOBAL, true, kOther, 30},
        {"__vdso_base", STT_FUNC, STB_GLOBAL, true, kBase, 40},
    };
}

struct Options {
    bool gnu = true;
    bool sysv = false;
    bool versioned = true;
    uint32_t nbuckets = 3;
    std::vector<SymSpec> syms = default_syms();
};

// A small ELF shared object: header, PT_LOAD + PT_DYNAMIC, dynstr, dynsym, hash tables,
// versym/verdef, dynamic section, then 16 bytes of "text" per symbol.
struct Built {
    std::vector<unsigned char> bytes;
    size_t dynstr = 0, dynsym = 0, gnu = 0, sysv = 0, versym = 0, verdef = 0, dynamic = 0;
    size_t text = 0;
    size_t nsyms = 0;                        // including the null symbol
    std::map<std::string, size_t> index;     // symbol table index by name
    std::map<std::string, size_t> text_off;  // image offset of the symbol's value

    template <typename T>
    T& at(size_t off) { return *reinterpret_cast<T*>(bytes.data() + off); }
    Ehdr& ehdr() { return at<Ehdr>(0); }
    Phdr& phdr(size_t i) { return at<Phdr>(sizeof(Ehdr) + i * sizeof(Phdr)); }
    Sym& sym(const std::string& name) { return at<Sym>(dynsym + index.at(name) * sizeof(Sym)); }
    // The dynamic entry with this tag (must exist).
    Dyn& dyn(Elf64_Sxword tag) {
        for (size_t off = dynamic;; off += sizeof(Dyn)) {
            Dyn& d = at<Dyn>(off);
            if (d.d_tag == tag) return d;
            if (d.d_tag == DT_NULL) throw std::runtime_error("no such dynamic tag");
        }
    }
    uint32_t* gnu_words() { return &at<uint32_t>(gnu); }
    size_t gnu_buckets() { return gnu + 16 + gnu_words()[2] * sizeof(Addr); }
    size_t gnu_chain() { return gnu_buckets() + gnu_words()[0] * 4; }
    HashWord* sysv_words() { return &at<HashWord>(sysv); }
    ElfW(Verdef)& verdef_entry(size_t i) {  // entries are Verdef + one Verdaux each
        return at<ElfW(Verdef)>(verdef + i * (sizeof(ElfW(Verdef)) + sizeof(ElfW(Verdaux))));
    }
};

size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

Built build(const Options& o) {
    Built b;
    std::vector<SymSpec> syms = o.syms;
    // GNU hash wants the hashed symbols grouped by bucket.
    if (o.gnu)
        std::stable_sort(syms.begin(), syms.end(), [&](const SymSpec& x, const SymSpec& y) {
            return gnu_hash(x.name) % o.nbuckets < gnu_hash(y.name) % o.nbuckets;
        });
    b.nsyms = syms.size() + 1;

    // String table.
    std::string str(1, '\0');
    auto add_str = [&](const std::string& s) {
        size_t off = str.size();
        str += s;
        str += '\0';
        return off;
    };
    const std::vector<std::string> ver_names = {"", "linux-vdso.so.1", "LINUX_2.6", "LINUX_OTHER"};
    std::vector<size_t> ver_str;
    for (const auto& v : ver_names) ver_str.push_back(v.empty() ? 0 : add_str(v));
    std::vector<size_t> name_str;
    for (const auto& s : syms) name_str.push_back(add_str(s.name));

    // Layout.
    size_t off = sizeof(Ehdr) + 2 * sizeof(Phdr);
    b.dynstr = off;
    off = align_up(off + str.size(), 8);
    b.dynsym = off;
    off += b.nsyms * sizeof(Sym);
    if (o.gnu) {
        b.gnu = off;
        off = align_up(off + 16 + sizeof(Addr) + 4 * o.nbuckets + 4 * (b.nsyms - 1), 8);
    }
    if (o.sysv) {
        b.sysv = off;
        off = align_up(off + sizeof(HashWord) * (2 + o.nbuckets + b.nsyms), 8);
    }
    if (o.versioned) {
        b.versym = off;
        off = align_up(off + 2 * b.nsyms, 8);
        b.verdef = off;
        off = align_up(off + 3 * (sizeof(ElfW(Verdef)) + sizeof(ElfW(Verdaux))), 8);
    }
    b.dynamic = off;
    std::vector<Dyn> dyn;
    auto add_dyn = [&](Elf64_Sxword tag, uint64_t val) {
        Dyn d{};
        d.d_tag = tag;
        d.d_un.d_val = val;
        dyn.push_back(d);
    };
    add_dyn(DT_STRTAB, b.dynstr + kVaddr);
    add_dyn(DT_SYMTAB, b.dynsym + kVaddr);
    add_dyn(DT_STRSZ, str.size());
    add_dyn(DT_SYMENT, sizeof(Sym));
    if (o.gnu) add_dyn(DT_GNU_HASH, b.gnu + kVaddr);
    if (o.sysv) add_dyn(DT_HASH, b.sysv + kVaddr);
    if (o.versioned) {
        add_dyn(DT_VERSYM, b.versym + kVaddr);
        add_dyn(DT_VERDEF, b.verdef + kVaddr);
        add_dyn(DT_VERDEFNUM, 3);
    }
    add_dyn(DT_NULL, 0);
    off = align_up(off + dyn.size() * sizeof(Dyn), 16);
    b.text = off;
    off += 16 * syms.size();
    b.bytes.assign(off, 0);

    // ELF header and program headers.
    Ehdr& eh = b.ehdr();
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = __ELF_NATIVE_CLASS == 64 ? ELFCLASS64 : ELFCLASS32;
    eh.e_ident[EI_DATA] = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_DYN;
    eh.e_version = EV_CURRENT;
    eh.e_phoff = sizeof(Ehdr);
    eh.e_ehsize = sizeof(Ehdr);
    eh.e_phentsize = sizeof(Phdr);
    eh.e_phnum = 2;
    Phdr& load = b.phdr(0);
    load.p_type = PT_LOAD;
    load.p_offset = 0;
    load.p_vaddr = load.p_paddr = kVaddr;
    load.p_filesz = load.p_memsz = b.bytes.size();
    load.p_flags = PF_R | PF_X;
    Phdr& dp = b.phdr(1);
    dp.p_type = PT_DYNAMIC;
    dp.p_offset = b.dynamic;
    dp.p_vaddr = dp.p_paddr = b.dynamic + kVaddr;
    dp.p_filesz = dp.p_memsz = dyn.size() * sizeof(Dyn);
    dp.p_flags = PF_R;

    std::memcpy(&b.bytes[b.dynstr], str.data(), str.size());
    std::memcpy(&b.bytes[b.dynamic], dyn.data(), dyn.size() * sizeof(Dyn));

    // Symbols (index 0 is the null symbol).
    for (size_t i = 0; i < syms.size(); ++i) {
        const SymSpec& s = syms[i];
        const size_t idx = i + 1;
        Sym& sym = b.at<Sym>(b.dynsym + idx * sizeof(Sym));
        sym.st_name = name_str[i];
        sym.st_info = ELF64_ST_INFO(s.bind, s.type);
        sym.st_shndx = s.defined ? 7 : SHN_UNDEF;
        sym.st_value = s.defined ? b.text + 16 * i + kVaddr : 0;
        sym.st_size = s.size;
        b.index[s.name] = idx;
        b.text_off[s.name] = b.text + 16 * i;
        std::memset(&b.bytes[b.text + 16 * i], 0xc3, 16);  // ret
        if (o.versioned) b.at<uint16_t>(b.versym + 2 * idx) = s.version;
    }

    if (o.gnu) {
        uint32_t* h = b.gnu_words();
        h[0] = o.nbuckets;
        h[1] = 1;  // symoffset: every symbol but the null one is hashed
        h[2] = 1;  // one bloom word
        h[3] = 6;
        b.at<Addr>(b.gnu + 16) = ~Addr{0};  // bloom: everything may be present
        uint32_t* buckets = &b.at<uint32_t>(b.gnu_buckets());
        uint32_t* chain = &b.at<uint32_t>(b.gnu_chain());
        for (size_t i = 0; i < syms.size(); ++i) {
            const uint32_t h1 = gnu_hash(syms[i].name);
            const uint32_t bucket = h1 % o.nbuckets;
            if (buckets[bucket] == 0) buckets[bucket] = i + 1;
            const bool last = i + 1 == syms.size() ||
                              gnu_hash(syms[i + 1].name) % o.nbuckets != bucket;
            chain[i] = (h1 & ~1u) | (last ? 1 : 0);
        }
    }
    if (o.sysv) {
        HashWord* h = b.sysv_words();
        h[0] = o.nbuckets;
        h[1] = b.nsyms;
        HashWord* buckets = h + 2;
        HashWord* chain = buckets + o.nbuckets;
        for (size_t i = 0; i < syms.size(); ++i) {
            const size_t idx = i + 1;
            const uint32_t bucket = elf_hash(syms[i].name) % o.nbuckets;
            chain[idx] = buckets[bucket];
            buckets[bucket] = idx;
        }
    }
    if (o.versioned) {
        for (size_t i = 0; i < 3; ++i) {
            ElfW(Verdef)& d = b.verdef_entry(i);
            const uint16_t ndx = i + 1;
            d.vd_version = VER_DEF_CURRENT;
            d.vd_flags = ndx == kBase ? VER_FLG_BASE : 0;
            d.vd_ndx = ndx;
            d.vd_cnt = 1;
            d.vd_hash = elf_hash(ver_names[ndx]);
            d.vd_aux = sizeof(ElfW(Verdef));
            d.vd_next = i < 2 ? sizeof(ElfW(Verdef)) + sizeof(ElfW(Verdaux)) : 0;
            auto& aux = *reinterpret_cast<ElfW(Verdaux)*>(reinterpret_cast<unsigned char*>(&d) +
                                                          sizeof(ElfW(Verdef)));
            aux.vda_name = ver_str[ndx];
            aux.vda_next = 0;
        }
    }
    return b;
}

class GuardedBuffer {
  public:
    explicit GuardedBuffer(size_t len) {
        page_ = sysconf(_SC_PAGESIZE);
        span_ = align_up(len, page_) + page_;
        mem_ = static_cast<unsigned char*>(
            mmap(nullptr, span_ + page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (mem_ == MAP_FAILED) throw std::runtime_error("mmap");
        guard_ = mem_ + span_;
        if (mprotect(guard_, page_, PROT_NONE) != 0) throw std::runtime_error("mprotect");
    }
    ~GuardedBuffer() { munmap(mem_, span_ + page_); }
    GuardedBuffer(const GuardedBuffer&) = delete;
    GuardedBuffer& operator=(const GuardedBuffer&) = delete;

    // Copies data[0, len) so that it ends `slack` bytes before the guard page (slack bytes are
    // filled with 0xAA); returns the copy.
    const unsigned char* place(const unsigned char* data, size_t len, size_t slack) {
        unsigned char* dst = guard_ - len - slack;
        std::memset(guard_ - slack, 0xAA, slack);
        std::memcpy(dst, data, len);
        return dst;
    }

  private:
    size_t page_ = 0, span_ = 0;
    unsigned char* mem_ = nullptr;
    unsigned char* guard_ = nullptr;
};

// Parses a copy of bytes[0, len) that ends right at a PROT_NONE page, so that reading past the
// image crashes the test.
struct Parsed {
    std::unique_ptr<GuardedBuffer> buf;
    const unsigned char* data = nullptr;
    Image img;
    ParseError err = ParseError::kNone;
    explicit Parsed(const Built& b, size_t len = SIZE_MAX) {
        if (len == SIZE_MAX) len = b.bytes.size();
        buf = std::make_unique<GuardedBuffer>(len);
        data = buf->place(b.bytes.data(), len, 0);  // sizes are multiples of 16: base aligned
        err = parse(data, len, &img);
    }
    const unsigned char* base() const { return data; }
};

const char* kVersion = "LINUX_2.6";

// ------------------------------------------------------------------------------------------
// Architecture names

#if defined(__x86_64__)
TEST(VdsoArchNames, X86_64) {
    const ArchNames& n = arch_names();
    EXPECT_STREQ(n.version, "LINUX_2.6");
    EXPECT_STREQ(n.clock_gettime, "__vdso_clock_gettime");
    EXPECT_STREQ(n.gettimeofday, "__vdso_gettimeofday");
    EXPECT_STREQ(n.time, "__vdso_time");
    EXPECT_STREQ(n.getcpu, "__vdso_getcpu");
    EXPECT_STREQ(n.clock_getres, "__vdso_clock_getres");
    EXPECT_STREQ(n.getrandom, "__vdso_getrandom");
}
#elif defined(__aarch64__)
TEST(VdsoArchNames, Aarch64) {
    const ArchNames& n = arch_names();
    EXPECT_STREQ(n.version, "LINUX_2.6.39");
    EXPECT_STREQ(n.clock_gettime, "__kernel_clock_gettime");
    EXPECT_STREQ(n.gettimeofday, "__kernel_gettimeofday");
    EXPECT_EQ(n.time, nullptr);
    EXPECT_EQ(n.getcpu, nullptr);
    EXPECT_STREQ(n.clock_getres, "__kernel_clock_getres");
    EXPECT_STREQ(n.getrandom, "__kernel_getrandom");
}
#endif

TEST(VdsoImage, ToStringCoversEveryError) {
    for (ParseError e : {ParseError::kNone, ParseError::kTooSmall, ParseError::kBadMagic,
                         ParseError::kBadHeader, ParseError::kNoLoad, ParseError::kNoDynamic,
                         ParseError::kBadDynamic, ParseError::kNoHash}) {
        ASSERT_NE(to_string(e), nullptr);
        EXPECT_GT(std::strlen(to_string(e)), 0u);
    }
    EXPECT_STREQ(to_string(ParseError::kNone), "ok");
}

// ------------------------------------------------------------------------------------------
// The live vDSO

long raw_ns(clockid_t clock) {
    timespec ts{};
    EXPECT_EQ(syscall(SYS_clock_gettime, clock, &ts), 0);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

TEST(VdsoLive, ParsesAndFindsClockGettime) {
    if (getauxval(AT_SYSINFO_EHDR) == 0) GTEST_SKIP() << "no vDSO in this process";
    Image img;
    ASSERT_EQ(parse_live(&img), ParseError::kNone);
    EXPECT_EQ(img.base, reinterpret_cast<const unsigned char*>(getauxval(AT_SYSINFO_EHDR)));
    EXPECT_GT(img.size, sizeof(Ehdr));
    EXPECT_GT(img.sym_count, 1u);

    const ArchNames& n = arch_names();
    ASSERT_NE(n.clock_gettime, nullptr);
    size_t size = 0;
    const void* p = lookup(img, n.clock_gettime, n.version, &size);
    ASSERT_NE(p, nullptr);
    EXPECT_GT(size, 0u);
    EXPECT_GE(static_cast<const unsigned char*>(p), img.base);
    EXPECT_LT(static_cast<const unsigned char*>(p), img.base + img.size);
    EXPECT_EQ(lookup(img, n.clock_gettime, nullptr), p);

    auto fn = reinterpret_cast<int (*)(clockid_t, timespec*)>(const_cast<void*>(p));
    const long before = raw_ns(CLOCK_MONOTONIC);
    timespec ts{};
    EXPECT_EQ(fn(CLOCK_MONOTONIC, &ts), 0);
    const long after = raw_ns(CLOCK_MONOTONIC);
    const long got = ts.tv_sec * 1000000000L + ts.tv_nsec;
    EXPECT_LE(before, got);
    EXPECT_LE(got, after);

    EXPECT_EQ(lookup(img, n.clock_gettime, "LINUX_9.9"), nullptr);
    EXPECT_EQ(lookup(img, "__vdso_no_such_function", n.version), nullptr);
    EXPECT_EQ(lookup(img, "__vdso_no_such_function", nullptr), nullptr);
    EXPECT_EQ(lookup(img, "", nullptr), nullptr);
}

// Parsed once and kept (a process start asked four times): every later answer is the image a
// fresh parse of the same bytes gives, field by field.
TEST(VdsoLive, KeptParseEqualsAFreshParse) {
    if (getauxval(AT_SYSINFO_EHDR) == 0) GTEST_SKIP() << "no vDSO in this process";
    Image first, kept, fresh;
    ASSERT_EQ(parse_live(&first), ParseError::kNone);
    ASSERT_EQ(parse_live(&kept), ParseError::kNone);
    ASSERT_EQ(parse(first.base, first.size, &fresh), ParseError::kNone);
    for (const Image* img : {&first, &kept}) {
        EXPECT_EQ(img->base, fresh.base);
        EXPECT_EQ(img->size, fresh.size);
        EXPECT_EQ(img->load_offset, fresh.load_offset);
        EXPECT_EQ(img->strtab, fresh.strtab);
        EXPECT_EQ(img->strtab_size, fresh.strtab_size);
        EXPECT_EQ(img->symtab, fresh.symtab);
        EXPECT_EQ(img->sym_count, fresh.sym_count);
        EXPECT_EQ(img->gnu_hash, fresh.gnu_hash);
        EXPECT_EQ(img->sysv_hash, fresh.sysv_hash);
        EXPECT_EQ(img->versym, fresh.versym);
        EXPECT_EQ(img->verdef, fresh.verdef);
        EXPECT_EQ(img->verdef_count, fresh.verdef_count);
    }
}

#if defined(__x86_64__)
TEST(VdsoLive, X86_64FunctionsPresent) {
    if (getauxval(AT_SYSINFO_EHDR) == 0) GTEST_SKIP() << "no vDSO in this process";
    Image img;
    ASSERT_EQ(parse_live(&img), ParseError::kNone);
    const ArchNames& n = arch_names();
    // getrandom needs Linux 6.11+, so it is not required here.
    for (const char* name : {n.clock_gettime, n.gettimeofday, n.time, n.getcpu, n.clock_getres})
        EXPECT_NE(lookup(img, name, "LINUX_2.6"), nullptr) << name;
    auto time_fn = reinterpret_cast<time_t (*)(time_t*)>(
        const_cast<void*>(lookup(img, n.time, "LINUX_2.6")));
    ASSERT_NE(time_fn, nullptr);
    const time_t t0 = syscall(SYS_time, nullptr);
    const time_t t = time_fn(nullptr);
    const time_t t1 = syscall(SYS_time, nullptr);
    EXPECT_LE(t0, t);
    EXPECT_LE(t, t1);
}

TEST(VdsoLive, ListsClockGettimeWithVersion) {
    if (getauxval(AT_SYSINFO_EHDR) == 0) GTEST_SKIP() << "no vDSO in this process";
    Image img;
    ASSERT_EQ(parse_live(&img), ParseError::kNone);
    std::map<std::string, std::string> seen;  // name -> version ("" when none)
    const size_t n = for_each_symbol(
        img,
        [](const Symbol& s, void* ctx) {
            (*static_cast<std::map<std::string, std::string>*>(ctx))[s.name] =
                s.version ? s.version : "";
        },
        &seen);
    EXPECT_EQ(n, seen.size());
    ASSERT_TRUE(seen.count("__vdso_clock_gettime"));
    EXPECT_EQ(seen["__vdso_clock_gettime"], "LINUX_2.6");
}
#endif

// ------------------------------------------------------------------------------------------
// Synthetic images: every combination of hash tables and versioning

struct Variant {
    bool gnu, sysv, versioned;
};

class VdsoSynthetic : public ::testing::TestWithParam<Variant> {
  protected:
    Options options() const {
        Options o;
        o.gnu = GetParam().gnu;
        o.sysv = GetParam().sysv;
        o.versioned = GetParam().versioned;
        return o;
    }
};

TEST_P(VdsoSynthetic, ParsesFields) {
    const Options o = options();
    const Built b = build(o);
    Parsed p(b);
    ASSERT_EQ(p.err, ParseError::kNone);
    EXPECT_EQ(p.img.base, p.base());
    EXPECT_EQ(p.img.size, b.bytes.size());
    EXPECT_EQ(p.img.load_offset, reinterpret_cast<uintptr_t>(p.base()) - kVaddr);
    EXPECT_EQ(p.img.strtab, reinterpret_cast<const char*>(p.base() + b.dynstr));
    EXPECT_EQ(p.img.symtab, p.base() + b.dynsym);
    EXPECT_EQ(p.img.sym_count, b.nsyms);
    EXPECT_EQ(p.img.gnu_hash, o.gnu ? reinterpret_cast<const uint32_t*>(p.base() + b.gnu) : nullptr);
    EXPECT_EQ(p.img.sysv_hash, o.sysv ? p.base() + b.sysv : nullptr);
    EXPECT_EQ(p.img.versym,
              o.versioned ? reinterpret_cast<const uint16_t*>(p.base() + b.versym) : nullptr);
    EXPECT_EQ(p.img.verdef, o.versioned ? p.base() + b.verdef : nullptr);
    EXPECT_EQ(p.img.verdef_count, o.versioned ? 3u : 0u);
}

TEST_P(VdsoSynthetic, FindsOnlyDefinedGlobalFunctions) {
    const Options o = options();
    const Built b = build(o);
    Parsed p(b);
    ASSERT_EQ(p.err, ParseError::kNone);
    auto at = [&](const char* name) { return p.base() + b.text_off.at(name); };

    size_t size = 0;
    EXPECT_EQ(lookup(p.img, "__vdso_clock_gettime", kVersion, &size), at("__vdso_clock_gettime"));
    EXPECT_EQ(size, 100u);
    EXPECT_EQ(lookup(p.img, "__vdso_clock_gettime", nullptr), at("__vdso_clock_gettime"));
    EXPECT_EQ(lookup(p.img, "__vdso_time", kVersion, &size), at("__vdso_time"));  // weak
    EXPECT_EQ(size, 20u);

    size = 12345;
    for (const char* name : {"__vdso_object", "__vdso_undef", "__vdso_local"}) {
        EXPECT_EQ(lookup(p.img, name, kVersion, &size), nullptr) << name;
        EXPECT_EQ(lookup(p.img, name, nullptr, &size), nullptr) << name;
    }
    EXPECT_EQ(size, 12345u);  // untouched when nothing is found

    EXPECT_EQ(lookup(p.img, "__vdso_nothing", kVersion), nullptr);
    EXPECT_EQ(lookup(p.img, "__vdso_nothing", nullptr), nullptr);
    EXPECT_EQ(lookup(p.img, "__vdso_clock", nullptr), nullptr);  // prefix
    EXPECT_EQ(lookup(p.img, "__vdso_clock_gettimex", nullptr), nullptr);  // longer
    EXPECT_EQ(lookup(p.img, "", nullptr), nullptr);
}

TEST_P(VdsoSynthetic, MatchesVersions) {
    const Options o = options();
    const Built b = build(o);
    Parsed p(b);
    ASSERT_EQ(p.err, ParseError::kNone);
    const unsigned char* other = p.base() + b.text_off.at("__vdso_other");
    const unsigned char* base_sym = p.base() + b.text_off.at("__vdso_base");
    const unsigned char* cg = p.base() + b.text_off.at("__vdso_clock_gettime");

    EXPECT_EQ(lookup(p.img, "__vdso_other", "LINUX_OTHER"), other);
    EXPECT_EQ(lookup(p.img, "__vdso_other", nullptr), other);
    EXPECT_EQ(lookup(p.img, "__vdso_base", nullptr), base_sym);
    if (o.versioned) {
        EXPECT_EQ(lookup(p.img, "__vdso_other", kVersion), nullptr);
        EXPECT_EQ(lookup(p.img, "__vdso_clock_gettime", "LINUX_OTHER"), nullptr);
        EXPECT_EQ(lookup(p.img, "__vdso_clock_gettime", "LINUX_9.9"), nullptr);
        EXPECT_EQ(lookup(p.img, "__vdso_clock_gettime", "LINUX_2.6x"), nullptr);
        EXPECT_EQ(lookup(p.img, "__vdso_clock_gettime", ""), nullptr);
        // The base version (VER_FLG_BASE) never matches a named version.
        EXPECT_EQ(lookup(p.img, "__vdso_base", kVersion), nullptr);
        EXPECT_EQ(lookup(p.img, "__vdso_base", "linux-vdso.so.1"), nullptr);
    } else {
        // An unversioned image accepts any version.
        EXPECT_EQ(lookup(p.img, "__vdso_other", kVersion), other);
        EXPECT_EQ(lookup(p.img, "__vdso_clock_gettime", "LINUX_9.9"), cg);
        EXPECT_EQ(lookup(p.img, "__vdso_base", kVersion), base_sym);
    }
}

struct Listed {
    std::string name;
    std::string version;  // "(null)" when null
    uintptr_t address;
    size_t size;
    int type, bind;
};

std::vector<Listed> list(const Image& img, size_t* returned = nullptr) {
    std::vector<Listed> out;
    const size_t n = for_each_symbol(
        img,
        [](const Symbol& s, void* ctx) {
            static_cast<std::vector<Listed>*>(ctx)->push_back(
                {s.name, s.version ? s.version : "(null)", s.address, s.size, s.type, s.bind});
        },
        &out);
    if (returned) *returned = n;
    return out;
}

TEST_P(VdsoSynthetic, ListsSymbols) {
    const Options o = options();
    const Built b = build(o);
    Parsed p(b);
    ASSERT_EQ(p.err, ParseError::kNone);
    size_t n = 0;
    const std::vector<Listed> got = list(p.img, &n);
    EXPECT_EQ(n, got.size());

    // Expected: every defined symbol, in symbol table order.
    std::vector<std::pair<size_t, std::string>> order;
    for (const auto& [name, idx] : b.index) order.push_back({idx, name});
    std::sort(order.begin(), order.end());
    std::vector<std::string> names;
    for (const auto& [idx, name] : order)
        if (name != "__vdso_undef") names.push_back(name);
    ASSERT_EQ(got.size(), names.size());
    std::map<std::string, std::string> versions = {
        {"__vdso_clock_gettime", "LINUX_2.6"}, {"__vdso_time", "LINUX_2.6"},
        {"__vdso_object", "LINUX_2.6"},        {"__vdso_local", "LINUX_2.6"},
        {"__vdso_other", "LINUX_OTHER"},       {"__vdso_base", "(null)"}};
    for (size_t i = 0; i < got.size(); ++i) {
        const Listed& s = got[i];
        EXPECT_EQ(s.name, names[i]);
        EXPECT_EQ(s.version, o.versioned ? versions.at(s.name) : "(null)") << s.name;
        EXPECT_EQ(s.address, reinterpret_cast<uintptr_t>(p.base() + b.text_off.at(s.name)));
        const Sym& sym = const_cast<Built&>(b).sym(s.name);
        EXPECT_EQ(s.size, sym.st_size);
        EXPECT_EQ(s.type, ELF64_ST_TYPE(sym.st_info));
        EXPECT_EQ(s.bind, ELF64_ST_BIND(sym.st_info));
    }
}

// Many symbols over many buckets: every hash chain is walked.
TEST_P(VdsoSynthetic, FindsManySymbols) {
    Options o = options();
    o.nbuckets = 17;
    o.syms.clear();
    for (int i = 0; i < 300; ++i)
        o.syms.push_back({"fn_" + std::to_string(i * 7919), STT_FUNC, STB_GLOBAL, true,
                          static_cast<uint16_t>(i % 2 ? kLinux26 : kOther), uint64_t(i)});
    const Built b = build(o);
    Parsed p(b);
    ASSERT_EQ(p.err, ParseError::kNone);
    EXPECT_EQ(p.img.sym_count, 301u);
    for (int i = 0; i < 300; ++i) {
        const std::string name = "fn_" + std::to_string(i * 7919);
        const char* ver = i % 2 ? kVersion : "LINUX_OTHER";
        const char* wrong = i % 2 ? "LINUX_OTHER" : kVersion;
        size_t size = 999;
        EXPECT_EQ(lookup(p.img, name.c_str(), ver, &size), p.base() + b.text_off.at(name)) << name;
        EXPECT_EQ(size, uint64_t(i));
        EXPECT_EQ(lookup(p.img, name.c_str(), wrong),
                  o.versioned ? nullptr : p.base() + b.text_off.at(name)) << name;
        EXPECT_EQ(lookup(p.img, (name + "_").c_str(), nullptr), nullptr);
    }
    EXPECT_EQ(list(p.img).size(), 300u);
}

INSTANTIATE_TEST_SUITE_P(
    All, VdsoSynthetic,
    ::testing::Values(Variant{true, false, true}, Variant{false, true, true},
                      Variant{true, true, true}, Variant{true, false, false},
                      Variant{false, true, false}, Variant{true, true, false}),
    [](const ::testing::TestParamInfo<Variant>& info) {
        const Variant& v = info.param;
        return std::string(v.gnu && v.sysv ? "Both" : v.gnu ? "GnuHash" : "SysvHash") +
               (v.versioned ? "Versioned" : "Unversioned");
    });

// ------------------------------------------------------------------------------------------
// Truncated images, read right before a PROT_NONE page

// Everything a parsed image points to must lie inside it.
void expect_within(const Image& img, const unsigned char* base, size_t len) {
    const unsigned char* end = base + len;
    auto inside = [&](const void* p, size_t bytes) {
        const unsigned char* q = static_cast<const unsigned char*>(p);
        return q >= base && q <= end && bytes <= size_t(end - q);
    };
    EXPECT_TRUE(inside(img.strtab, img.strtab_size));
    EXPECT_TRUE(inside(img.symtab, img.sym_count * sizeof(Sym)));
    EXPECT_TRUE(!img.versym || inside(img.versym, img.sym_count * 2));
    EXPECT_TRUE(!img.gnu_hash || inside(img.gnu_hash, 16));
    EXPECT_TRUE(!img.sysv_hash || inside(img.sysv_hash, 2 * sizeof(HashWord)));
    EXPECT_TRUE(!img.verdef || inside(img.verdef, 1));
}

void exercise(const Image& img) {
    for (const auto& s : default_syms()) {
        size_t size = 0;
        (void)lookup(img, s.name.c_str(), kVersion, &size);
        (void)lookup(img, s.name.c_str(), "LINUX_OTHER", &size);
        (void)lookup(img, s.name.c_str(), nullptr, &size);
    }
    (void)lookup(img, "__vdso_nothing", kVersion);
    (void)list(img);
}

TEST_P(VdsoSynthetic, EveryTruncationIsRejectedOrSafe) {
    const Built b = build(options());
    const size_t full = b.bytes.size();
    GuardedBuffer buf(full + 16);
    size_t accepted = 0;
    for (size_t len = 0; len <= full; ++len) {
        // slack 0: the image ends exactly at the guard page (its base is then misaligned unless
        // len is a multiple of 8). The other slack puts the base on an 8-byte boundary, so every
        // length gets parsed as an aligned image too; the invariant check below covers the slack.
        const size_t slacks[] = {0, (8 - len % 8) % 8};
        for (size_t slack : slacks) {
            const unsigned char* base = buf.place(b.bytes.data(), len, slack);
            Image img;
            const ParseError e = parse(base, len, &img);
            if (len < sizeof(Ehdr)) {
                EXPECT_EQ(e, ParseError::kTooSmall) << len;
            }
            if (e != ParseError::kNone) continue;
            ++accepted;
            expect_within(img, base, len);
            exercise(img);
            if (len == full) {
                EXPECT_EQ(lookup(img, "__vdso_clock_gettime", kVersion),
                          base + b.text_off.at("__vdso_clock_gettime"));
            }
        }
    }
    EXPECT_GE(accepted, 2u);  // at least the full image, in both placements
}

// ------------------------------------------------------------------------------------------
// Corrupt images: exact results

Options gnu_only() { return Options{}; }
Options sysv_only() {
    Options o;
    o.gnu = false;
    o.sysv = true;
    return o;
}
Options both() {
    Options o;
    o.sysv = true;
    return o;
}

ParseError parse_of(const Built& b) { return Parsed(b).err; }

TEST(VdsoMalformed, NullOrTiny) {
    Image img;
    EXPECT_EQ(parse(nullptr, 4096, &img), ParseError::kTooSmall);
    const Built b = build(gnu_only());
    EXPECT_EQ(Parsed(b, sizeof(Ehdr) - 1).err, ParseError::kTooSmall);
}

TEST(VdsoMalformed, MisalignedBase) {
    // Tables are read through typed pointers, so an image that is not 8-byte aligned is refused.
    const Built b = build(gnu_only());
    std::vector<unsigned char> buf(b.bytes.size() + 16);
    unsigned char* base = buf.data() + 1;
    std::memcpy(base, b.bytes.data(), b.bytes.size());
    Image img;
    EXPECT_EQ(parse(base, b.bytes.size(), &img), ParseError::kBadHeader);
}

TEST(VdsoMalformed, BadMagicClassOrder) {
    for (int field : {EI_MAG0, EI_MAG3, EI_CLASS, EI_DATA}) {
        Built b = build(gnu_only());
        b.bytes[field] ^= 0x03;
        EXPECT_EQ(parse_of(b), ParseError::kBadMagic) << field;
    }
}

TEST(VdsoMalformed, ProgramHeaderTable) {
    Built b = build(gnu_only());
    b.ehdr().e_phoff = b.bytes.size();
    EXPECT_EQ(parse_of(b), ParseError::kBadHeader);
    b.ehdr().e_phoff = ~ElfW(Off){0} - 8;  // overflows when added
    EXPECT_EQ(parse_of(b), ParseError::kBadHeader);
    b.ehdr().e_phoff = b.bytes.size() - sizeof(Phdr);  // second entry past the end
    EXPECT_EQ(parse_of(b), ParseError::kBadHeader);
    b.ehdr().e_phoff = sizeof(Ehdr) + 1;  // misaligned
    EXPECT_EQ(parse_of(b), ParseError::kBadHeader);
    b = build(gnu_only());
    b.ehdr().e_phentsize = sizeof(Phdr) - 8;
    EXPECT_EQ(parse_of(b), ParseError::kBadHeader);
    b = build(gnu_only());
    b.ehdr().e_phnum = 0xffff;
    EXPECT_EQ(parse_of(b), ParseError::kBadHeader);
    b = build(gnu_only());
    b.ehdr().e_phnum = 0;
    EXPECT_EQ(parse_of(b), ParseError::kNoLoad);
}

TEST(VdsoMalformed, Segments) {
    Built b = build(gnu_only());
    b.phdr(0).p_type = PT_NOTE;
    EXPECT_EQ(parse_of(b), ParseError::kNoLoad);

    b = build(gnu_only());
    b.phdr(1).p_type = PT_NOTE;
    EXPECT_EQ(parse_of(b), ParseError::kNoDynamic);
    b = build(gnu_only());
    b.phdr(1).p_offset = b.bytes.size();
    EXPECT_EQ(parse_of(b), ParseError::kNoDynamic);
    b = build(gnu_only());
    b.phdr(1).p_filesz = b.bytes.size();
    EXPECT_EQ(parse_of(b), ParseError::kNoDynamic);
    b = build(gnu_only());
    b.phdr(1).p_offset = ~ElfW(Off){0} - 15;
    EXPECT_EQ(parse_of(b), ParseError::kNoDynamic);
}

TEST(VdsoMalformed, DynamicPointers) {
    const Built good = build(gnu_only());
    const uint64_t end = good.bytes.size() + kVaddr;
    struct Case {
        Elf64_Sxword tag;
        uint64_t value;
        ParseError want;
    };
    for (const Case& c : {
             Case{DT_STRTAB, end, ParseError::kBadDynamic},
             Case{DT_STRTAB, kVaddr - 8, ParseError::kBadDynamic},  // before the image
             Case{DT_STRTAB, ~uint64_t{0}, ParseError::kBadDynamic},
             Case{DT_SYMTAB, end, ParseError::kBadDynamic},
             Case{DT_SYMTAB, good.dynsym + kVaddr + 1, ParseError::kBadDynamic},  // misaligned
             Case{DT_SYMENT, sizeof(Sym) + 8, ParseError::kBadDynamic},
             Case{DT_GNU_HASH, end, ParseError::kNoHash},
             Case{DT_GNU_HASH, end - 8, ParseError::kNoHash},  // header cut by the end
             Case{DT_VERSYM, end, ParseError::kBadDynamic},
             Case{DT_VERSYM, end - 4, ParseError::kBadDynamic},  // too short for sym_count
             Case{DT_VERDEF, end, ParseError::kBadDynamic},
         }) {
        Built b = good;
        b.dyn(c.tag).d_un.d_val = c.value;
        EXPECT_EQ(parse_of(b), c.want) << c.tag << " = " << c.value;
    }
    // Missing tables: retag the entry as something ignored.
    for (const auto& [tag, want] : std::vector<std::pair<Elf64_Sxword, ParseError>>{
             {DT_STRTAB, ParseError::kBadDynamic},
             {DT_SYMTAB, ParseError::kBadDynamic},
             {DT_GNU_HASH, ParseError::kNoHash}}) {
        Built b = good;
        b.dyn(tag).d_tag = DT_DEBUG;
        EXPECT_EQ(parse_of(b), want) << tag;
    }
    // The first DT_NULL ends the section: tables listed after it do not count.
    Built b = good;
    b.at<Dyn>(b.dynamic).d_tag = DT_NULL;
    EXPECT_EQ(parse_of(b), ParseError::kBadDynamic);

    b = build(sysv_only());
    b.dyn(DT_HASH).d_un.d_val = b.bytes.size() + kVaddr;
    EXPECT_EQ(parse_of(b), ParseError::kNoHash);
}

TEST(VdsoMalformed, HashHeaders) {
    Built b = build(gnu_only());
    b.gnu_words()[0] = 0;  // no buckets
    EXPECT_EQ(parse_of(b), ParseError::kNoHash);
    b = build(gnu_only());
    b.gnu_words()[0] = 0x40000000;  // buckets past the end
    EXPECT_EQ(parse_of(b), ParseError::kNoHash);
    b = build(gnu_only());
    b.gnu_words()[2] = 0xffffffff;  // bloom past the end
    EXPECT_EQ(parse_of(b), ParseError::kNoHash);

    b = build(sysv_only());
    b.sysv_words()[0] = 0;
    EXPECT_EQ(parse_of(b), ParseError::kNoHash);
    b = build(sysv_only());
    b.sysv_words()[1] = 0xffffffff;  // nchain past the end
    EXPECT_EQ(parse_of(b), ParseError::kNoHash);
    b = build(sysv_only());
    b.sysv_words()[0] = 0xffffffff;
    EXPECT_EQ(parse_of(b), ParseError::kNoHash);

    // Both present, one broken: rejected rather than half-trusted.
    b = build(both());
    b.gnu_words()[0] = 0;
    EXPECT_EQ(parse_of(b), ParseError::kNoHash);
}

TEST(VdsoMalformed, StringTable) {
    // DT_STRSZ larger than the image is clamped to it.
    Built b = build(gnu_only());
    b.dyn(DT_STRSZ).d_un.d_val = 1u << 30;
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(p.img.strtab_size, b.bytes.size() - b.dynstr);
        EXPECT_NE(lookup(p.img, "__vdso_clock_gettime", kVersion), nullptr);
    }
    // A name cut by DT_STRSZ (no terminator inside the table) is neither found nor listed.
    b = build(gnu_only());
    const Sym& cg = b.sym("__vdso_clock_gettime");
    b.dyn(DT_STRSZ).d_un.d_val = cg.st_name + 5;
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(lookup(p.img, "__vdso_clock_gettime", nullptr), nullptr);
        EXPECT_EQ(lookup(p.img, "__vdso", nullptr), nullptr);
        std::set<std::string> complete;
        for (const auto& s : default_syms()) complete.insert(s.name);
        for (const Listed& s : list(p.img)) {
            EXPECT_NE(s.name, "__vdso_clock_gettime");
            EXPECT_TRUE(complete.count(s.name)) << s.name;  // never a cut-off name
        }
    }
    // A name offset past the table.
    b = build(gnu_only());
    b.sym("__vdso_clock_gettime").st_name = 0x7fffffff;
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(lookup(p.img, "__vdso_clock_gettime", nullptr), nullptr);
        EXPECT_EQ(list(p.img).size(), 5u);  // 6 defined, one now nameless
    }
}

TEST(VdsoMalformed, SymbolValueOutsideImage) {
    Built b = build(gnu_only());
    b.sym("__vdso_clock_gettime").st_value = b.bytes.size() + kVaddr;
    Parsed p(b);
    ASSERT_EQ(p.err, ParseError::kNone);
    EXPECT_EQ(lookup(p.img, "__vdso_clock_gettime", kVersion), nullptr);
}

TEST(VdsoMalformed, BucketIndexPastSymtab) {
    // With DT_HASH present the symbol count is its nchain, so GNU buckets can point past it.
    Built b = build(both());
    for (uint32_t i = 0; i < b.gnu_words()[0]; ++i) b.at<uint32_t>(b.gnu_buckets() + 4 * i) = 1000;
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(p.img.sym_count, b.nsyms);
        for (const auto& s : default_syms())
            EXPECT_EQ(lookup(p.img, s.name.c_str(), nullptr), nullptr) << s.name;
    }
    // GNU only: the symbol count comes from the highest bucket's chain, which now runs off the
    // image.
    b = build(gnu_only());
    b.at<uint32_t>(b.gnu_buckets()) = 1000;
    EXPECT_EQ(parse_of(b), ParseError::kNoHash);

    // A GNU bucket below symoffset is ignored.
    b = build(both());
    b.gnu_words()[1] = 5;  // symoffset
    for (uint32_t i = 0; i < b.gnu_words()[0]; ++i) b.at<uint32_t>(b.gnu_buckets() + 4 * i) = 2;
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(lookup(p.img, "__vdso_clock_gettime", nullptr), nullptr);
    }

    b = build(sysv_only());
    for (uint32_t i = 0; i < 3; ++i) b.sysv_words()[2 + i] = 1000;
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        for (const auto& s : default_syms())
            EXPECT_EQ(lookup(p.img, s.name.c_str(), nullptr), nullptr) << s.name;
    }
    // A SysV chain entry past nchain ends the walk.
    b = build(sysv_only());
    HashWord* chain = b.sysv_words() + 2 + 3;
    for (size_t i = 0; i < b.nsyms; ++i) chain[i] = 1000;
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(lookup(p.img, "__vdso_nothing", nullptr), nullptr);
    }
}

TEST(VdsoMalformed, GnuChainRunsOffImage) {
    // With DT_HASH giving the symbol count, the GNU chain is not walked at parse time. Put a GNU
    // table in the last bytes of the image: its chain has room for one word, without end bit.
    Built b = build(both());
    const size_t table = b.bytes.size() - (16 + sizeof(Addr) + 4 + 4);
    uint32_t* h = &b.at<uint32_t>(table);
    h[0] = 1;                                    // nbuckets
    h[1] = 1;                                    // symoffset
    h[2] = 1;                                    // bloom words
    h[3] = 0;
    b.at<Addr>(table + 16) = ~Addr{0};
    b.at<uint32_t>(table + 16 + sizeof(Addr)) = 1;       // bucket 0 -> symbol 1
    b.at<uint32_t>(table + 16 + sizeof(Addr) + 4) = 0;   // chain of symbol 1: no end bit
    b.dyn(DT_GNU_HASH).d_un.d_val = table + kVaddr;
    Parsed p(b);
    ASSERT_EQ(p.err, ParseError::kNone);
    EXPECT_EQ(lookup(p.img, "__vdso_nothing", nullptr), nullptr);
    EXPECT_EQ(lookup(p.img, "__vdso_clock_gettime", nullptr), nullptr);
}

TEST(VdsoMalformed, SymtabClampedToImage) {
    // nchain claims more symbols than fit between the symbol table and the end of the image.
    Options o = sysv_only();
    Built b = build(o);
    // Shrink the claimed count's room: point DT_SYMTAB near the end so only 2 symbols fit.
    const size_t near_end = (b.bytes.size() - 2 * sizeof(Sym) - 8) / 8 * 8;
    b.dyn(DT_SYMTAB).d_un.d_val = near_end + kVaddr;
    Parsed p(b);
    ASSERT_EQ(p.err, ParseError::kNone);
    EXPECT_EQ(p.img.sym_count, (b.bytes.size() - near_end) / sizeof(Sym));
    exercise(p.img);
}

TEST(VdsoMalformed, ChainLoops) {
    // SysV: one bucket, and the chain's last entry points back to its first.
    Options o = sysv_only();
    o.nbuckets = 1;
    Built b = build(o);
    HashWord* chain = b.sysv_words() + 2 + 1;
    const HashWord head = b.sysv_words()[2];
    for (size_t i = 1; i < b.nsyms; ++i)
        if (chain[i] == 0) chain[i] = head;
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(lookup(p.img, "__vdso_nothing", nullptr), nullptr);
        EXPECT_EQ(lookup(p.img, "__vdso_clock_gettime", kVersion),
                  p.base() + b.text_off.at("__vdso_clock_gettime"));
    }
    // SysV: an entry pointing at itself.
    b = build(o);
    chain = b.sysv_words() + 2 + 1;
    chain[b.sysv_words()[2]] = b.sysv_words()[2];
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(lookup(p.img, "__vdso_nothing", nullptr), nullptr);
    }
    // GNU: no end bit anywhere (DT_HASH gives the count): the walk stops at sym_count.
    Options ob = both();
    ob.nbuckets = 1;
    b = build(ob);
    for (size_t i = 0; i + 1 < b.nsyms; ++i) b.at<uint32_t>(b.gnu_chain() + 4 * i) &= ~1u;
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(lookup(p.img, "__vdso_nothing", nullptr), nullptr);
        EXPECT_EQ(lookup(p.img, "__vdso_clock_gettime", kVersion),
                  p.base() + b.text_off.at("__vdso_clock_gettime"));
    }
    // GNU only, no end bit: counting the symbols runs into the following tables; whatever it
    // finds, the count is clamped to the symbols that fit and nothing is read out of bounds.
    b = build(gnu_only());
    for (size_t i = 0; i + 1 < b.nsyms; ++i) b.at<uint32_t>(b.gnu_chain() + 4 * i) &= ~1u;
    {
        Parsed p(b);
        if (p.err == ParseError::kNone) {
            expect_within(p.img, p.base(), b.bytes.size());
            exercise(p.img);
        } else {
            EXPECT_EQ(p.err, ParseError::kNoHash);
        }
    }
}

TEST(VdsoMalformed, VerdefWalk) {
    const char* cg = "__vdso_clock_gettime";
    // vd_next = -20 as a 32-bit value: a wrap that would cycle with 32-bit pointer arithmetic.
    Built b = build(gnu_only());
    b.verdef_entry(0).vd_next = static_cast<uint32_t>(-20);
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(lookup(p.img, cg, kVersion), nullptr);
        EXPECT_EQ(lookup(p.img, cg, nullptr), p.base() + b.text_off.at(cg));
        for (const Listed& s : list(p.img)) EXPECT_EQ(s.version, "(null)") << s.name;
    }
    // vd_next pointing past the end.
    b = build(gnu_only());
    b.verdef_entry(0).vd_next = 0x10000;
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(lookup(p.img, cg, kVersion), nullptr);
    }
    // vd_next = 2: misaligned next entry ends the walk.
    b = build(gnu_only());
    b.verdef_entry(0).vd_next = 2;
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(lookup(p.img, cg, kVersion), nullptr);
    }
    // DT_VERDEFNUM bounds the walk: only the base definition is visited.
    b = build(gnu_only());
    b.dyn(DT_VERDEFNUM).d_un.d_val = 1;
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(lookup(p.img, cg, kVersion), nullptr);
    }
    // Broken auxiliary entry: offset outside, or no entries.
    b = build(gnu_only());
    b.verdef_entry(1).vd_aux = 0x7fffffff;
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(lookup(p.img, cg, kVersion), nullptr);
        EXPECT_EQ(lookup(p.img, "__vdso_other", "LINUX_OTHER"),
                  p.base() + b.text_off.at("__vdso_other"));
    }
    b = build(gnu_only());
    b.verdef_entry(1).vd_cnt = 0;
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(lookup(p.img, cg, kVersion), nullptr);
    }
    // Hash mismatch with a matching name.
    b = build(gnu_only());
    b.verdef_entry(1).vd_hash ^= 1;
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(lookup(p.img, cg, kVersion), nullptr);
    }
    // A versym without verdef cannot match versions: the image counts as unversioned.
    b = build(gnu_only());
    b.dyn(DT_VERDEF).d_tag = DT_DEBUG;
    {
        Parsed p(b);
        ASSERT_EQ(p.err, ParseError::kNone);
        EXPECT_EQ(p.img.versym, nullptr);
        EXPECT_EQ(lookup(p.img, cg, "LINUX_9.9"), p.base() + b.text_off.at(cg));
    }
}

}  // namespace
