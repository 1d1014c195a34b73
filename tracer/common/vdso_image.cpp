// See vdso_image.h. Everything here may run before constructors and inside signal handlers, so it
// uses no libc (except getauxval in parse_live), no allocation and no static constructors. Every
// read goes through a bounds check against [base, base + size): the image is treated as hostile.

#include "tracer/common/vdso_image.h"

#include <elf.h>
#include <link.h>
#include <sys/auxv.h>

#include "tracer/common/elf_bytes.h"

namespace vdsotrace::vdso {
namespace {

using elf::Addr;
using elf::aligned;
using elf::Dyn;
using elf::Ehdr;
using elf::fits;
using elf::HashWord;
using elf::Phdr;
using elf::Sym;
using Verdef = ElfW(Verdef);
using Verdaux = ElfW(Verdaux);

constexpr unsigned char kNativeClass = __ELF_NATIVE_CLASS == 64 ? ELFCLASS64 : ELFCLASS32;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr unsigned char kNativeData = ELFDATA2LSB;
#else
constexpr unsigned char kNativeData = ELFDATA2MSB;
#endif

// True when `count` T's at `off` lie inside the image and are naturally aligned: structures are
// read through typed pointers (the real vDSO is page-aligned and its tables are aligned; a
// misaligned table means a corrupt image).
template <typename T>
bool table_at(const unsigned char* base, size_t size, uint64_t off, uint64_t count) {
    return fits(size, off, count, sizeof(T)) && aligned(base, off, alignof(T));
}

// Converts a dynamic-section address (relative to load_offset) to an image offset. Addresses
// below the image wrap to huge offsets and fail the check.
bool dyn_to_off(const Image& img, Addr addr, uint64_t* off) {
    const uintptr_t p = img.load_offset + addr;
    *off = p - reinterpret_cast<uintptr_t>(img.base);
    return *off < img.size;
}

uint32_t elf_hash(const char* name) {
    uint32_t h = 0;
    for (const unsigned char* s = reinterpret_cast<const unsigned char*>(name); *s; ++s) {
        h = (h << 4) + *s;
        const uint32_t g = h & 0xf0000000u;
        if (g) h ^= g >> 24;
        h &= ~g;
    }
    return h;
}

uint32_t gnu_hash(const char* name) {
    uint32_t h = 5381;
    for (const unsigned char* s = reinterpret_cast<const unsigned char*>(name); *s; ++s)
        h = h * 33 + *s;
    return h;
}

// The string at strtab offset `off`, or null unless it is NUL-terminated inside the table.
const char* str_at(const Image& img, uint64_t off) {
    if (off >= img.strtab_size) return nullptr;
    for (uint64_t i = off; i < img.strtab_size; ++i)
        if (img.strtab[i] == '\0') return img.strtab + off;
    return nullptr;
}

// Compares `name` with the strtab string at `off` without reading past the table.
bool str_equals(const Image& img, uint64_t off, const char* name) {
    for (uint64_t i = 0;; ++i) {
        if (off >= img.strtab_size || i >= img.strtab_size - off) return false;
        const char c = img.strtab[off + i];
        if (c != name[i]) return false;
        if (c == '\0') return true;
    }
}

const Sym* sym_at(const Image& img, uint64_t i) {
    return i < img.sym_count ? static_cast<const Sym*>(img.symtab) + i : nullptr;
}

const Verdef* verdef_at(const Image& img, uint64_t off) {
    return table_at<Verdef>(img.base, img.size, off, 1)
               ? reinterpret_cast<const Verdef*>(img.base + off)
               : nullptr;
}

// The non-base version definition with index `ndx`, or null. The chain only moves forward
// (vd_next is unsigned and added to a 64-bit offset), but the walk is still bounded so that a
// corrupt DT_VERDEFNUM or a 32-bit-style wrapping vd_next cannot make it spin.
const Verdef* find_verdef(const Image& img, uint16_t ndx) {
    if (!img.verdef) return nullptr;
    uint64_t off = static_cast<const unsigned char*>(img.verdef) - img.base;
    uint64_t limit = img.size / sizeof(Verdef) + 1;
    if (img.verdef_count && img.verdef_count < limit) limit = img.verdef_count;
    for (uint64_t n = 0; n < limit; ++n) {
        const Verdef* def = verdef_at(img, off);
        if (!def) return nullptr;
        if (!(def->vd_flags & VER_FLG_BASE) && (def->vd_ndx & 0x7fff) == ndx) return def;
        if (def->vd_next == 0) return nullptr;
        off += def->vd_next;
    }
    return nullptr;
}

// Offset of the name of a definition's first Verdaux in strtab, or false.
bool verdef_name(const Image& img, const Verdef* def, uint64_t* name_off) {
    const uint64_t off = reinterpret_cast<const unsigned char*>(def) - img.base + def->vd_aux;
    if (def->vd_cnt == 0 || !table_at<Verdaux>(img.base, img.size, off, 1)) return false;
    *name_off = reinterpret_cast<const Verdaux*>(img.base + off)->vda_name;
    return true;
}

// Whether symbol `i` has version `version` (same rule as parse_vdso.c).
bool version_matches(const Image& img, uint64_t i, const char* version, uint32_t ver_hash) {
    if (!version || !img.versym) return true;
    const Verdef* def = find_verdef(img, img.versym[i] & 0x7fff);
    uint64_t name_off = 0;
    return def && def->vd_hash == ver_hash && verdef_name(img, def, &name_off) &&
           str_equals(img, name_off, version);
}

const void* check_sym(const Image& img, uint64_t i, const char* name, const char* version,
                      uint32_t ver_hash, size_t* size_out) {
    const Sym* s = sym_at(img, i);
    if (!s || s->st_shndx == SHN_UNDEF || ELF64_ST_TYPE(s->st_info) != STT_FUNC) return nullptr;
    const unsigned bind = ELF64_ST_BIND(s->st_info);
    if (bind != STB_GLOBAL && bind != STB_WEAK) return nullptr;
    if (!str_equals(img, s->st_name, name) || !version_matches(img, i, version, ver_hash))
        return nullptr;
    // Callers jump to this address: refuse one that is not inside the image.
    uint64_t off = 0;
    if (!dyn_to_off(img, s->st_value, &off)) return nullptr;
    if (size_out) *size_out = s->st_size;
    return img.base + off;
}

// Reads and checks the ELF header and program header table.
ParseError check_header(const unsigned char* b, size_t size, const Phdr** phdrs, size_t* phnum) {
    if (!b || size < sizeof(Ehdr)) return ParseError::kTooSmall;
    if (b[EI_MAG0] != ELFMAG0 || b[EI_MAG1] != ELFMAG1 || b[EI_MAG2] != ELFMAG2 ||
        b[EI_MAG3] != ELFMAG3 || b[EI_CLASS] != kNativeClass || b[EI_DATA] != kNativeData)
        return ParseError::kBadMagic;
    if (!aligned(b, 0, alignof(Ehdr))) return ParseError::kBadHeader;
    const Ehdr* eh = reinterpret_cast<const Ehdr*>(b);
    if (eh->e_phnum != 0 && eh->e_phentsize != sizeof(Phdr)) return ParseError::kBadHeader;
    if (!table_at<Phdr>(b, size, eh->e_phoff, eh->e_phnum)) return ParseError::kBadHeader;
    *phdrs = reinterpret_cast<const Phdr*>(b + eh->e_phoff);
    *phnum = eh->e_phnum;
    return ParseError::kNone;
}

// Checks the DT_GNU_HASH table at `off` and, when `count` is not null, counts the symbols it
// covers: the highest bucket's chain ends the table (bounded by the image).
bool check_gnu_hash(const Image& img, uint64_t off, uint64_t* count) {
    if (!table_at<uint32_t>(img.base, img.size, off, 4)) return false;
    const uint32_t* h = reinterpret_cast<const uint32_t*>(img.base + off);
    const uint32_t nbuckets = h[0], symoffset = h[1], bloom_words = h[2];
    const uint64_t header = 4 * 4 + uint64_t{bloom_words} * sizeof(Addr);
    if (nbuckets == 0 || !fits(img.size, off, 1, header) ||
        !table_at<uint32_t>(img.base, img.size, off + header, nbuckets))
        return false;
    if (!count) return true;
    const uint32_t* buckets = reinterpret_cast<const uint32_t*>(img.base + off + header);
    uint32_t last = 0;
    for (uint32_t i = 0; i < nbuckets; ++i)
        if (buckets[i] > last) last = buckets[i];
    if (last == 0) {  // nothing hashed: only the unhashed symbols below symoffset
        *count = symoffset;
        return true;
    }
    if (last < symoffset) return false;
    const uint64_t chain_off = off + header + uint64_t{nbuckets} * 4;
    for (uint64_t i = last;; ++i) {
        const uint64_t word = chain_off + (i - symoffset) * 4;
        if (!fits(img.size, word, 1, 4)) return false;  // chain runs off the image
        if (*reinterpret_cast<const uint32_t*>(img.base + word) & 1) {
            *count = i + 1;
            return true;
        }
    }
}

// Checks the DT_HASH table at `off`; returns its nchain (the symbol count) through `count`.
bool check_sysv_hash(const Image& img, uint64_t off, uint64_t* count) {
    if (!table_at<HashWord>(img.base, img.size, off, 2)) return false;
    const HashWord* h = reinterpret_cast<const HashWord*>(img.base + off);
    const uint64_t nbucket = h[0], nchain = h[1];
    if (nbucket == 0 || nbucket > img.size || nchain > img.size ||
        !table_at<HashWord>(img.base, img.size, off, 2 + nbucket + nchain))
        return false;
    *count = nchain;
    return true;
}

void copy_image(const Image& img, Image* out);

}  // namespace

const char* to_string(ParseError e) {
    switch (e) {
        case ParseError::kNone: return "ok";
        case ParseError::kTooSmall: return "image too small or absent";
        case ParseError::kBadMagic: return "not an ELF image of this machine's class and byte order";
        case ParseError::kBadHeader: return "bad program header table";
        case ParseError::kNoLoad: return "no PT_LOAD segment";
        case ParseError::kNoDynamic: return "no usable PT_DYNAMIC segment";
        case ParseError::kBadDynamic: return "dynamic section missing or out-of-bounds table";
        case ParseError::kNoHash: return "no usable DT_GNU_HASH or DT_HASH table";
    }
    return "unknown error";
}

ParseError parse(const void* base, size_t size, Image* out) {
    const unsigned char* b = static_cast<const unsigned char*>(base);
    const Phdr* ph = nullptr;
    size_t phnum = 0;
    if (const ParseError e = check_header(b, size, &ph, &phnum); e != ParseError::kNone) return e;

    Image img;
    img.base = b;
    img.size = size;
    const Phdr* load = nullptr;
    const Phdr* dynamic = nullptr;
    for (size_t i = 0; i < phnum; ++i) {
        if (ph[i].p_type == PT_LOAD && !load) load = &ph[i];
        if (ph[i].p_type == PT_DYNAMIC && !dynamic) dynamic = &ph[i];
    }
    if (!load) return ParseError::kNoLoad;
    if (!dynamic || !table_at<Dyn>(b, size, dynamic->p_offset, dynamic->p_filesz / sizeof(Dyn)))
        return ParseError::kNoDynamic;
    img.load_offset = reinterpret_cast<uintptr_t>(b) + load->p_offset - load->p_vaddr;

    // Collect the dynamic entries we need; they are checked once all are known.
    Addr strtab = 0, symtab = 0, gnu = 0, sysv = 0, versym = 0, verdef = 0;
    uint64_t strsz = 0, syment = 0;
    bool have_strtab = false, have_symtab = false, have_strsz = false;
    const Dyn* dyn = reinterpret_cast<const Dyn*>(b + dynamic->p_offset);
    const size_t ndyn = dynamic->p_filesz / sizeof(Dyn);
    for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; ++i) {
        const Addr v = dyn[i].d_un.d_ptr;
        switch (dyn[i].d_tag) {
            case DT_STRTAB: strtab = v; have_strtab = true; break;
            case DT_SYMTAB: symtab = v; have_symtab = true; break;
            case DT_STRSZ: strsz = v; have_strsz = true; break;
            case DT_SYMENT: syment = v; break;
            case DT_GNU_HASH: gnu = v; break;
            case DT_HASH: sysv = v; break;
            case DT_VERSYM: versym = v; break;
            case DT_VERDEF: verdef = v; break;
            case DT_VERDEFNUM: img.verdef_count = v; break;
            default: break;
        }
    }

    uint64_t str_off = 0, sym_off = 0;
    if (!have_strtab || !have_symtab || (syment && syment != sizeof(Sym)) ||
        !dyn_to_off(img, strtab, &str_off) || !dyn_to_off(img, symtab, &sym_off) ||
        !aligned(b, sym_off, alignof(Sym)))
        return ParseError::kBadDynamic;
    img.strtab = reinterpret_cast<const char*>(b + str_off);
    img.strtab_size = size - str_off;
    if (have_strsz && strsz < img.strtab_size) img.strtab_size = strsz;
    img.symtab = b + sym_off;

    // The symbol count comes from DT_HASH when there is one (nchain is exact), else from the
    // GNU hash chains. A present but broken table rejects the image.
    uint64_t gnu_off = 0, sysv_off = 0, count = 0;
    if (!gnu && !sysv) return ParseError::kNoHash;
    if (sysv) {
        if (!dyn_to_off(img, sysv, &sysv_off) || !check_sysv_hash(img, sysv_off, &count))
            return ParseError::kNoHash;
        img.sysv_hash = b + sysv_off;
    }
    if (gnu) {
        if (!dyn_to_off(img, gnu, &gnu_off) ||
            !check_gnu_hash(img, gnu_off, sysv ? nullptr : &count))
            return ParseError::kNoHash;
        img.gnu_hash = reinterpret_cast<const uint32_t*>(b + gnu_off);
    }
    const uint64_t room = (size - sym_off) / sizeof(Sym);
    img.sym_count = count < room ? count : room;

    // Versions are optional, but when declared they must lie inside the image. A versym table
    // without definitions cannot match anything, so the image is then treated as unversioned
    // (as parse_vdso.c does).
    if (verdef) {
        uint64_t vd_off = 0, vs_off = 0;
        if (!dyn_to_off(img, verdef, &vd_off) || !aligned(b, vd_off, alignof(Verdef)))
            return ParseError::kBadDynamic;
        img.verdef = b + vd_off;
        if (versym) {
            if (!dyn_to_off(img, versym, &vs_off) ||
                !table_at<uint16_t>(b, size, vs_off, img.sym_count))
                return ParseError::kBadDynamic;
            img.versym = reinterpret_cast<const uint16_t*>(b + vs_off);
        }
    }

    copy_image(img, out);
    return ParseError::kNone;
}

namespace {

// Copied field by field: a whole-struct copy may become a memcpy call.
void copy_image(const Image& img, Image* out) {
    out->base = img.base;
    out->size = img.size;
    out->load_offset = img.load_offset;
    out->strtab = img.strtab;
    out->strtab_size = img.strtab_size;
    out->symtab = img.symtab;
    out->sym_count = img.sym_count;
    out->gnu_hash = img.gnu_hash;
    out->sysv_hash = img.sysv_hash;
    out->versym = img.versym;
    out->verdef = img.verdef;
    out->verdef_count = img.verdef_count;
}

// The live vDSO, parsed once: it neither moves nor changes its headers or tables while the process
// lives (the shim's redirections rewrite symbol values, which lookups read afresh), and a process
// start parsed it four times (entries, libc's pointers, the crash handler, the recording's copy).
// Published with a release store once filled; a caller that finds it being filled (another
// thread, or a signal handler that interrupted the filler) parses for itself.
enum : uint32_t { kLiveUnknown = 0, kLiveFilling = 1, kLiveReady = 2 };
constinit Image g_live{};
uint32_t g_live_state;

ParseError parse_live_image(Image* out);

}  // namespace

ParseError parse_live(Image* out) {
    if (__atomic_load_n(&g_live_state, __ATOMIC_ACQUIRE) == kLiveReady) {
        copy_image(g_live, out);
        return ParseError::kNone;
    }
    const ParseError e = parse_live_image(out);
    uint32_t unknown = kLiveUnknown;
    if (e == ParseError::kNone && __atomic_compare_exchange_n(&g_live_state, &unknown, uint32_t(kLiveFilling), false,
                                                              __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        copy_image(*out, &g_live);
        __atomic_store_n(&g_live_state, uint32_t(kLiveReady), __ATOMIC_RELEASE);
    }
    return e;
}

namespace {

ParseError parse_live_image(Image* out) {
    const unsigned char* b = reinterpret_cast<const unsigned char*>(getauxval(AT_SYSINFO_EHDR));
    if (!b) return ParseError::kTooSmall;
    // The live vDSO has no size of its own. It is mapped in whole pages, so its first page is
    // readable: check the header and program headers within it, then take the end of the
    // highest PT_LOAD as the size.
    size_t page = getauxval(AT_PAGESZ);
    if (page < 4096) page = 4096;
    const Phdr* ph = nullptr;
    size_t phnum = 0;
    if (const ParseError e = check_header(b, page, &ph, &phnum); e != ParseError::kNone) return e;
    uint64_t end = 0;
    for (size_t i = 0; i < phnum; ++i) {
        if (ph[i].p_type != PT_LOAD) continue;
        const uint64_t e = ph[i].p_offset + ph[i].p_filesz;
        if (e < ph[i].p_offset) return ParseError::kBadHeader;  // overflow
        if (e > end) end = e;
    }
    if (end == 0) return ParseError::kNoLoad;
    return parse(b, end, out);
}

}  // namespace

const void* lookup(const Image& img, const char* name, const char* version, size_t* size_out) {
    if (!img.base || !img.symtab || !name) return nullptr;
    const uint32_t ver_hash = version ? elf_hash(version) : 0;

    if (img.gnu_hash) {
        // Layout (checked in parse): nbuckets, symoffset, bloom_words, shift, bloom[bloom_words]
        // (address-sized), buckets[nbuckets], then one chain word per symbol from symoffset.
        const uint32_t* h = img.gnu_hash;
        const uint32_t nbuckets = h[0], symoffset = h[1];
        const uint64_t header = 4 * 4 + uint64_t{h[2]} * sizeof(Addr);
        const uint64_t table_off = reinterpret_cast<const unsigned char*>(h) - img.base;
        const uint32_t* buckets = reinterpret_cast<const uint32_t*>(img.base + table_off + header);
        const uint64_t chain_off = table_off + header + uint64_t{nbuckets} * 4;
        const uint32_t hash = gnu_hash(name);
        uint64_t i = buckets[hash % nbuckets];
        if (i == 0 || i < symoffset) return nullptr;
        // Each step moves forward and the index is checked against sym_count: bounded.
        for (; i < img.sym_count; ++i) {
            const uint64_t word = chain_off + (i - symoffset) * 4;
            if (!fits(img.size, word, 1, 4)) return nullptr;
            const uint32_t h2 = *reinterpret_cast<const uint32_t*>(img.base + word);
            if ((hash | 1) == (h2 | 1))
                if (const void* p = check_sym(img, i, name, version, ver_hash, size_out)) return p;
            if (h2 & 1) break;
        }
        return nullptr;
    }

    if (img.sysv_hash) {
        const HashWord* h = static_cast<const HashWord*>(img.sysv_hash);
        const uint64_t nbucket = h[0], nchain = h[1];
        const HashWord* buckets = h + 2;
        const HashWord* chains = buckets + nbucket;
        uint64_t i = buckets[elf_hash(name) % nbucket];
        // A chain visits at most nchain distinct entries; more steps mean a loop.
        for (uint64_t n = 0; i != STN_UNDEF && n < nchain; ++n) {
            if (i >= nchain) return nullptr;
            if (const void* p = check_sym(img, i, name, version, ver_hash, size_out)) return p;
            i = chains[i];
        }
    }
    return nullptr;
}

size_t for_each_symbol(const Image& img, void (*visit)(const Symbol&, void*), void* ctx) {
    if (!img.base || !img.symtab) return 0;
    size_t visited = 0;
    for (uint64_t i = 1; i < img.sym_count; ++i) {
        const Sym* s = sym_at(img, i);
        if (s->st_shndx == SHN_UNDEF || s->st_name == 0) continue;
        Symbol out;
        out.name = str_at(img, s->st_name);
        if (!out.name || out.name[0] == '\0') continue;
        out.version = nullptr;
        if (img.versym) {
            uint64_t name_off = 0;
            const Verdef* def = find_verdef(img, img.versym[i] & 0x7fff);
            if (def && verdef_name(img, def, &name_off)) out.version = str_at(img, name_off);
        }
        // Absolute symbols (the vDSO's version-name symbols) are not relocated.
        out.address = s->st_shndx == SHN_ABS ? s->st_value : img.load_offset + s->st_value;
        out.size = s->st_size;
        out.type = ELF64_ST_TYPE(s->st_info);
        out.bind = ELF64_ST_BIND(s->st_info);
        if (visit) visit(out, ctx);
        ++visited;
    }
    return visited;
}

const ArchNames& arch_names() {
    // Constant-initialised: no static constructor runs.
#if defined(__x86_64__)
    static constexpr ArchNames kNames{"LINUX_2.6", "__vdso_clock_gettime", "__vdso_gettimeofday",
                                      "__vdso_time", "__vdso_getcpu", "__vdso_clock_getres",
                                      "__vdso_getrandom"};
#elif defined(__aarch64__)
    static constexpr ArchNames kNames{"LINUX_2.6.39", "__kernel_clock_gettime",
                                      "__kernel_gettimeofday", nullptr, nullptr,
                                      "__kernel_clock_getres", "__kernel_getrandom"};
#elif defined(__riscv) && __riscv_xlen == 64
    static constexpr ArchNames kNames{"LINUX_4.15", "__vdso_clock_gettime", "__vdso_gettimeofday",
                                      nullptr, "__vdso_getcpu", "__vdso_clock_getres", nullptr};
#elif defined(__powerpc64__)
    static constexpr ArchNames kNames{"LINUX_2.6.15", "__kernel_clock_gettime",
                                      "__kernel_gettimeofday", "__kernel_time",
                                      "__kernel_getcpu", "__kernel_clock_getres", nullptr};
#elif defined(__s390x__)
    static constexpr ArchNames kNames{"LINUX_2.6.29", "__kernel_clock_gettime",
                                      "__kernel_gettimeofday", nullptr, "__kernel_getcpu",
                                      "__kernel_clock_getres", nullptr};
#else
    static constexpr ArchNames kNames{nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
#endif
    return kNames;
}

}  // namespace vdsotrace::vdso
