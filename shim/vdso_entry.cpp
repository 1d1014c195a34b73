#include "vdso_entry.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "vdso_image.h"

namespace vdsotrace::shim {

namespace {

// Before resolution: resolve, then call what was found.
int lazy_clock_gettime(clockid_t id, timespec* ts) {
    resolve_entries();
    return g_entries.clock_gettime(id, ts);
}
int lazy_gettimeofday(timeval* tv, void* tz) {
    resolve_entries();
    return g_entries.gettimeofday(tv, tz);
}
time_t lazy_time(time_t* t) {
    resolve_entries();
    return g_entries.time(t);
}
long lazy_getcpu(unsigned* cpu, unsigned* node, void* cache) {
    resolve_entries();
    return g_entries.getcpu(cpu, node, cache);
}
int lazy_clock_getres(clockid_t id, timespec* ts) {
    resolve_entries();
    return g_entries.clock_getres(id, ts);
}

EntrySources g_sources;
int g_resolved;

// Raw-syscall fallbacks in the vDSO's convention (-errno on failure).
long as_vdso_result(long r) { return r == -1 ? -errno : r; }

int sys_clock_gettime(clockid_t id, timespec* ts) {
    return int(as_vdso_result(syscall(SYS_clock_gettime, id, ts)));
}
int sys_clock_getres(clockid_t id, timespec* ts) {
    return int(as_vdso_result(syscall(SYS_clock_getres, id, ts)));
}
int sys_gettimeofday(timeval* tv, void* tz) { return int(as_vdso_result(syscall(SYS_gettimeofday, tv, tz))); }
long sys_getcpu(unsigned* cpu, unsigned* node, void* cache) {
    return as_vdso_result(syscall(SYS_getcpu, cpu, node, cache));
}
time_t time_from_clock(time_t* t) {
    // aarch64 and riscv64 have neither a vDSO time() nor a time syscall: libc derives it from
    // CLOCK_REALTIME too.
    timespec ts{};
    g_entries.clock_gettime(CLOCK_REALTIME, &ts);
    if (t != nullptr) *t = ts.tv_sec;
    return ts.tv_sec;
}
#ifdef SYS_time
time_t sys_time(time_t* t) { return time_t(syscall(SYS_time, t)); }
#endif

template <class Fn>
Fn pick(const vdso::Image* img, const char* name, Fn fallback, bool* from_vdso) {
    if (img != nullptr && name != nullptr) {
        if (const void* p = vdso::lookup(*img, name, vdso::arch_names().version)) {
            *from_vdso = true;
            return reinterpret_cast<Fn>(const_cast<void*>(p));
        }
    }
    *from_vdso = false;
    return fallback;
}

}  // namespace

// Filled by relocation at load time, before any code of the process runs.
Entries g_entries = {lazy_clock_gettime, lazy_gettimeofday, lazy_time, lazy_getcpu, lazy_clock_getres};

void resolve_entries() {
    const int saved_errno = errno;
    vdso::Image image;
    const vdso::Image* img = vdso::parse_live(&image) == vdso::ParseError::kNone ? &image : nullptr;
    const vdso::ArchNames& n = vdso::arch_names();
    Entries e;
    EntrySources s;
    e.clock_gettime = pick(img, n.clock_gettime, &sys_clock_gettime, &s.clock_gettime);
    e.gettimeofday = pick(img, n.gettimeofday, &sys_gettimeofday, &s.gettimeofday);
#ifdef SYS_time
    e.time = pick(img, n.time, &sys_time, &s.time);
#else
    e.time = pick(img, n.time, &time_from_clock, &s.time);
#endif
    e.getcpu = pick(img, n.getcpu, &sys_getcpu, &s.getcpu);
    e.clock_getres = pick(img, n.clock_getres, &sys_clock_getres, &s.clock_getres);
    (void)&time_from_clock;
    // Racing threads store identical values, each pointer in one atomic store.
    g_sources = s;
    __atomic_store_n(&g_entries.clock_gettime, e.clock_gettime, __ATOMIC_RELAXED);
    __atomic_store_n(&g_entries.gettimeofday, e.gettimeofday, __ATOMIC_RELAXED);
    __atomic_store_n(&g_entries.time, e.time, __ATOMIC_RELAXED);
    __atomic_store_n(&g_entries.getcpu, e.getcpu, __ATOMIC_RELAXED);
    __atomic_store_n(&g_entries.clock_getres, e.clock_getres, __ATOMIC_RELAXED);
    __atomic_store_n(&g_resolved, 1, __ATOMIC_RELEASE);
    errno = saved_errno;
}

EntrySources entry_sources() {
    if (__atomic_load_n(&g_resolved, __ATOMIC_ACQUIRE) == 0) resolve_entries();
    return g_sources;
}

}  // namespace vdsotrace::shim
