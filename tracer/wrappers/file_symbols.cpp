#include "tracer/wrappers/file_symbols.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "tracer/common/text_util.h"
#include "tracer/engine/recorder.h"
#include "tracer/engine/thread_identity.h"

namespace vdsotrace::tracer::wrappers {

namespace {

// A module's symbol table as found in its file (or debug file), mapped for the process's life.
struct SymbolTable {
    const Elf64_Sym* syms = nullptr;
    uint64_t count = 0;
    const char* strtab = nullptr;
    uint64_t strsz = 0;
};

enum : uint32_t { kFree = 0, kWriting = 1, kReady = 2 };

struct ModuleFile {
    const void* map_start;  // the module (dlfo_map_start); null: free entry
    uint32_t state;
    int32_t filler;         // the thread reading the file (kWriting)
    SymbolTable table;      // syms == nullptr: the module has no symbol table to read
    char path[2][256];      // scratch for the filler's paths (not on its stack: see the header)
};

constexpr unsigned kModules = 256;
// Constant-initialised (zeros in .bss): a dynamic initialiser wrote its 144 KiB at every process
// start, 36 page faults a process (issue 14's start-up cost).
constinit ModuleFile g_modules[kModules] = {};

struct Mapping {
    const unsigned char* base = nullptr;
    uint64_t size = 0;
};

// O_NONBLOCK: a FIFO at that path must not block the program; lseek (not fstat, whose struct
// is 144 bytes of stack) gives the size, and fails on anything but a file.
bool map_file(const char* path, Mapping* m) {
    const int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return false;
    const off_t size = lseek(fd, 0, SEEK_END);
    void* p = MAP_FAILED;
    if (size >= off_t(sizeof(Elf64_Ehdr))) p = mmap(nullptr, size_t(size), PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return false;
    m->base = static_cast<const unsigned char*>(p);
    m->size = uint64_t(size);
    return true;
}

void unmap(Mapping* m) {
    if (m->base != nullptr) munmap(const_cast<unsigned char*>(m->base), m->size);
    *m = Mapping{};
}

bool inside(const Mapping& m, uint64_t offset, uint64_t size) { return offset <= m.size && size <= m.size - offset; }

// The section headers of a 64-bit ELF file of this machine's byte order, checked to lie in it.
const Elf64_Shdr* section_headers(const Mapping& m, unsigned* count) {
    const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(m.base);
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shnum == 0 ||
        !inside(m, eh->e_shoff, uint64_t(eh->e_shnum) * sizeof(Elf64_Shdr)) || eh->e_shoff % 8 != 0)
        return nullptr;
    *count = eh->e_shnum;
    return reinterpret_cast<const Elf64_Shdr*>(m.base + eh->e_shoff);
}

bool symbol_table(const Mapping& m, SymbolTable* t) {
    unsigned n = 0;
    const Elf64_Shdr* sh = section_headers(m, &n);
    if (sh == nullptr) return false;
    for (unsigned i = 0; i < n; ++i) {
        if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_entsize != sizeof(Elf64_Sym) || sh[i].sh_link >= n) continue;
        const Elf64_Shdr& str = sh[sh[i].sh_link];
        if (str.sh_type != SHT_STRTAB || !inside(m, sh[i].sh_offset, sh[i].sh_size) || sh[i].sh_offset % 8 != 0 ||
            !inside(m, str.sh_offset, str.sh_size))
            return false;
        t->syms = reinterpret_cast<const Elf64_Sym*>(m.base + sh[i].sh_offset);
        t->count = sh[i].sh_size / sizeof(Elf64_Sym);
        t->strtab = reinterpret_cast<const char*>(m.base + str.sh_offset);
        t->strsz = str.sh_size;
        return true;
    }
    return false;
}

// The contents of the section named `name`, or null.
const unsigned char* section_named(const Mapping& m, const char* name, uint64_t* size) {
    unsigned n = 0;
    const Elf64_Shdr* sh = section_headers(m, &n);
    const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(m.base);
    if (sh == nullptr || eh->e_shstrndx >= n) return nullptr;
    const Elf64_Shdr& names = sh[eh->e_shstrndx];
    if (!inside(m, names.sh_offset, names.sh_size)) return nullptr;
    const size_t want = strlen(name) + 1;
    for (unsigned i = 0; i < n; ++i) {
        if (sh[i].sh_type == SHT_NOBITS || sh[i].sh_name >= names.sh_size || names.sh_size - sh[i].sh_name < want ||
            memcmp(m.base + names.sh_offset + sh[i].sh_name, name, want) != 0 ||
            !inside(m, sh[i].sh_offset, sh[i].sh_size))
            continue;
        *size = sh[i].sh_size;
        return m.base + sh[i].sh_offset;
    }
    return nullptr;
}

// /usr/lib/debug/.build-id/ab/cdef....debug from the file's GNU build-id note.
bool build_id_debug_path(const Mapping& m, char* out, size_t size) {
    uint64_t len = 0;
    const unsigned char* note = section_named(m, ".note.gnu.build-id", &len);
    if (note == nullptr || len < 12) return false;
    uint32_t namesz, descsz, type;
    memcpy(&namesz, note, 4);
    memcpy(&descsz, note + 4, 4);
    memcpy(&type, note + 8, 4);
    const uint64_t desc_at = 12 + ((uint64_t(namesz) + 3) & ~uint64_t(3));
    if (type != NT_GNU_BUILD_ID || namesz != 4 || memcmp(note + 12, "GNU", 4) != 0 || descsz < 2 || descsz > 64 ||
        desc_at + descsz > len)
        return false;
    TextBuffer b(out, size);
    b.add("/usr/lib/debug/.build-id/")->add_hex(note[desc_at], 2)->add("/");
    for (uint32_t i = 1; i < descsz; ++i) b.add_hex(note[desc_at + i], 2);
    b.add(".debug");
    return b.size() + 1 < size;
}

// The separate debug file's symbol table, mapped into `*debug` (build id first, then the
// .gnu_debuglink name next to the file, in .debug/ beside it, and under /usr/lib/debug).
bool debug_symbol_table(const Mapping& m, const char* path, Mapping* debug, SymbolTable* t, char (&candidate)[256]) {
    if (build_id_debug_path(m, candidate, sizeof candidate) && map_file(candidate, debug)) {
        if (symbol_table(*debug, t)) return true;
        unmap(debug);
    }
    uint64_t len = 0;
    const unsigned char* link = section_named(m, ".gnu_debuglink", &len);
    if (link == nullptr || len < 2 || memchr(link, '\0', len) == nullptr) return false;
    const char* name = reinterpret_cast<const char*>(link);
    const char* slash = strrchr(path, '/');
    if (slash == nullptr || strchr(name, '/') != nullptr) return false;
    const size_t dir_len = size_t(slash - path);
    const char* const forms[][2] = {{"", "/"}, {"", "/.debug/"}, {"/usr/lib/debug", "/"}};
    for (const auto& f : forms) {
        TextBuffer b(candidate, sizeof candidate);
        b.add(f[0]);
        for (size_t i = 0; i < dir_len; ++i) {
            const char c[2] = {path[i], '\0'};
            b.add(c);
        }
        b.add(f[1])->add(name);
        if (b.size() + 1 >= sizeof candidate || strcmp(candidate, path) == 0 || !map_file(candidate, debug)) continue;
        if (symbol_table(*debug, t)) return true;
        unmap(debug);
    }
    return false;
}

// Maps the module's file and finds its symbol table, keeping the mapping that holds it.
// Returns false when there is none (the mappings are then released).
bool open_symbols(const link_map* lm, SymbolTable* t, Mapping* kept, char (&scratch)[2][256]) {
    const char* path = lm->l_name;
    if (path == nullptr || path[0] == '\0') {  // the program itself
        // The recording's header names it already (read at its creation): one readlink of
        // /proc/self/exe a process, not two (issue 14's start-up cost).
        const format::Header* h = segment_header();
        if (h != nullptr && h->exe[0] == '/') {
            TextBuffer(scratch[0], sizeof scratch[0]).add(h->exe);
        } else {
            const ssize_t n = readlink("/proc/self/exe", scratch[0], sizeof scratch[0] - 1);
            if (n <= 0) return false;
            scratch[0][n] = '\0';
        }
        path = scratch[0];
    }
    if (path[0] != '/') return false;  // the vDSO ("linux-vdso.so.1"): no file
    Mapping file;
    if (!map_file(path, &file)) return false;
    if (symbol_table(file, t)) {
        *kept = file;
        return true;
    }
    Mapping debug;
    const bool found = debug_symbol_table(file, path, &debug, t, scratch[1]);
    unmap(&file);
    if (found) *kept = debug;
    return found;
}

const char* lookup(const SymbolTable& t, uint64_t link_pc) {
    for (uint64_t i = 0; i < t.count; ++i) {
        const Elf64_Sym& s = t.syms[i];
        const unsigned type = ELF64_ST_TYPE(s.st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF || s.st_name >= t.strsz) continue;
        if (link_pc < s.st_value || link_pc - s.st_value >= s.st_size) continue;
        const char* name = t.strtab + s.st_name;
        const size_t len = strnlen(name, t.strsz - s.st_name);
        return len == 0 || len == t.strsz - s.st_name ? nullptr : name;  // unterminated: not trusted
    }
    return nullptr;
}

// No system call (thread_identity.h): a sandboxed program may be killed for gettid.
int32_t this_thread() { return current_tid(); }

// Set once the program installs a sandbox (read_files_before_sandbox): files of modules not read by
// then are not opened (no symbols from them), since any system call may now kill the process.
bool g_no_more_files;

// This module's entry, read now if it is new; null when the table is full (then the module counts
// as having no symbols). *not_now: its file is being read by a frame this one interrupted.
ModuleFile* module_entry(const dl_find_object& found, bool* not_now) {
    *not_now = false;
    for (ModuleFile& e : g_modules) {
        const void* seen = __atomic_load_n(&e.map_start, __ATOMIC_ACQUIRE);
        if (seen == nullptr) {
            if (__atomic_compare_exchange_n(&e.map_start, &seen, found.dlfo_map_start, false, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                __atomic_store_n(&e.filler, this_thread(), __ATOMIC_RELEASE);
                Mapping kept;
                if (__atomic_load_n(&g_no_more_files, __ATOMIC_ACQUIRE) ||
                    !open_symbols(found.dlfo_link_map, &e.table, &kept, e.path))
                    e.table = SymbolTable{};
                __atomic_store_n(&e.state, uint32_t(kReady), __ATOMIC_RELEASE);
                return &e;
            }
        }
        if (seen != found.dlfo_map_start) continue;
        // Another thread is reading it (an open and a few page faults): wait, boundedly. This
        // thread, interrupted while reading it: not now.
        // (No system call when it is ready: a program may have forbidden them since, seccomp.)
        if (__atomic_load_n(&e.state, __ATOMIC_ACQUIRE) == kReady) return &e;
        const int32_t me = this_thread();
        for (uint32_t spin = 0; __atomic_load_n(&e.state, __ATOMIC_ACQUIRE) != kReady; ++spin) {
            if (__atomic_load_n(&e.filler, __ATOMIC_ACQUIRE) == me || spin > (1u << 22)) {
                *not_now = true;
                return nullptr;
            }
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
        return &e;
    }
    return nullptr;
}

}  // namespace

FileName file_function_at(const dl_find_object& found, uintptr_t pc, const char** name) {
    const link_map* lm = found.dlfo_link_map;
    if (lm == nullptr) return FileName::kNone;
    bool not_now = false;
    const ModuleFile* e = module_entry(found, &not_now);
    if (not_now) return FileName::kNotNow;
    if (e == nullptr || e->table.syms == nullptr) return FileName::kNone;
    *name = lookup(e->table, pc - lm->l_addr);
    return *name != nullptr ? FileName::kFound : FileName::kNone;
}

void read_files_before_sandbox() {
    if (__atomic_load_n(&g_no_more_files, __ATOMIC_ACQUIRE)) return;
    dl_iterate_phdr(
        [](dl_phdr_info* info, size_t, void*) {
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                if (info->dlpi_phdr[i].p_type != PT_LOAD) continue;
                dl_find_object found;
                const void* at = reinterpret_cast<const void*>(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
                bool not_now = false;
                if (_dl_find_object(const_cast<void*>(at), &found) == 0) module_entry(found, &not_now);
                break;
            }
            return 0;
        },
        nullptr);
    __atomic_store_n(&g_no_more_files, true, __ATOMIC_RELEASE);
}

void forget_file_symbols_in(uintptr_t start, uintptr_t end) {
    for (ModuleFile& e : g_modules) {
        const auto at = uintptr_t(__atomic_load_n(&e.map_start, __ATOMIC_ACQUIRE));
        // Bit 0 set: a tombstone no module start (page-aligned) equals; the entry stays taken.
        if (at != 0 && !(at & 1) && at >= start && at < end)
            __atomic_store_n(&e.map_start, reinterpret_cast<const void*>(at | 1), __ATOMIC_RELEASE);
    }
}

}  // namespace vdsotrace::tracer::wrappers
