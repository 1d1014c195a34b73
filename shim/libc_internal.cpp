// See libc_internal.h.
#include "shim/libc_internal.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tracer/engine/recorder.h"
#include "tracer/common/elf_bytes.h"
#include "tracer/common/text_util.h"
#include "tracer/common/vdso_image.h"
#include "tracer/unwind/eh_frame_rules.h"
#include "tracer/wrappers/symbol_at.h"

namespace vdsotrace::shim {
namespace {

namespace fmt = vdsotrace::format;

// The original vDSO entries the pointers held, by format::Function (0: that function had none).
uintptr_t g_original[fmt::kCountedFunctions];

struct Slot {
    uintptr_t* address;
    uintptr_t original;
};
constexpr int kMaxSlots = 16;
Slot g_slots[kMaxSlots];
int g_slot_count;

// libc's code range and call-frame table, where the walk to the program's caller happens.
struct Module {
    uintptr_t start, end;
    const void* eh_frame_hdr;
};
Module g_libc;

// The offset from the stack pointer at return address `ret` in libc (once returned to) to the
// frame's CFA, from libc's unwind tables; the caller's return address is then at sp + offset - 8.
// -1 when unknown: libc keeps no frame pointers, so only a CFA kept in the stack pointer is used.
long cfa_offset_at(const void* eh_frame_hdr, uintptr_t ret) {
    tracer::unwind::FrameRule rule;
    if (ret == 0 || !tracer::unwind::frame_rule_at(eh_frame_hdr, ret - 1, &rule) || rule.signal_frame ||
        rule.cfa_from_fp || !rule.ra_known || rule.outermost || rule.cfa_offset < 8)
        return -1;
    return rule.cfa_offset;
}

// Return address in libc -> CFA offset, filled on first sight of each address and read
// lock-free: an entry is one word, (offset in libc + 1) << 24 | CFA offset, 0 when empty.
constexpr unsigned kCacheSize = 256;
constexpr uint64_t kUnknown = 0xffffff;
uint64_t g_cfa_cache[kCacheSize];

long cfa_offset(uintptr_t ret) {
    const uint64_t key = ret - g_libc.start + 1;
    unsigned i = unsigned((key >> 1) ^ (key >> 9)) & (kCacheSize - 1);
    for (unsigned probe = 0; probe < 8; ++probe, i = (i + 1) & (kCacheSize - 1)) {
        const uint64_t seen = __atomic_load_n(&g_cfa_cache[i], __ATOMIC_RELAXED);
        if (seen != 0 && seen >> 24 == key) return (seen & kUnknown) == kUnknown ? -1 : long(seen & kUnknown);
        if (seen == 0) {
            const long off = cfa_offset_at(g_libc.eh_frame_hdr, ret);
            const uint64_t value = key << 24 | (off < 0 || uint64_t(off) >= kUnknown ? kUnknown : uint64_t(off));
            uint64_t expected = 0;
            // A racing thread stores the same value for the same key, or takes the next entry.
            __atomic_compare_exchange_n(&g_cfa_cache[i], &expected, value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
            return off;
        }
    }
    return cfa_offset_at(g_libc.eh_frame_hdr, ret);  // table full: computed every time
}

// The first return address outside libc above a call libc made from `ret` (stack pointer `sp`
// once returned there). Stops inside libc where its frames cannot be stepped through.
uintptr_t caller_outside_libc(uintptr_t ret, uintptr_t sp) {
    for (int step = 0; step < 8 && ret - g_libc.start < g_libc.end - g_libc.start; ++step) {
        const long off = cfa_offset(ret);
        if (off < 0) break;
        const uintptr_t cfa = sp + uintptr_t(off);
        const uintptr_t next = *reinterpret_cast<const uintptr_t*>(cfa - sizeof(uintptr_t));
        if (next == 0) break;
        ret = next;
        sp = cfa;
    }
    return ret;
}

#define CALL_SITE caller_outside_libc(reinterpret_cast<uintptr_t>(__builtin_return_address(0)), \
                                      reinterpret_cast<uintptr_t>(__builtin_dwarf_cfa()))

template <class Fn>
Fn original(int fn) {
    return reinterpret_cast<Fn>(g_original[fn]);
}

// The entries the pointers lead to: the vDSO's convention in and out.
int entry_clock_gettime(clockid_t id, timespec* ts) {
    const int r = original<int (*)(clockid_t, timespec*)>(fmt::kClockGettime)(id, ts);
    tracer::record(fmt::counter_index(fmt::kClockGettime, fmt::clock_bucket(id)), CALL_SITE);
    return r;
}
int entry_gettimeofday(timeval* tv, void* tz) {
    const int r = original<int (*)(timeval*, void*)>(fmt::kGettimeofday)(tv, tz);
    tracer::record(fmt::counter_index(fmt::kGettimeofday, 0), CALL_SITE);
    return r;
}
time_t entry_time(time_t* t) {
    const time_t r = original<time_t (*)(time_t*)>(fmt::kTime)(t);
    tracer::record(fmt::counter_index(fmt::kTime, 0), CALL_SITE);
    return r;
}
long entry_getcpu(unsigned* cpu, unsigned* node, void* cache) {
    const long r = original<long (*)(unsigned*, unsigned*, void*)>(fmt::kGetcpu)(cpu, node, cache);
    tracer::record(fmt::counter_index(fmt::kGetcpu, 0), CALL_SITE);
    return r;
}
int entry_clock_getres(clockid_t id, timespec* ts) {
    const int r = original<int (*)(clockid_t, timespec*)>(fmt::kClockGetres)(id, ts);
    tracer::record(fmt::counter_index(fmt::kClockGetres, fmt::clock_bucket(id)), CALL_SITE);
    return r;
}

// glibc 2.41+ keeps the vDSO's getrandom among these pointers too (its arc4random and getrandom
// use it with per-thread opaque state); glibc 2.36 has none, so this entry is not reached there.
ssize_t entry_getrandom(void* buffer, size_t length, unsigned flags, void* state, size_t state_size) {
    const ssize_t r =
        original<ssize_t (*)(void*, size_t, unsigned, void*, size_t)>(fmt::kGetrandom)(buffer, length, flags, state,
                                                                                        state_size);
    tracer::record(fmt::counter_index(fmt::kGetrandom, 0), CALL_SITE);
    return r;
}

uintptr_t entry_for(int fn) {
    switch (fn) {
        case fmt::kClockGettime: return reinterpret_cast<uintptr_t>(&entry_clock_gettime);
        case fmt::kGettimeofday: return reinterpret_cast<uintptr_t>(&entry_gettimeofday);
        case fmt::kTime: return reinterpret_cast<uintptr_t>(&entry_time);
        case fmt::kGetcpu: return reinterpret_cast<uintptr_t>(&entry_getcpu);
        case fmt::kClockGetres: return reinterpret_cast<uintptr_t>(&entry_clock_getres);
        case fmt::kGetrandom: return reinterpret_cast<uintptr_t>(&entry_getrandom);
        default: return 0;
    }
}

void say(const char* what) {
    char line[400];
    tracer::TextBuffer b(line, sizeof line);
    b.add("vdsotrace: ")->add(what)->add(": calls libc makes to the vDSO inside itself (timespec_get, clock(), ...) "
                                         "are not counted\n");
    ssize_t ignored = write(STDERR_FILENO, b.c_str(), b.size());
    (void)ignored;
}

// How the object loaded at `at` maps it, from its program headers in memory (the loader keeps
// them mapped): where /proc/self/maps was read twice at every start (issue 14's start-up cost:
// the kernel prints every mapping, 10 system calls a process). Read-only inside the object's
// PT_GNU_RELRO (the loader protects it so after relocating), else as its PT_LOAD says.
struct Protection {
    bool found = false;
    bool readable = false;
    bool writable = false;
};

struct ProtectionQuery {
    uintptr_t at;
    uintptr_t end;  // [at, end) must lie in one PT_LOAD; the page of `at` decides the RELRO
    Protection result;
};

int protection_of_object(dl_phdr_info* info, size_t, void* data) {
    auto* q = static_cast<ProtectionQuery*>(data);
    bool in_relro = false;
    Protection p;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        const uintptr_t lo = info->dlpi_addr + ph.p_vaddr, hi = lo + ph.p_memsz;
        if (ph.p_type == PT_LOAD && lo <= q->at && q->end <= hi) {
            p.found = true;
            p.readable = (ph.p_flags & PF_R) != 0;
            p.writable = (ph.p_flags & PF_W) != 0;
        } else if (ph.p_type == PT_GNU_RELRO) {
            // The pages the loader protects: both ends rounded down (glibc's _dl_protect_relro).
            const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
            const uintptr_t first = lo & ~(page - 1), last = hi & ~(page - 1);
            in_relro = first <= q->at && q->at < last;
        }
    }
    if (!p.found) return 0;
    if (in_relro) p.writable = false;
    q->result = p;
    return 1;
}

Protection protection_of(uintptr_t at, size_t size) {
    ProtectionQuery q{at, at + size, {}};
    dl_iterate_phdr(protection_of_object, &q);
    return q.result;
}

// A loaded object found by its name in the loader's list (dl_iterate_phdr holds the loader's lock,
// so the list cannot change under the walk): where dlopen(RTLD_NOLOAD) + dlinfo + dlclose did it,
// about 20 us a process start in the loader's locks and bookkeeping (issue 14's shell loop).
struct LoadedObject {
    const char* want;       // the whole l_name (the loader: PT_INTERP) or, with `basename`, its last part
    bool basename;
    bool found = false;
    uintptr_t bias = 0;     // dlpi_addr: the link map's l_addr
    uintptr_t first_load = 0;  // an address inside it (its first PT_LOAD)
};

int match_loaded_object(dl_phdr_info* info, size_t, void* data) {
    auto* q = static_cast<LoadedObject*>(data);
    const char* name = info->dlpi_name;
    if (name == nullptr || name[0] == '\0') return 0;
    if (q->basename) {
        const char* slash = strrchr(name, '/');
        name = slash != nullptr ? slash + 1 : name;
    }
    if (strcmp(name, q->want) != 0) return 0;
    for (int i = 0; i < info->dlpi_phnum; ++i)
        if (info->dlpi_phdr[i].p_type == PT_LOAD) {
            q->first_load = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
            break;
        }
    q->bias = info->dlpi_addr;
    q->found = q->first_load != 0;
    return q->found ? 1 : 0;
}

// The link map of the object named `want`: from the loader's list, else (a name the list spells
// differently, a symlink) through dlopen(RTLD_NOLOAD) of that name, as before.
link_map* loaded_link_map(const char* want, bool basename) {
    LoadedObject q{want, basename};
    dl_iterate_phdr(match_loaded_object, &q);
    dl_find_object found{};
    if (q.found && _dl_find_object(reinterpret_cast<void*>(q.first_load), &found) == 0 &&
        found.dlfo_link_map != nullptr && found.dlfo_link_map->l_addr == q.bias)
        return found.dlfo_link_map;
    void* handle = dlopen(want, RTLD_LAZY | RTLD_NOLOAD);
    if (handle == nullptr) return nullptr;
    link_map* map = nullptr;
    if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0) map = nullptr;
    dlclose(handle);
    return map;
}

// The loader's own `_rtld_global_ro` (not a copy-relocated duplicate in the executable, which
// glibc never reads) and its size. dlsym refuses GLIBC_PRIVATE symbols, so the loader's file
// (named by the executable's PT_INTERP) is read for its dynamic symbol, and placed where the
// loader lies in memory (its link map's l_addr).
struct FoundSymbol {
    const char* name;
    uintptr_t value;
    size_t size;
};

// A size `_rtld_global_ro` can have (a few hundred bytes in every glibc).
bool plausible_size(uint64_t bytes) { return bytes > 0 && bytes <= 65536; }

// Whether `p` lies in the object of link map `map` (the loader's, not a copy elsewhere).
bool owned_by(const void* p, const link_map* map) {
    dl_find_object owner{};
    return _dl_find_object(const_cast<void*>(p), &owner) == 0 && owner.dlfo_link_map == map;
}

// Takes [at, at + bytes) as the object found, when it lies in a readable segment of a loaded
// object (a file read must be the one that is loaded).
bool take_object(uintptr_t at, uint64_t bytes, uintptr_t* start, size_t* size) {
    *start = at;
    *size = size_t(bytes);
    const Protection prot = protection_of(*start, *size);
    return prot.found && prot.readable;
}

bool find_rtld_global_ro(uintptr_t* start, size_t* size) {
    const elf::ProgramHeaders exe = elf::executable_program_headers();
    const char* interp = nullptr;
    for (size_t i = 0; i < exe.count; ++i)
        if (exe.phdr[i].p_type == PT_INTERP) interp = reinterpret_cast<const char*>(exe.bias + exe.phdr[i].p_vaddr);
    if (interp == nullptr) return false;
    link_map* map = loaded_link_map(interp, false);
    if (map == nullptr) return false;
    const uintptr_t loader_bias = map->l_addr;

    // Looked up in the loader's own dynamic symbol table in memory, through its GNU hash table
    // (module_symbol): no lock, no scope walk, no file. dlvsym + dladdr1 did the same through the
    // global scope under the loader's lock: 10 to 13 us of every process start (issue 14).
    uint64_t bytes = 0;
    const void* in_loader =
        tracer::wrappers::module_symbol(reinterpret_cast<uintptr_t>(map->l_ld), "_rtld_global_ro", &bytes);
    if (in_loader != nullptr && plausible_size(bytes) && owned_by(in_loader, map))
        return take_object(reinterpret_cast<uintptr_t>(in_loader), bytes, start, size);
    // dlvsym finds the symbol through the global scope with its version named (the loader's own
    // handle and plain dlsym refuse GLIBC_PRIVATE), and dladdr1 gives its size from the loader's
    // symbol table in memory. Taken only when it is the loader's own (not an executable's copy).
    if (void* p = dlvsym(RTLD_DEFAULT, "_rtld_global_ro", "GLIBC_PRIVATE")) {
        Dl_info info{};
        void* entry = nullptr;  // the symbol's ElfW(Sym)
        if (dladdr1(p, &info, &entry, RTLD_DL_SYMENT) != 0 && entry != nullptr && info.dli_saddr == p &&
            owned_by(p, map) && plausible_size(static_cast<const ElfW(Sym)*>(entry)->st_size))
            return take_object(reinterpret_cast<uintptr_t>(p), static_cast<const ElfW(Sym)*>(entry)->st_size, start,
                               size);
    }

    FoundSymbol found{"_rtld_global_ro", 0, 0};
    const int fd = open(interp, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st{};
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        void* p = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            vdso::Image img;
            if (vdso::parse(p, size_t(st.st_size), &img) == vdso::ParseError::kNone) {
                vdso::for_each_symbol(
                    img,
                    [](const vdso::Symbol& sym, void* ctx) {
                        auto* f = static_cast<FoundSymbol*>(ctx);
                        if (sym.type == STT_OBJECT && strcmp(sym.name, f->name) == 0) {
                            f->value = sym.address;
                            f->size = sym.size;
                        }
                    },
                    &found);
                if (found.value != 0) found.value -= img.load_offset;  // back to st_value
            }
            munmap(p, size_t(st.st_size));
        }
    }
    close(fd);
    if (found.value == 0 || !plausible_size(found.size)) return false;
    return take_object(loader_bias + found.value, found.size, start, size);
}

// libc's object, by its handle: not through one of its functions' addresses, which another
// preloaded library may interpose (libfaketime defines timespec_get, clock_gettime, ...).
bool find_libc(dl_find_object* out) {
    const link_map* map = loaded_link_map("libc.so.6", true);
    return map != nullptr && _dl_find_object(map->l_ld, out) == 0 && out->dlfo_eh_frame != nullptr;
}

// Writes `value` into every slot, making each page writable for the moment it takes.
bool write_slots(bool redirect) {
    const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
    for (int i = 0; i < g_slot_count; ++i) {
        const uintptr_t at = reinterpret_cast<uintptr_t>(g_slots[i].address) & ~(page - 1);
        bool done_before = false;
        for (int j = 0; j < i; ++j)
            done_before |= (reinterpret_cast<uintptr_t>(g_slots[j].address) & ~(page - 1)) == at;
        if (done_before) continue;
        const Protection here = protection_of(reinterpret_cast<uintptr_t>(g_slots[i].address), sizeof(uintptr_t));
        if (!here.found) return false;
        if (!here.writable && mprotect(reinterpret_cast<void*>(at), page, PROT_READ | PROT_WRITE) != 0) return false;
        for (int j = i; j < g_slot_count; ++j) {
            if ((reinterpret_cast<uintptr_t>(g_slots[j].address) & ~(page - 1)) != at) continue;
            uintptr_t value = g_slots[j].original;
            if (redirect) {
                for (int fn = 0; fn < fmt::kCountedFunctions; ++fn)
                    if (g_original[fn] == value) value = entry_for(fn);
            }
            __atomic_store_n(g_slots[j].address, value, __ATOMIC_RELEASE);
        }
        if (!here.writable) mprotect(reinterpret_cast<void*>(at), page, here.readable ? PROT_READ : PROT_NONE);
    }
    return true;
}

}  // namespace

int find_libc_internal_pointers() {
#if defined(__x86_64__)
    if (g_slot_count > 0) return g_slot_count;
    const int saved_errno = errno;
    vdso::Image img;
    if (vdso::parse_live(&img) != vdso::ParseError::kNone) {
        errno = saved_errno;
        return 0;  // no vDSO: libc uses system calls, which nobody counts here
    }
    const vdso::ArchNames& n = vdso::arch_names();
    const char* names[fmt::kCountedFunctions] = {n.clock_gettime, n.gettimeofday, n.time,
                                                 n.getcpu,        n.clock_getres, n.getrandom};
    for (int fn = 0; fn < fmt::kCountedFunctions; ++fn)
        if (names[fn] != nullptr) g_original[fn] = reinterpret_cast<uintptr_t>(vdso::lookup(img, names[fn], n.version));

    dl_find_object libc{};
    uintptr_t start = 0;
    size_t size = 0;
    if (!find_libc(&libc)) {
        say("libc's call-frame table was not found");
    } else if (!find_rtld_global_ro(&start, &size)) {
        say("the loader's _rtld_global_ro was not found (not glibc?)");
    } else {
        g_libc = {reinterpret_cast<uintptr_t>(libc.dlfo_map_start), reinterpret_cast<uintptr_t>(libc.dlfo_map_end),
                  libc.dlfo_eh_frame};
        for (size_t off = 0; off + sizeof(uintptr_t) <= size && g_slot_count < kMaxSlots; off += sizeof(uintptr_t)) {
            auto* word = reinterpret_cast<uintptr_t*>(start + off);
            for (int fn = 0; fn < fmt::kCountedFunctions; ++fn)
                if (g_original[fn] != 0 && *word == g_original[fn]) g_slots[g_slot_count++] = {word, *word};
        }
        if (g_slot_count == 0) say("no vDSO pointer was found in the loader's _rtld_global_ro");
    }
    errno = saved_errno;
    return g_slot_count;
#else
    return 0;
#endif
}

int redirect_libc_internal_pointers() {
    if (find_libc_internal_pointers() == 0) return 0;
    const int saved_errno = errno;
    if (!write_slots(true)) {
        write_slots(false);
        g_slot_count = 0;
        say("the loader's _rtld_global_ro cannot be made writable");
    }
    errno = saved_errno;
    return g_slot_count;
}

void describe_libc_internal_pointers(attach::AttachBlock* block) {
    unsigned n = 0;
    for (int i = 0; i < g_slot_count && n < attach::kMaxLibcSlots; ++i) {
        uintptr_t entry = 0;
        for (int fn = 0; fn < fmt::kCountedFunctions; ++fn)
            if (g_original[fn] == g_slots[i].original) entry = entry_for(fn);
        if (entry == 0) continue;
        block->libc_slots[n] = reinterpret_cast<uintptr_t>(g_slots[i].address);
        block->libc_original[n] = g_slots[i].original;
        block->libc_entry[n] = entry;
        ++n;
    }
    block->libc_slot_count = n;
}

void restore_libc_internal_pointers() {
    if (g_slot_count == 0) return;
    const int saved_errno = errno;
    write_slots(false);
    g_slot_count = 0;
    errno = saved_errno;
}

}  // namespace vdsotrace::shim
