#include "vdso_entry.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "vdso_image.h"

namespace vdsotrace::shim {

Entries g_entries;
int g_entries_ready;

namespace {

EntrySources g_sources;

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
    // Racing threads store identical values; the release store publishes them.
    g_entries = e;
    g_sources = s;
    __atomic_store_n(&g_entries_ready, 1, __ATOMIC_RELEASE);
    errno = saved_errno;
}

EntrySources entry_sources() {
    entries();
    return g_sources;
}

}  // namespace vdsotrace::shim
