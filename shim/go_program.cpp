// See go_program.h. The executable is read as untrusted input: every offset and size is checked
// against the file's length before use.
#include "shim/go_program.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "tracer/common/elf_bytes.h"
#include "tracer/common/go_pclntab.h"
#include "tracer/common/go_plumbing_finder.h"

namespace vdsotrace::shim {
namespace {

using elf::Ehdr;
using elf::Phdr;
using elf::Shdr;
using elf::Sym;

void inspect(const elf::Bytes& f, GoProgram* out) {
    const auto* eh = f.at<Ehdr>(0);
    if (eh == nullptr || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shentsize != sizeof(Shdr)) return;
    const auto* sh = f.at<Shdr>(eh->e_shoff, eh->e_shnum);
    if (sh == nullptr || eh->e_shstrndx >= eh->e_shnum) return;
    const Shdr* symtab = nullptr;
    const Shdr* pclntab = nullptr;
    const Shdr* data_rel_ro = nullptr;
    const Shdr& names = sh[eh->e_shstrndx];
    for (unsigned i = 0; i < eh->e_shnum; ++i) {
        const char* name = f.string(names.sh_offset, names.sh_size, sh[i].sh_name);
        if (name != nullptr && strcmp(name, ".gopclntab") == 0) pclntab = &sh[i];
        if (name != nullptr && strcmp(name, ".data.rel.ro") == 0) data_rel_ro = &sh[i];
        if (sh[i].sh_type == SHT_SYMTAB && sh[i].sh_entsize == sizeof(Sym) && sh[i].sh_link < eh->e_shnum)
            symtab = &sh[i];
    }
    const uintptr_t bias = elf::executable_program_headers().bias;
    tracer::go::PlumbingFinder finder(bias);
    const Sym* syms = symtab ? f.at<Sym>(symtab->sh_offset, symtab->sh_size / sizeof(Sym)) : nullptr;
    const unsigned char* tab = pclntab ? f.at<unsigned char>(pclntab->sh_offset, pclntab->sh_size) : nullptr;
    // Where the table lies in memory and how long it may be (the rest of its section).
    uint64_t tab_addr = pclntab ? pclntab->sh_addr : 0;
    uint64_t tab_size = pclntab ? pclntab->sh_size : 0;
    bool tab_loaded = pclntab && (pclntab->sh_flags & SHF_ALLOC);
    if (tab == nullptr && syms == nullptr && data_rel_ro != nullptr && data_rel_ro->sh_type == SHT_PROGBITS) {
        // Stripped, position-independent and linked externally: the table sits in .data.rel.ro.
        if (const unsigned char* d = f.at<unsigned char>(data_rel_ro->sh_offset, data_rel_ro->sh_size)) {
            const long at = tracer::go::find_pclntab(d, data_rel_ro->sh_size);
            if (at >= 0) {
                tab = d + at;
                tab_addr = data_rel_ro->sh_addr + uint64_t(at);
                tab_size = data_rel_ro->sh_size - uint64_t(at);
                tab_loaded = true;
            }
        }
    }
    if (syms != nullptr) {
        out->has_symbols = true;
        const Shdr& strings = sh[symtab->sh_link];
        for (size_t i = 0; i < symtab->sh_size / sizeof(Sym); ++i) {
            if (ELF64_ST_TYPE(syms[i].st_info) != STT_FUNC || syms[i].st_size == 0) continue;
            if (const char* name = f.string(strings.sh_offset, strings.sh_size, syms[i].st_name))
                finder.note(name, syms[i].st_value, syms[i].st_value + syms[i].st_size);
        }
    } else if (tab != nullptr) {
        // Stripped (-ldflags=-s): Go's own function table names every function too. In a
        // position-independent binary its textStart is 0 in the file and filled in by a
        // relocation: the loaded copy has it (relocations are done before any constructor).
        uint64_t text_start = 0;
        if (tab_loaded)
            memcpy(&text_start, reinterpret_cast<const void*>(tab_addr + bias + tracer::go::kPclntabTextStartOffset),
                   sizeof text_start);
        out->has_symbols = tracer::go::for_each_go_function(
            tab, tab_size,
            [&](const char* name, uint64_t b, uint64_t e) {
                finder.note(name, b, e);
                return true;
            },
            text_start != 0 ? text_start - bias : 0);
    }
    out->plumbing = finder.result();
}

// Go's linker writes a "Go" note (NT_GO_BUILDID = 4) into a PT_NOTE segment of every
// executable. Read in memory through AT_PHDR: no system call, so every non-Go program pays
// nothing for the question.
bool has_go_note() {
    const elf::ProgramHeaders exe = elf::executable_program_headers();
    const Phdr* ph = exe.phdr;
    const uintptr_t bias = exe.bias;
    for (size_t i = 0; i < exe.count; ++i) {
        if (ph[i].p_type != PT_NOTE) continue;
        const auto* p = reinterpret_cast<const unsigned char*>(bias + ph[i].p_vaddr);
        const unsigned char* end = p + ph[i].p_memsz;
        while (end - p >= static_cast<ptrdiff_t>(sizeof(ElfW(Nhdr)))) {
            const auto* n = reinterpret_cast<const ElfW(Nhdr)*>(p);
            const size_t name_size = (n->n_namesz + 3) & ~size_t(3);
            const size_t desc_size = (n->n_descsz + 3) & ~size_t(3);
            if (name_size > size_t(end - p) - sizeof *n || desc_size > size_t(end - p) - sizeof *n - name_size) break;
            // The owner is "Go" padded with NULs (Go writes a namesz of 4).
            if (n->n_type == 4 && (n->n_namesz == 3 || n->n_namesz == 4) && memcmp(p + sizeof *n, "Go", 3) == 0)
                return true;
            p += sizeof *n + name_size + desc_size;
        }
    }
    return false;
}

}  // namespace

GoProgram inspect_executable() {
    GoProgram out;
    out.is_go = has_go_note();
    if (!out.is_go) return out;
    const int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;  // an execute-only binary, or no /proc: treated as not Go
    struct stat st{};
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        void* p = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            inspect(elf::Bytes{static_cast<const unsigned char*>(p), size_t(st.st_size)}, &out);
            munmap(p, size_t(st.st_size));
        }
    }
    close(fd);
    return out;
}

}  // namespace vdsotrace::shim
