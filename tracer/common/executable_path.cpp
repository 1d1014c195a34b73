#include "tracer/common/executable_path.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "tracer/common/elf_bytes.h"

namespace vdsotrace::tracer {

namespace {

// Where the main program's ELF header and program headers lie in memory (the first PT_LOAD maps
// file offset 0, which holds the header).
bool mapped_headers(const ElfW(Ehdr)** ehdr, const ElfW(Phdr)** phdr, size_t* phnum) {
    const elf::ProgramHeaders exe = elf::executable_program_headers();
    if (!exe.has_phdr) return false;  // (static non-PIE programs have none; they are not preloaded)
    for (size_t i = 0; i < exe.count; ++i)
        if (exe.phdr[i].p_type == PT_LOAD && exe.phdr[i].p_offset == 0) {
            *ehdr = reinterpret_cast<const ElfW(Ehdr)*>(exe.bias + exe.phdr[i].p_vaddr);
            *phdr = exe.phdr;
            *phnum = exe.count;
            return true;
        }
    return false;
}

// A regular file's bytes at `at`: one pread returns them all or the file is shorter.
bool read_at(int fd, void* to, size_t n, off_t at) { return pread(fd, to, n, at) == ssize_t(n); }

// Static: one process's first call at a time makes the segment (the recorder's state machine),
// and its stack may be small. 32 program headers cover every program seen (date has 13).
struct stat g_st;
ElfW(Ehdr) g_file_ehdr;
ElfW(Phdr) g_file_phdrs[32];

}  // namespace

bool executable_path_from_exec(char* out, size_t size) {
    const char* fn = reinterpret_cast<const char*>(getauxval(AT_EXECFN));
    if (fn == nullptr || fn[0] != '/') return false;
    const size_t len = strnlen(fn, size);
    if (len == 0 || len >= size) return false;
    memcpy(out, fn, len + 1);
    // Canonical already: no "." or ".." part, no doubled slash, and no symbolic link anywhere
    // (/bin -> usr/bin, python3 -> python3.11 are readlink's to resolve).
    for (size_t i = 0; i + 1 < len; ++i)
        if (out[i] == '/' && (out[i + 1] == '/' || out[i + 1] == '.')) return false;
    if (out[len - 1] == '/') return false;
    for (size_t i = 1; i <= len; ++i) {
        if (i < len && out[i] != '/') continue;
        const char saved = out[i];
        out[i] = '\0';
        const int rc = lstat(out, &g_st);
        out[i] = saved;
        if (rc != 0 || S_ISLNK(g_st.st_mode)) return false;
    }
    if (!S_ISREG(g_st.st_mode)) return false;

    const ElfW(Ehdr)* ehdr = nullptr;
    const ElfW(Phdr)* phdr = nullptr;
    size_t phnum = 0;
    if (!mapped_headers(&ehdr, &phdr, &phnum) || phnum > sizeof g_file_phdrs / sizeof g_file_phdrs[0]) return false;
    const int fd = open(out, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return false;
    const bool same = read_at(fd, &g_file_ehdr, sizeof g_file_ehdr, 0) &&
                      memcmp(&g_file_ehdr, ehdr, sizeof g_file_ehdr) == 0 &&
                      g_file_ehdr.e_phentsize == sizeof(ElfW(Phdr)) && g_file_ehdr.e_phnum == phnum &&
                      read_at(fd, g_file_phdrs, phnum * sizeof(ElfW(Phdr)), off_t(g_file_ehdr.e_phoff)) &&
                      memcmp(g_file_phdrs, phdr, phnum * sizeof(ElfW(Phdr))) == 0;
    close(fd);
    return same;
}

}  // namespace vdsotrace::tracer
