#include "tracer/engine/module_map.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/auxv.h>

#include <cstring>

#include "tracer/common/text_util.h"
#include "tracer/engine/segment_growth.h"

namespace vdsotrace::tracer {

namespace {

bool known(const Segment& seg, uintptr_t address) {
    uint64_t claimed = __atomic_load_n(&seg.header->modules_claimed, __ATOMIC_ACQUIRE);
    // Only entries the file backs: a claim whose reservation failed left its entry past the end.
    const uint64_t backed = reserved_entries(seg, &seg.modules_reserved, sizeof(format::ModuleEntry), seg.module_capacity);
    if (claimed > backed) claimed = backed;
    for (uint64_t i = 0; i < claimed; ++i) {
        const format::ModuleEntry& m = seg.modules[i];
        if (__atomic_load_n(&m.state, __ATOMIC_ACQUIRE) == format::kModuleReady && address >= m.start &&
            address < m.end && !(__atomic_load_n(&m.flags, __ATOMIC_ACQUIRE) & format::kModuleUnloaded))
            return true;
    }
    return false;
}

// Whether `m` is the object `found` describes: same range, bias, file and build id.
bool same_object(const format::ModuleEntry& m, const dl_find_object& found) {
    const link_map* lm = found.dlfo_link_map;
    if (lm == nullptr || reinterpret_cast<uintptr_t>(found.dlfo_map_start) != m.start ||
        reinterpret_cast<uintptr_t>(found.dlfo_map_end) != m.end || lm->l_addr != m.load_bias)
        return false;
    if (lm->l_name == nullptr || strncmp(lm->l_name, m.path, sizeof m.path - 1) != 0) return false;
    unsigned char id[format::kBuildIdMax];
    const uint32_t n = read_build_id(found.dlfo_map_start, lm->l_addr, id, sizeof id);
    return n == m.build_id_size && memcmp(id, m.build_id, n) == 0;
}

// An entry of a module unloaded earlier and now loaded again, the same file at the same place
// (a plugin reloaded): it is marked loaded again rather than added a second time.
bool reloaded(Segment* seg, const dl_find_object& found) {
    uint64_t claimed = __atomic_load_n(&seg->header->modules_claimed, __ATOMIC_ACQUIRE);
    const uint64_t backed = reserved_entries(*seg, &seg->modules_reserved, sizeof(format::ModuleEntry), seg->module_capacity);
    if (claimed > backed) claimed = backed;  // entries past the file's end were never written
    for (uint64_t i = 0; i < claimed; ++i) {
        format::ModuleEntry& m = seg->modules[i];
        if (__atomic_load_n(&m.state, __ATOMIC_ACQUIRE) != format::kModuleReady ||
            !(__atomic_load_n(&m.flags, __ATOMIC_ACQUIRE) & format::kModuleUnloaded) || !same_object(m, found))
            continue;
        __atomic_fetch_and(&m.flags, ~uint32_t(format::kModuleUnloaded), __ATOMIC_RELEASE);
        return true;
    }
    return false;
}

}  // namespace

namespace {

struct UnloadScan {
    Segment* seg;
    uint32_t* indexes;
    uint32_t max;
    uint32_t n;
};

// Runs once, inside dl_iterate_phdr: the loader holds its list lock (dl_load_write_lock) for the
// call, and glibc's dlclose unmaps objects and frees their link_maps under that same lock. So an
// object _dl_find_object names here stays mapped while same_object reads its link_map and ELF
// header. Without the lock another thread's dlclose of that object (the last reference, after
// ours) could unmap it between the look-up and the reads: the traced program died of SIGSEGV in
// read_build_id (the sampling stress test, ~1 run in 10 under load).
int scan_under_loader_lock(dl_phdr_info*, size_t, void* data) {
    auto* s = static_cast<UnloadScan*>(data);
    uint64_t claimed = __atomic_load_n(&s->seg->header->modules_claimed, __ATOMIC_ACQUIRE);
    const uint64_t backed =
        reserved_entries(*s->seg, &s->seg->modules_reserved, sizeof(format::ModuleEntry), s->seg->module_capacity);
    if (claimed > backed) claimed = backed;  // entries past the file's end were never written
    for (uint64_t i = 0; i < claimed && s->n < s->max; ++i) {
        format::ModuleEntry& m = s->seg->modules[i];
        const uint32_t flags = __atomic_load_n(&m.flags, __ATOMIC_ACQUIRE);
        if (__atomic_load_n(&m.state, __ATOMIC_ACQUIRE) != format::kModuleReady ||
            (flags & (format::kModuleUnloaded | format::kModuleMainProgram | format::kModuleVdso)))
            continue;
        dl_find_object found;
        if (_dl_find_object(reinterpret_cast<void*>(m.start), &found) == 0 && same_object(m, found)) continue;
        // Two threads unloading at once: only the one that sets the flag retires the module.
        if (__atomic_fetch_or(&m.flags, uint32_t(format::kModuleUnloaded), __ATOMIC_ACQ_REL) & format::kModuleUnloaded)
            continue;
        s->indexes[s->n++] = uint32_t(i);
    }
    return 1;  // the whole table is checked at the first object: no need to visit the others
}

}  // namespace

// Called after dlclose only (never from a signal handler: dl_iterate_phdr takes a lock).
uint32_t mark_unloaded_modules(Segment* seg, uint32_t* indexes, uint32_t max) {
    if (seg->header == nullptr) return 0;
    UnloadScan scan{seg, indexes, max, 0};
    dl_iterate_phdr(scan_under_loader_lock, &scan);
    return scan.n;
}

uint32_t read_build_id(const void* elf_header, uintptr_t load_bias, unsigned char* out, uint32_t max) {
    const auto* eh = static_cast<const ElfW(Ehdr)*>(elf_header);
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_phentsize != sizeof(ElfW(Phdr))) return 0;
    const auto* ph = reinterpret_cast<const ElfW(Phdr)*>(static_cast<const char*>(elf_header) + eh->e_phoff);
    for (int i = 0; i < eh->e_phnum; ++i) {
        if (ph[i].p_type != PT_NOTE) continue;
        const char* p = reinterpret_cast<const char*>(load_bias + ph[i].p_vaddr);
        const char* end = p + ph[i].p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const auto* n = reinterpret_cast<const ElfW(Nhdr)*>(p);
            const char* name = p + sizeof *n;
            const char* desc = name + ((n->n_namesz + 3) & ~3u);
            if (desc + n->n_descsz > end) break;
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                uint32_t size = n->n_descsz < max ? n->n_descsz : max;
                memcpy(out, desc, size);
                return size;
            }
            p = desc + ((n->n_descsz + 3) & ~3u);
        }
    }
    return 0;
}

namespace {

// Entry `index` backed by the file. Apart and never inlined: ensure_module() runs under a sample's
// frame-pointer walk, where every byte of its frame counts (issue 12's stack need).
__attribute__((noinline)) bool reserve_module_entry(Segment* seg, uint64_t index) {
    return reserve_entry(seg, &seg->modules_reserved, seg->modules, index, sizeof(format::ModuleEntry),
                         seg->module_capacity);
}

}  // namespace

void ensure_module(Segment* seg, uintptr_t address) {
    if (seg->header == nullptr || known(*seg, address)) return;
    dl_find_object found;
    if (_dl_find_object(reinterpret_cast<void*>(address), &found) != 0) return;
    if (reloaded(seg, found)) return;

    uint64_t index = __atomic_fetch_add(&seg->header->modules_claimed, 1, __ATOMIC_ACQ_REL);
    if (index >= seg->module_capacity) {
        __atomic_fetch_or(&seg->header->flags, uint32_t(format::kFlagModulesFull), __ATOMIC_RELAXED);
        return;
    }
    if (!reserve_module_entry(seg, index))
        return;  // the recording cannot grow (said once): callers in this module stay unnamed
    format::ModuleEntry& m = seg->modules[index];
    __atomic_store_n(&m.state, uint32_t(format::kModuleWriting), __ATOMIC_RELAXED);
    const link_map* lm = found.dlfo_link_map;
    m.load_bias = lm->l_addr;
    m.start = reinterpret_cast<uintptr_t>(found.dlfo_map_start);
    m.end = reinterpret_cast<uintptr_t>(found.dlfo_map_end);
    m.flags = 0;
    TextBuffer path(m.path, sizeof m.path);
    const uintptr_t vdso = getauxval(AT_SYSINFO_EHDR);
    if (vdso != 0 && m.start <= vdso && vdso < m.end) {
        m.flags |= format::kModuleVdso;
        path.add("[vdso]");
    } else if (lm->l_name == nullptr || lm->l_name[0] == '\0') {
        m.flags |= format::kModuleMainProgram;
        path.add(seg->header->exe);
    } else {
        path.add(lm->l_name);
    }
    // The ELF header sits at the start of the first loaded segment.
    m.build_id_size = read_build_id(found.dlfo_map_start, lm->l_addr, m.build_id, sizeof m.build_id);
    __atomic_store_n(&m.state, uint32_t(format::kModuleReady), __ATOMIC_RELEASE);
}

}  // namespace vdsotrace::tracer
