#include "tracer/wrappers/file_symbols.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "tracer/common/bulk_table.h"
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

// What a module's file tells about its symbols, read with pread into the entry's scratch: most
// programs are stripped, and mapping a whole file to find that out (with the page faults and the
// munmap's TLB flush) was a fifth of what the shim costs a short process (issue 14's shell loop).
// A file is mapped only once it is known to hold a .symtab.
struct FileLayout {
    uint64_t size = 0;                        // the file's size
    uint64_t symtab_off = 0, symtab_size = 0;  // SHT_SYMTAB; size 0: none
    uint64_t strtab_off = 0, strtab_size = 0;  // its string table
    uint64_t note_off[4] = {}, note_size[4] = {};  // SHT_NOTE sections (one holds the build id)
    unsigned notes = 0;
    uint64_t link_off = 0, link_size = 0;      // .gnu_debuglink
};

// The filler's scratch: section headers read at a time (the head), a .gnu_debuglink name (kept
// while the candidate debug files are read), and a section's name being compared with it (a
// candidate's own headers are scanned: it must not overwrite the link name being followed).
constexpr unsigned kHeadersAtOnce = 8;
constexpr size_t kHeadersBytes = kHeadersAtOnce * sizeof(Elf64_Shdr);
constexpr size_t kLinkNameBytes = 256;
constexpr char kDebugLink[] = ".gnu_debuglink";
constexpr size_t kNameProbeAt = kHeadersBytes + kLinkNameBytes;
constexpr size_t kScratchBytes = kNameProbeAt + sizeof kDebugLink;
static_assert(sizeof(Elf64_Ehdr) <= kHeadersBytes && 12 + 4 + 64 <= kHeadersBytes);

enum : uint32_t { kFree = 0, kWriting = 1, kReady = 2 };

// ThreadSanitizer's annotations, when the program runs under it (its runtime exports them; weak:
// null otherwise). The shim is not instrumented, so TSan cannot see that the ready flag orders the
// filler's mmap before another thread's reads of the mapped symbols through libc functions it
// intercepts (strnlen, strncmp), and reported a race in the traced program (Hostile's
// ThreadSanitizerProgram exited 66 instead of 7). Told here, on the slow path only.
extern "C" void __tsan_acquire(void* addr) __attribute__((weak));
extern "C" void __tsan_release(void* addr) __attribute__((weak));

void published(uint32_t* state) {
    if (__tsan_release != nullptr) __tsan_release(state);
    __atomic_store_n(state, uint32_t(kReady), __ATOMIC_RELEASE);
}

bool is_ready(uint32_t* state) {
    if (__atomic_load_n(state, __ATOMIC_ACQUIRE) != kReady) return false;
    if (__tsan_acquire != nullptr) __tsan_acquire(state);
    return true;
}

// A file's first and last bytes, read with one pread each when a file is opened: its ELF header
// and notes lie at its start, its .gnu_debuglink, section names and section headers at its end
// (as linkers write them), so the dozen small reads of a stripped program's layout (issue 14's
// shell loop: 11 preads for /usr/bin/date) are served from here. A read outside them is a pread.
constexpr size_t kHeadBytes = 1024;
constexpr size_t kTailBytes = 3072;

// All zeros when constructed: a non-zero initialiser here would move the 256 module entries from
// .bss to .data (380 KiB more of file for the loader to map).
struct FileWindows {
    int fd = 0;  // set (load_windows, symbols_of_fd) before anything is read
    const unsigned char* head = nullptr;  // [0, head_len) of the file; null: no windows
    size_t head_len = 0;
    const unsigned char* tail = nullptr;  // [tail_at, tail_at + tail_len)
    uint64_t tail_at = 0;
    size_t tail_len = 0;
};

struct ModuleFile {
    const void* map_start;  // the module (dlfo_map_start); null: free entry
    uint32_t state;
    int32_t filler;         // the thread reading the file (kWriting)
    SymbolTable table;      // syms == nullptr: the module has no symbol table to read
    char path[2][256];      // scratch for the filler's paths (not on its stack: see the header)
    unsigned char headers[kScratchBytes];  // scratch for the filler's reads of headers and notes
    FileLayout layout;      // scratch: what the filler read of a file (not on its stack either)
    FileWindows file;       // scratch: the file being read and its windows
};

constexpr unsigned kModules = 256;
// Constant-initialised (zeros in .bss): a dynamic initialiser wrote its 144 KiB at every process
// start, 36 page faults a process (issue 14's start-up cost).
VDSOTRACE_BULK_TABLE constinit ModuleFile g_modules[kModules] = {};

// The windows' bytes: one buffer for the process, taken by one filler at a time (a compare and
// swap; 4 KiB in every module's entry would be a megabyte of .bss). A filler that finds it taken
// (another thread's, or the frame a signal handler interrupted) reads with pread alone.
alignas(64) constinit unsigned char g_window_bytes[kHeadBytes + kTailBytes] = {};
uint32_t g_window_taken;

unsigned char* take_window() {
    uint32_t free = 0;
    if (!__atomic_compare_exchange_n(&g_window_taken, &free, 1u, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return nullptr;
    // ThreadSanitizer sees the preads into the buffer (it intercepts them), not this lock.
    if (__tsan_acquire != nullptr) __tsan_acquire(&g_window_taken);
    return g_window_bytes;
}

void give_window_back() {
    if (__tsan_release != nullptr) __tsan_release(&g_window_taken);
    __atomic_store_n(&g_window_taken, 0u, __ATOMIC_RELEASE);
}

// The window buffer, held for one filler's reading of a module's files.
class WindowHold {
public:
    WindowHold() : bytes_(take_window()) {}
    ~WindowHold() {
        if (bytes_ != nullptr) give_window_back();
    }
    WindowHold(const WindowHold&) = delete;
    WindowHold& operator=(const WindowHold&) = delete;
    unsigned char* bytes() const { return bytes_; }

private:
    unsigned char* bytes_;
};

bool pread_all(int fd, void* into, size_t bytes, uint64_t offset) {
    return pread(fd, into, bytes, off_t(offset)) == ssize_t(bytes);
}

// Loads the windows of the open file `fd` of `size` bytes into `bytes` (null: none, every read a
// pread). The tail ends where the section headers end, when the ELF header says so.
void load_windows(int fd, uint64_t size, unsigned char* bytes, FileWindows* w) {
    *w = FileWindows{};
    w->fd = fd;
    if (bytes == nullptr) return;
    const size_t head = size_t(std::min<uint64_t>(size, kHeadBytes));
    if (!pread_all(fd, bytes, head, 0)) return;
    w->head = bytes;
    w->head_len = head;
    uint64_t end = size;
    const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(bytes);
    if (head >= sizeof(Elf64_Ehdr) && memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 &&
        eh->e_ident[EI_CLASS] == ELFCLASS64 && eh->e_shoff <= size &&
        uint64_t(eh->e_shnum) * eh->e_shentsize <= size - eh->e_shoff && eh->e_shnum != 0)
        end = eh->e_shoff + uint64_t(eh->e_shnum) * eh->e_shentsize;
    if (end <= head) return;  // all of it is in the head
    const uint64_t at = std::max<uint64_t>(head, end > kTailBytes ? end - kTailBytes : 0);
    if (!pread_all(fd, bytes + kHeadBytes, size_t(end - at), at)) return;
    w->tail = bytes + kHeadBytes;
    w->tail_at = at;
    w->tail_len = size_t(end - at);
}

// `bytes` at `offset` of the file `w` describes: from its windows when they hold them.
bool read_at(const FileWindows& w, void* into, size_t bytes, uint64_t offset) {
    if (w.head != nullptr && offset <= w.head_len && bytes <= w.head_len - offset) {
        memcpy(into, w.head + offset, bytes);
        return true;
    }
    if (w.tail != nullptr && offset >= w.tail_at && offset - w.tail_at <= w.tail_len &&
        bytes <= w.tail_len - (offset - w.tail_at)) {
        memcpy(into, w.tail + (offset - w.tail_at), bytes);
        return true;
    }
    return pread_all(w.fd, into, bytes, offset);
}

bool inside(const FileLayout& f, uint64_t offset, uint64_t size) { return offset <= f.size && size <= f.size - offset; }

// Reads the ELF and section headers of the open file `fd` of `size` bytes (a 64-bit ELF of this
// machine's byte order) into `out`. `scratch` (kScratchBytes) is the entry's, not the stack.
__attribute__((noinline)) bool read_layout(const FileWindows& fd, uint64_t size, unsigned char* scratch, FileLayout* out) {
    out->size = size;
    // The headers pass through the scratch, never the stack: only the fields used are kept.
    auto* sh = reinterpret_cast<Elf64_Shdr*>(scratch);
    const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(scratch);
    if (size < sizeof(Elf64_Ehdr) || !read_at(fd, scratch, sizeof(Elf64_Ehdr), 0) ||
        memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shnum == 0 ||
        !inside(*out, eh->e_shoff, uint64_t(eh->e_shnum) * sizeof(Elf64_Shdr)) || eh->e_shoff % 8 != 0)
        return false;
    const uint64_t shoff = eh->e_shoff;
    const unsigned shnum = eh->e_shnum, shstrndx = eh->e_shstrndx;
    // The section names, for .gnu_debuglink: where they lie; a candidate's name is read alone.
    uint64_t names_off = 0, names_size = 0;
    if (shstrndx < shnum && read_at(fd, sh, sizeof *sh, shoff + uint64_t(shstrndx) * sizeof *sh) &&
        inside(*out, sh->sh_offset, sh->sh_size)) {
        names_off = sh->sh_offset;
        names_size = sh->sh_size;
    }
    unsigned symtab_link = ~0u;
    for (unsigned first = 0; first < shnum; first += kHeadersAtOnce) {
        const unsigned n = std::min(kHeadersAtOnce, shnum - first);
        if (!read_at(fd, sh, n * sizeof *sh, shoff + uint64_t(first) * sizeof *sh)) return false;
        for (unsigned i = 0; i < n; ++i) {
            const Elf64_Shdr& h = sh[i];
            if (!inside(*out, h.sh_offset, h.sh_type == SHT_NOBITS ? 0 : h.sh_size)) continue;
            if (h.sh_type == SHT_SYMTAB && out->symtab_size == 0 && h.sh_entsize == sizeof(Elf64_Sym) &&
                h.sh_offset % 8 == 0 && h.sh_link < shnum) {
                out->symtab_off = h.sh_offset;
                out->symtab_size = h.sh_size;
                symtab_link = h.sh_link;
            } else if (h.sh_type == SHT_NOTE && out->notes < 4) {
                out->note_off[out->notes] = h.sh_offset;
                out->note_size[out->notes++] = h.sh_size;
            } else if (h.sh_type == SHT_PROGBITS && (h.sh_flags & SHF_ALLOC) == 0 && out->link_size == 0 &&
                       names_size > h.sh_name && names_size - h.sh_name >= sizeof kDebugLink) {
                char* name = reinterpret_cast<char*>(scratch) + kNameProbeAt;
                if (read_at(fd, name, sizeof kDebugLink, names_off + h.sh_name) &&
                    memcmp(name, kDebugLink, sizeof kDebugLink) == 0) {
                    out->link_off = h.sh_offset;
                    out->link_size = h.sh_size;
                }
            }
        }
    }
    if (out->symtab_size == 0) return true;
    if (!read_at(fd, sh, sizeof *sh, shoff + uint64_t(symtab_link) * sizeof *sh) || sh->sh_type != SHT_STRTAB ||
        !inside(*out, sh->sh_offset, sh->sh_size)) {
        out->symtab_size = 0;  // a symbol table without its strings names nothing
        return true;
    }
    out->strtab_off = sh->sh_offset;
    out->strtab_size = sh->sh_size;
    return true;
}

// When the open file `fd` holds a .symtab: maps it (read-only, for the process's life) into `t`.
// *layout gets what was read, *w the file's windows (read into `window`; null: none).
bool symbols_of_fd(int fd, unsigned char* window, FileWindows* w, unsigned char* scratch, FileLayout* layout,
                   SymbolTable* t) {
    *w = FileWindows{};
    w->fd = fd;
    // lseek, not fstat (whose struct is 144 bytes of stack): the size, and a failure on anything
    // but a file.
    const off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0) return false;
    load_windows(fd, uint64_t(size), window, w);
    if (!read_layout(*w, uint64_t(size), scratch, layout) || layout->symtab_size == 0) return false;
    void* p = mmap(nullptr, size_t(size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return false;
    const auto* base = static_cast<const unsigned char*>(p);
    t->syms = reinterpret_cast<const Elf64_Sym*>(base + layout->symtab_off);
    t->count = layout->symtab_size / sizeof(Elf64_Sym);
    t->strtab = reinterpret_cast<const char*>(base + layout->strtab_off);
    t->strsz = layout->strtab_size;
    return true;
}

// O_NONBLOCK: a FIFO at that path must not block the program.
int open_file(const char* path) { return open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); }

bool symbols_of_file(const char* path, unsigned char* window, FileWindows* w, unsigned char* scratch,
                     FileLayout* layout, SymbolTable* t) {
    const int fd = open_file(path);
    if (fd < 0) return false;
    *layout = FileLayout{};
    const bool found = symbols_of_fd(fd, window, w, scratch, layout, t);
    close(fd);
    return found;
}

// /usr/lib/debug/.build-id/ab/cdef....debug from the GNU build-id note of the open file `fd`.
bool build_id_debug_path(const FileWindows& fd, const FileLayout& f, unsigned char* scratch, char* out, size_t size) {
    for (unsigned i = 0; i < f.notes; ++i) {
        // One note per section, as linkers write .note.gnu.build-id: header, "GNU\0", the id.
        const uint64_t len = std::min<uint64_t>(f.note_size[i], 12 + 4 + 64);
        if (len < 12 + 4 + 2 || !read_at(fd, scratch, size_t(len), f.note_off[i])) continue;
        uint32_t namesz, descsz, type;
        memcpy(&namesz, scratch, 4);
        memcpy(&descsz, scratch + 4, 4);
        memcpy(&type, scratch + 8, 4);
        if (type != NT_GNU_BUILD_ID || namesz != 4 || memcmp(scratch + 12, "GNU", 4) != 0 || descsz < 2 ||
            descsz > 64 || 16 + uint64_t(descsz) > len)
            continue;
        const unsigned char* id = scratch + 16;
        TextBuffer b(out, size);
        b.add("/usr/lib/debug/.build-id/")->add_hex(id[0], 2)->add("/");
        for (uint32_t k = 1; k < descsz; ++k) b.add_hex(id[k], 2);
        b.add(".debug");
        return b.size() + 1 < size;
    }
    return false;
}

// The .gnu_debuglink name of the open file `fd`, into `name` (kLinkNameBytes); false: none.
bool debug_link_name(const FileWindows& fd, const FileLayout& f, char* name) {
    if (f.link_size < 2) return false;
    const size_t len = size_t(std::min<uint64_t>(f.link_size, kLinkNameBytes - 1));
    if (!read_at(fd, name, len, f.link_off)) return false;
    name[len] = '\0';
    return name[0] != '\0' && strchr(name, '/') == nullptr;
}

// The separate debug file's symbol table: by build id, else by the .gnu_debuglink `name` next to
// the file `path`, in .debug/ beside it, and under /usr/lib/debug.
bool debug_symbol_table(const char* path, const char* by_build_id, const char* name, unsigned char* window,
                        FileWindows* w, unsigned char* scratch, FileLayout* layout, SymbolTable* t,
                        char (&candidate)[256]) {
    if (by_build_id != nullptr && symbols_of_file(by_build_id, window, w, scratch, layout, t)) return true;
    const char* slash = strrchr(path, '/');
    if (name == nullptr || slash == nullptr) return false;
    const size_t dir_len = size_t(slash - path);
    const char* const forms[][2] = {{"", "/"}, {"", "/.debug/"}, {"/usr/lib/debug", "/"}};
    for (const auto& form : forms) {
        TextBuffer b(candidate, sizeof candidate);
        b.add(form[0]);
        for (size_t i = 0; i < dir_len; ++i) {
            const char c[2] = {path[i], '\0'};
            b.add(c);
        }
        b.add(form[1])->add(name);
        if (b.size() + 1 >= sizeof candidate || strcmp(candidate, path) == 0) continue;
        if (symbols_of_file(candidate, window, w, scratch, layout, t)) return true;
    }
    return false;
}

// Finds the module's symbol table in its file or its debug file, mapping the file that holds it.
// Returns false when there is none. The module's own file is opened once: its layout, build id
// and debug link are read from that descriptor.
bool open_symbols(const link_map* lm, SymbolTable* t, char (&scratch)[2][256], unsigned char* headers,
                  FileLayout* file, FileWindows* w) {
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
    const int fd = open_file(path);
    if (fd < 0) return false;
    *file = FileLayout{};
    const WindowHold window;
    if (symbols_of_fd(fd, window.bytes(), w, headers, file, t)) {
        close(fd);
        return true;
    }
    // Stripped: where its debug file would be. The build-id path goes to the second path
    // scratch, the link name after the head of the scratch (which reads the candidates' headers).
    char* name = reinterpret_cast<char*>(headers) + kHeadersBytes;
    const bool elf = file->size != 0;
    const bool by_id = elf && build_id_debug_path(*w, *file, headers, scratch[1], sizeof scratch[1]);
    const bool by_link = elf && debug_link_name(*w, *file, name);
    close(fd);
    if (!by_id && !by_link) return false;
    // The build-id candidate is tried first, so the scratch it sits in may be reused after; the
    // module file's layout too (its build id and link name were taken out of it).
    return debug_symbol_table(path, by_id ? scratch[1] : nullptr, by_link ? name : nullptr, window.bytes(), w,
                              headers, file, t, scratch[1]);
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
// Apart (not inlined): reading a file takes frames a lookup of a module already read must not
// carry, since a call site is often decided deep in a small stack (issue 12's low_headroom).
__attribute__((noinline)) ModuleFile* module_entry_slow(const dl_find_object& found, bool* not_now) {
    *not_now = false;
    for (ModuleFile& e : g_modules) {
        const void* seen = __atomic_load_n(&e.map_start, __ATOMIC_ACQUIRE);
        if (seen == nullptr) {
            if (__atomic_compare_exchange_n(&e.map_start, &seen, found.dlfo_map_start, false, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                __atomic_store_n(&e.filler, this_thread(), __ATOMIC_RELEASE);
                if (__atomic_load_n(&g_no_more_files, __ATOMIC_ACQUIRE) ||
                    !open_symbols(found.dlfo_link_map, &e.table, e.path, e.headers, &e.layout, &e.file))
                    e.table = SymbolTable{};
                published(&e.state);
                return &e;
            }
        }
        if (seen != found.dlfo_map_start) continue;
        // Another thread is reading it (an open and a few page faults): wait, boundedly. This
        // thread, interrupted while reading it: not now.
        // (No system call when it is ready: a program may have forbidden them since, seccomp.)
        if (is_ready(&e.state)) return &e;
        const int32_t me = this_thread();
        for (uint32_t spin = 0; !is_ready(&e.state); ++spin) {
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

// A module already read, found with a small frame; anything else goes the whole way.
ModuleFile* module_entry(const dl_find_object& found, bool* not_now) {
    *not_now = false;
    for (ModuleFile& e : g_modules) {
        const void* seen = __atomic_load_n(&e.map_start, __ATOMIC_ACQUIRE);
        if (seen == nullptr) break;
        if (seen == found.dlfo_map_start && is_ready(&e.state)) return &e;
    }
    return module_entry_slow(found, not_now);
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
