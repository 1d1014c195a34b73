// See vdso_redirect.h.
#include "shim/vdso_redirect.h"

#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "shim/direct_calls.h"
#include "shim/go_program.h"
#include "tracer/common/maps_lookup.h"
#include "tracer/engine/recorder.h"
#include "tracer/common/text_util.h"
#include "tracer/common/vdso_image.h"
#include "tracer/engine/vdso_patch_log.h"

namespace vdsotrace::shim {
namespace {

namespace fmt = vdsotrace::format;

enum class Mode { kAuto, kOn, kOff };

void say(const char* what, const char* detail = nullptr) {
    char line[400];
    tracer::TextBuffer b(line, sizeof line);
    b.add("vdsotrace: ")->add(what);
    if (detail != nullptr) b.add(detail);
    b.add("\n");
    ssize_t ignored = write(STDERR_FILENO, b.c_str(), b.size());
    (void)ignored;
}

Mode read_mode() {
    const char* v = getenv("VDSOTRACE_VDSO_REDIRECT");
    if (v == nullptr || strcmp(v, "auto") == 0 || *v == '\0') return Mode::kAuto;
    if (strcmp(v, "on") == 0) return Mode::kOn;
    if (strcmp(v, "off") == 0) return Mode::kOff;
    say("VDSOTRACE_VDSO_REDIRECT must be auto, on or off; using auto");
    return Mode::kAuto;
}

// The vDSO's name for a format::Function on this architecture, or null where it has none.
const char* vdso_name(int fn) {
    const vdso::ArchNames& names = vdso::arch_names();
    const char* by_function[fmt::kCountedFunctions] = {names.clock_gettime, names.gettimeofday, names.time,
                                                       names.getcpu, names.clock_getres, names.getrandom};
    return by_function[fn];
}

// The function a vDSO symbol name stands for ("clock_gettime" and "__vdso_clock_gettime"
// alike), or -1.
int function_of(const char* name) {
    for (int fn = 0; fn < fmt::kCountedFunctions; ++fn) {
        const char* full = vdso_name(fn);
        if (full == nullptr) continue;
        if (strcmp(name, full) == 0) return fn;
        // The unprefixed alias x86_64's vDSO also exports (a weak "clock_gettime").
        const char* bare = strncmp(full, "__vdso_", 7) == 0 ? full + 7 : nullptr;
        if (bare != nullptr && strcmp(name, bare) == 0) return fn;
    }
    return -1;
}

// The vDSO's whole mapping: the kernel refuses to change the protection of a part of it.
bool vdso_mapping(const vdso::Image& img, uintptr_t* start, size_t* length) {
    tracer::MapRange here, above;
    if (!tracer::lookup_mappings(reinterpret_cast<uintptr_t>(img.base), &here, &above) || here.end == 0) return false;
    *start = here.start;
    *length = here.end - here.start;
    return true;
}

// Points every symbol of the counted functions (the five clock functions, getrandom) at its direct
// entry. Returns how many it changed.
int rewrite_symbols(const vdso::Image& img) {
    int changed = 0;
    auto* syms = static_cast<ElfW(Sym)*>(const_cast<void*>(img.symtab));
    for (size_t i = 0; i < img.sym_count; ++i) {
        ElfW(Sym)& s = syms[i];
        if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_shndx == SHN_UNDEF || s.st_name >= img.strtab_size) continue;
        const int fn = function_of(img.strtab + s.st_name);
        if (fn < 0 || vdsotrace_direct_targets[fn] == 0) continue;
        const size_t offset = reinterpret_cast<const unsigned char*>(&s.st_value) - img.base;
        tracer::note_vdso_patch(offset, s.st_value);
        // Wraps around modulo 2^64 when the shim lies below the vDSO: readers add load_offset back.
        s.st_value = direct_entry(unsigned(fn)) - img.load_offset;
        ++changed;
    }
    return changed;
}

void set_flags(uint32_t flag) {
    tracer::set_vdso_redirect_flags(flag);
    if (fmt::Header* h = tracer::segment_header()) __atomic_fetch_or(&h->flags, flag, __ATOMIC_RELAXED);
}

}  // namespace

void find_direct_targets(const vdso::Image& img) {
    for (int fn = 0; fn < fmt::kCountedFunctions; ++fn)
        if (const char* name = vdso_name(fn))
            vdsotrace_direct_targets[fn] = reinterpret_cast<uintptr_t>(vdso::lookup(img, name, vdso::arch_names().version));
}

void redirect_vdso_symbols() {
#if defined(__x86_64__)
    const Mode mode = read_mode();
    if (mode == Mode::kOff) return;
    const int saved_errno = errno;  // the program must not see ours
    const GoProgram program = inspect_executable();
    if (mode == Mode::kAuto && !program.is_go) {
        errno = saved_errno;
        return;
    }
    vdso::Image img;
    if (vdso::parse_live(&img) != vdso::ParseError::kNone) {
        errno = saved_errno;
        return;  // no vDSO (valgrind): Go falls back to the system call, which nobody can count here
    }
    find_direct_targets(img);
    g_go_plumbing = program.plumbing;

    uintptr_t start = 0;
    size_t length = 0;
    // Writable and still executable: another thread (started by some constructor) may be inside
    // the vDSO right now.
    if (!vdso_mapping(img, &start, &length) ||
        mprotect(reinterpret_cast<void*>(start), length, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) {
        say("the vDSO cannot be made writable (", errno == EPERM ? "sealed mapping)" : "mprotect refused)");
        say("  calls the Go runtime makes straight into the vDSO will not be counted");
        set_flags(fmt::kFlagVdsoRedirectRefused);
        tracer::ensure_segment();  // so the report can say so even when nothing else is counted
        errno = saved_errno;
        return;
    }
    const int changed = rewrite_symbols(img);
    mprotect(reinterpret_cast<void*>(start), length, PROT_READ | PROT_EXEC);
    if (changed > 0) set_flags(fmt::kFlagVdsoRedirected);
    if (program.is_go && !program.has_symbols)
        say("this Go program has neither a symbol table nor a Go function table we can read: its clock "
            "calls are counted but attributed to the Go runtime, not to the Go functions that asked");
    errno = saved_errno;
#endif
}

}  // namespace vdsotrace::shim
