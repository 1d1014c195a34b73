// Reading ELF structures out of bytes nobody vouches for (the live vDSO, the mapped executable):
// every table is checked to lie inside the bytes, without overflow, before a typed pointer to it
// is made. No libc and no allocation: the shim uses this on its first call, possibly inside a
// signal handler. Used by vdso_image.cpp, shim/go_program.cpp and the vDSO parser's tests; the
// executable's own program headers for shim/ and executable_path.cpp.
#pragma once

#include <link.h>  // ElfW(): this machine's ELF class
#include <sys/auxv.h>

#include <cstddef>
#include <cstdint>

namespace vdsotrace::elf {

using Ehdr = ElfW(Ehdr);
using Phdr = ElfW(Phdr);
using Shdr = ElfW(Shdr);
using Dyn = ElfW(Dyn);
using Sym = ElfW(Sym);
using Addr = ElfW(Addr);

// DT_HASH words are 64-bit on s390x (its ABI says so), 32-bit everywhere else.
#if defined(__s390x__)
using HashWord = uint64_t;
#else
using HashWord = uint32_t;
#endif

// True when [off, off + count * elem) lies inside `size` bytes, without overflow.
inline bool fits(uint64_t size, uint64_t off, uint64_t count, uint64_t elem) {
    if (off > size) return false;
    const uint64_t room = size - off;
    return elem == 0 || count <= room / elem;
}

// True when base + off is naturally aligned for a type of alignment `align`.
inline bool aligned(const unsigned char* base, uint64_t off, size_t align) {
    return (reinterpret_cast<uintptr_t>(base) + off) % align == 0;
}

// The bytes [data, data + size), read only through bounds checks.
struct Bytes {
    const unsigned char* data = nullptr;
    size_t size = 0;

    // `count` T's at `off`, or null when they do not all lie inside.
    template <typename T>
    const T* at(uint64_t off, uint64_t count = 1) const {
        return fits(size, off, count, sizeof(T)) ? reinterpret_cast<const T*>(data + off) : nullptr;
    }

    // The string at `index` of the string table [table_off, table_off + table_size), or null when
    // the table does not lie inside or the string does not end inside its table.
    const char* string(uint64_t table_off, uint64_t table_size, uint64_t index) const {
        if (!fits(size, table_off, table_size, 1) || index >= table_size) return nullptr;
        const char* s = reinterpret_cast<const char*>(data + table_off + index);
        for (uint64_t i = 0; i < table_size - index; ++i)
            if (s[i] == '\0') return s;
        return nullptr;
    }
};

// The running executable's program headers as the kernel's auxiliary vector gives them (AT_PHDR,
// AT_PHNUM): no system call, usable before any constructor runs.
struct ProgramHeaders {
    const Phdr* phdr = nullptr;
    size_t count = 0;
    uintptr_t bias = 0;     // runtime minus link-time addresses (0 unless position-independent)
    bool has_phdr = false;  // PT_PHDR told the bias (every dynamically linked executable has one)
};

inline ProgramHeaders executable_program_headers() {
    ProgramHeaders out;
    out.phdr = reinterpret_cast<const Phdr*>(getauxval(AT_PHDR));
    out.count = out.phdr != nullptr ? size_t(getauxval(AT_PHNUM)) : 0;
    for (size_t i = 0; i < out.count; ++i)
        if (out.phdr[i].p_type == PT_PHDR) {
            out.bias = reinterpret_cast<uintptr_t>(out.phdr) - out.phdr[i].p_vaddr;
            out.has_phdr = true;
        }
    return out;
}

}  // namespace vdsotrace::elf
