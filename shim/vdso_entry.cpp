#include "shim/vdso_entry.h"

#include <dlfcn.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "shim/route_spec.h"
#include "tracer/engine/lifecycle.h"
#include "tracer/engine/segment_create.h"
#include "tracer/engine/thread_state.h"
#include "tracer/common/vdso_image.h"

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

// libc's own implementations, found in the constructor (dlsym is not safe on the first call,
// which may come before it). Null until then: calls routed to libc use the vDSO meanwhile.
struct LibcEntries {
    int (*clock_gettime)(clockid_t, timespec*);
    int (*gettimeofday)(timeval*, void*);
    time_t (*time)(time_t*);
    int (*getcpu)(unsigned*, unsigned*);
    int (*clock_getres)(clockid_t, timespec*);
};
LibcEntries g_libc;

// libc's results (-1 and errno) in the vDSO's convention (-errno). Busy meanwhile: libc reaches
// the vDSO through its internal pointers, which lead to the shim too (libc_internal.h), and the
// call is counted once, by the interposed function.
int libc_clock_gettime(clockid_t id, timespec* ts) {
    tracer::BusyGuard busy;
    return int(as_vdso_result(g_libc.clock_gettime(id, ts)));
}
int libc_gettimeofday(timeval* tv, void* tz) {
    tracer::BusyGuard busy;
    return int(as_vdso_result(g_libc.gettimeofday(tv, tz)));
}
time_t libc_time(time_t* t) {
    tracer::BusyGuard busy;
    return g_libc.time(t);
}
long libc_getcpu(unsigned* cpu, unsigned* node, void*) {
    tracer::BusyGuard busy;
    return as_vdso_result(g_libc.getcpu(cpu, node));
}
int libc_clock_getres(clockid_t id, timespec* ts) {
    tracer::BusyGuard busy;
    return int(as_vdso_result(g_libc.clock_getres(id, ts)));
}

int g_route_warned;

template <class Fn>
Fn route(uint8_t how, Fn vdso_or_fallback, Fn syscall_entry, Fn libc_entry, bool libc_ready) {
    if (how == format::kRouteSyscall) return syscall_entry;
    if (how == format::kRouteLibc && libc_ready) return libc_entry;
    return vdso_or_fallback;
}

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
    // The engine's own timestamps read the vDSO too, whatever the route (segment_create.h).
    if (s.clock_gettime) tracer::set_engine_clock(e.clock_gettime);
    e.gettimeofday = pick(img, n.gettimeofday, &sys_gettimeofday, &s.gettimeofday);
#ifdef SYS_time
    e.time = pick(img, n.time, &sys_time, &s.time);
#else
    e.time = pick(img, n.time, &time_from_clock, &s.time);
#endif
    e.getcpu = pick(img, n.getcpu, &sys_getcpu, &s.getcpu);
    e.clock_getres = pick(img, n.clock_getres, &sys_clock_getres, &s.clock_getres);
    (void)&time_from_clock;

    // VDSOTRACE_ROUTE sends chosen functions to the raw syscall or to libc instead.
    uint8_t routes[format::kFunctionCount] = {};
    char problem[256];
    if (!parse_route_spec(getenv("VDSOTRACE_ROUTE"), routes, problem, sizeof problem) &&
        __atomic_exchange_n(&g_route_warned, 1, __ATOMIC_RELAXED) == 0) {
        ssize_t ignored = write(STDERR_FILENO, problem, strlen(problem));
        (void)ignored;
    }
    e.clock_gettime = route(routes[format::kClockGettime], e.clock_gettime, &sys_clock_gettime, &libc_clock_gettime,
                            g_libc.clock_gettime != nullptr);
    e.gettimeofday = route(routes[format::kGettimeofday], e.gettimeofday, &sys_gettimeofday, &libc_gettimeofday,
                           g_libc.gettimeofday != nullptr);
#ifdef SYS_time
    e.time = route(routes[format::kTime], e.time, &sys_time, &libc_time, g_libc.time != nullptr);
#else
    e.time = route(routes[format::kTime], e.time, &time_from_clock, &libc_time, g_libc.time != nullptr);
#endif
    e.getcpu = route(routes[format::kGetcpu], e.getcpu, &sys_getcpu, &libc_getcpu, g_libc.getcpu != nullptr);
    e.clock_getres = route(routes[format::kClockGetres], e.clock_getres, &sys_clock_getres, &libc_clock_getres,
                           g_libc.clock_getres != nullptr);
    uint8_t from_vdso[format::kFunctionCount] = {};
    from_vdso[format::kClockGettime] = s.clock_gettime;
    from_vdso[format::kGettimeofday] = s.gettimeofday;
    from_vdso[format::kTime] = s.time;
    from_vdso[format::kGetcpu] = s.getcpu;
    from_vdso[format::kClockGetres] = s.clock_getres;
    tracer::note_clock_routes(routes, from_vdso);
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

void resolve_libc_entries() {
    // Only when a route asks for libc: dlopen and dlsym cost start-up time in every process.
    const char* spec = getenv("VDSOTRACE_ROUTE");
    if (spec == nullptr || strstr(spec, "libc") == nullptr) return;
    // RTLD_NOLOAD: libc is loaded already; this only finds its handle. dlsym on that handle finds
    // libc's own definitions, not ours.
    void* libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    if (libc == nullptr) return;
    g_libc.clock_gettime = reinterpret_cast<decltype(g_libc.clock_gettime)>(dlsym(libc, "clock_gettime"));
    g_libc.gettimeofday = reinterpret_cast<decltype(g_libc.gettimeofday)>(dlsym(libc, "gettimeofday"));
    g_libc.time = reinterpret_cast<decltype(g_libc.time)>(dlsym(libc, "time"));
    g_libc.getcpu = reinterpret_cast<decltype(g_libc.getcpu)>(dlsym(libc, "getcpu"));
    g_libc.clock_getres = reinterpret_cast<decltype(g_libc.clock_getres)>(dlsym(libc, "clock_getres"));
    dlclose(libc);  // drops the reference NOLOAD took; libc stays
    resolve_entries();  // again, now with libc's entries
}

EntrySources entry_sources() {
    if (__atomic_load_n(&g_resolved, __ATOMIC_ACQUIRE) == 0) resolve_entries();
    return g_sources;
}

}  // namespace vdsotrace::shim
