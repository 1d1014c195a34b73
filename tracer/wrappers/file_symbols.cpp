#include "file_symbols.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "text_util.h"

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
    SymbolTable table;      // syms == nullptr: the module has no symbol table to read
};

constexpr unsigned kModules = 128;
ModuleFile g_modules[kModules];

struct Mapping {
    const unsigned char* base = nullptr;
    uint64_t size = 0;
};

bool map_file(const char* path, Mapping* m) {
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st;
    void* p = MAP_FAILED;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && uint64_t(st.st_size) >= sizeof(Elf64_Ehdr))
        p = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return false;
    m->base = static_cast<const unsigned char*>(p);
    m->size = uint64_t(st.st_size);
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
bool debug_symbol_table(const Mapping& m, const char* path, Mapping* debug, SymbolTable* t) {
    char candidate[512];
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
    char dir[400];
    const size_t dir_len = size_t(slash - path);
    if (dir_len + 1 > sizeof dir) return false;
    memcpy(dir, path, dir_len);
    dir[dir_len] = '\0';
    const char* const forms[][3] = {{"", "/", ""}, {"", "/.debug/", ""}, {"/usr/lib/debug", "/", ""}};
    for (const auto& f : forms) {
        TextBuffer b(candidate, sizeof candidate);
        b.add(f[0])->add(dir)->add(f[1])->add(name);
        if (b.size() + 1 >= sizeof candidate || strcmp(candidate, path) == 0 || !map_file(candidate, debug)) continue;
        if (symbol_table(*debug, t)) return true;
        unmap(debug);
    }
    return false;
}

// Maps the module's file and finds its symbol table, keeping the mapping that holds it.
// Returns false when there is none (the mappings are then released).
bool open_symbols(const link_map* lm, SymbolTable* t, Mapping* kept) {
    char self[400];
    const char* path = lm->l_name;
    if (path == nullptr || path[0] == '\0') {  // the program itself
        const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) return false;
        self[n] = '\0';
        path = self;
    }
    if (path[0] != '/') return false;  // the vDSO ("linux-vdso.so.1"): no file
    Mapping file;
    if (!map_file(path, &file)) return false;
    if (symbol_table(file, t)) {
        *kept = file;
        return true;
    }
    Mapping debug;
    const bool found = debug_symbol_table(file, path, &debug, t);
    unmap(&file);
    if (found) *kept = debug;
    return found;
}

bool lookup(const SymbolTable& t, uint64_t link_pc, char* out, size_t size) {
    for (uint64_t i = 0; i < t.count; ++i) {
        const Elf64_Sym& s = t.syms[i];
        const unsigned type = ELF64_ST_TYPE(s.st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF || s.st_name >= t.strsz) continue;
        if (link_pc < s.st_value || link_pc - s.st_value >= s.st_size) continue;
        const char* name = t.strtab + s.st_name;
        const size_t len = strnlen(name, t.strsz - s.st_name);
        if (len == 0 || len + 1 > size || len == t.strsz - s.st_name) return false;
        memcpy(out, name, len + 1);
        return true;
    }
    return false;
}

// This module's entry, claimed and filled now if it is new; null when the table is full or
// another thread (or an interrupted frame of this one) is filling it.
ModuleFile* module_entry(const dl_find_object& found) {
    for (ModuleFile& e : g_modules) {
        const void* seen = __atomic_load_n(&e.map_start, __ATOMIC_ACQUIRE);
        if (seen == nullptr) {
            if (!__atomic_compare_exchange_n(&e.map_start, &seen, found.dlfo_map_start, false, __ATOMIC_ACQ_REL,
                                             __ATOMIC_ACQUIRE)) {
                if (seen != found.dlfo_map_start) continue;
            } else {
                Mapping kept;
                if (!open_symbols(found.dlfo_link_map, &e.table, &kept)) e.table = SymbolTable{};
                __atomic_store_n(&e.state, uint32_t(kReady), __ATOMIC_RELEASE);
                return &e;
            }
        }
        if (seen == found.dlfo_map_start)
            return __atomic_load_n(&e.state, __ATOMIC_ACQUIRE) == kReady ? &e : nullptr;
    }
    return nullptr;
}

}  // namespace

bool file_function_at(const dl_find_object& found, uintptr_t pc, char* out, size_t size) {
    const link_map* lm = found.dlfo_link_map;
    if (lm == nullptr || size == 0) return false;
    const uint64_t link_pc = pc - lm->l_addr;
    if (const ModuleFile* e = module_entry(found)) return e->table.syms != nullptr && lookup(e->table, link_pc, out, size);
    // Being read by another thread, or no room to keep it: read it for this lookup alone.
    SymbolTable t;
    Mapping kept;
    if (!open_symbols(lm, &t, &kept)) return false;
    const bool named = lookup(t, link_pc, out, size);
    unmap(&kept);
    return named;
}

}  // namespace vdsotrace::tracer::wrappers
