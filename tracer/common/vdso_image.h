// Finds functions in a vDSO image (or any small ELF shared object mapped in memory).
//
// Used by the shim on its first call, possibly from a signal handler or before any constructor
// has run, so this code allocates nothing, takes no lock, calls no libc function and never reads
// outside [image, image + size). It is also used by the tools (`vdsotrace vdso`) and by unit tests
// on synthetic images. The reference is the kernel's tools/testing/selftests/vDSO/parse_vdso.c;
// unlike that file, every offset, size and index is checked against the image's bounds, so a
// truncated or corrupt image is rejected instead of read out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vdsotrace::vdso {

enum class ParseError : uint8_t {
    kNone = 0,
    kTooSmall,        // shorter than an ELF header
    kBadMagic,        // not ELF, or not this machine's class (ELFCLASS64 / ELFCLASS32) or byte order
    kBadHeader,       // program header table out of bounds or of the wrong entry size
    kNoLoad,          // no PT_LOAD segment
    kNoDynamic,       // no PT_DYNAMIC segment, or it lies outside the image
    kBadDynamic,      // DT_STRTAB / DT_SYMTAB missing, or pointing outside the image
    kNoHash,          // neither DT_GNU_HASH nor DT_HASH, or the table lies outside the image
};

const char* to_string(ParseError e);

// A parsed image. All pointers point into the image; nothing is copied. Plain data, so it can
// live in a static object that is zero-initialised before any code runs.
struct Image {
    const unsigned char* base = nullptr;  // start of the mapping (ELF header)
    size_t size = 0;                      // bytes readable from base
    uintptr_t load_offset = 0;            // base + p_offset - p_vaddr of the first PT_LOAD
    const char* strtab = nullptr;
    size_t strtab_size = 0;               // DT_STRSZ, clamped to the image
    const void* symtab = nullptr;         // ElfW(Sym)[]
    size_t sym_count = 0;                 // from the hash table, clamped to the image
    const uint32_t* gnu_hash = nullptr;   // DT_GNU_HASH table, or null
    const void* sysv_hash = nullptr;      // DT_HASH table (32-bit words; 64-bit on s390x), or null
    const uint16_t* versym = nullptr;     // DT_VERSYM, or null (unversioned image)
    const void* verdef = nullptr;         // DT_VERDEF, or null
    size_t verdef_count = 0;              // DT_VERDEFNUM
};

// Parses the image at [base, base + size). Returns kNone and fills *out on success.
ParseError parse(const void* base, size_t size, Image* out);

// Parses the vDSO of this process: getauxval(AT_SYSINFO_EHDR), size taken from its program
// headers (the live vDSO has no size of its own). Returns kNoLoad-style errors, or kTooSmall
// when there is no vDSO (valgrind, some sandboxes).
ParseError parse_live(Image* out);

// Looks `name` up, with `version` (e.g. "LINUX_2.6") when the image is versioned; a null version
// accepts any. Uses DT_GNU_HASH when present, else DT_HASH. Accepts only defined STT_FUNC symbols
// with GLOBAL or WEAK binding. Returns the runtime address (load_offset + st_value), or null.
// `size_out`, when not null, receives st_size.
const void* lookup(const Image& img, const char* name, const char* version, size_t* size_out = nullptr);

// One exported symbol, for listing (`vdsotrace vdso`).
struct Symbol {
    const char* name;       // points into the image's string table
    const char* version;    // null when unversioned or hidden base version
    uintptr_t address;      // runtime address
    size_t size;
    uint8_t type;           // STT_*
    uint8_t bind;           // STB_*
};

// Calls visit(sym, ctx) for every defined symbol with a name, in symbol table order.
// Returns the number visited.
size_t for_each_symbol(const Image& img, void (*visit)(const Symbol&, void*), void* ctx);

// The names this architecture's vDSO uses (see ../shared/notes/vdso-facts.md).
struct ArchNames {
    const char* version;         // "LINUX_2.6" on x86_64, "LINUX_2.6.39" on aarch64
    const char* clock_gettime;   // null where the architecture's vDSO has none
    const char* gettimeofday;
    const char* time;
    const char* getcpu;
    const char* clock_getres;
    const char* getrandom;
};
const ArchNames& arch_names();

}  // namespace vdsotrace::vdso
