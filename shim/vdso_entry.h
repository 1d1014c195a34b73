// Where the shim sends each interposed call: the vDSO entry points it resolved itself, or, where
// the vDSO lacks a function (or there is no vDSO, as under valgrind), the raw system call.
//
// Every entry follows the vDSO's convention: it returns -errno on failure (libc turns that into
// -1 and errno, and so do the interposed functions). Until resolution, each pointer leads to a
// small function that resolves all of them and then makes the call, so the hot path is one load
// and an indirect call, with no "ready?" test. Resolution parses the vDSO image without dlsym,
// allocation or locks, so it is safe on the very first call, from any constructor or signal
// handler; racing threads compute the same pointers and store them idempotently.
#pragma once

#include <sched.h>
#include <cerrno>
#include <sys/time.h>
#include <time.h>

namespace vdsotrace::shim {

struct Entries {
    int (*clock_gettime)(clockid_t, timespec*);
    int (*gettimeofday)(timeval*, void*);
    time_t (*time)(time_t*);
    long (*getcpu)(unsigned*, unsigned*, void*);
    int (*clock_getres)(clockid_t, timespec*);
};

// Which functions came from the vDSO (the rest are syscall fallbacks), for the report and tests.
struct EntrySources {
    bool clock_gettime, gettimeofday, time, getcpu, clock_getres;
};

extern Entries g_entries;

void resolve_entries();
// Finds libc's own implementations (for VDSOTRACE_ROUTE=...=libc). Constructor only: uses dlsym.
void resolve_libc_entries();
EntrySources entry_sources();

// The entry for one function: g_entries.clock_gettime, read as one relaxed atomic load.
#define VDSOTRACE_ENTRY(name) __atomic_load_n(&::vdsotrace::shim::g_entries.name, __ATOMIC_RELAXED)

// vDSO-style result -> libc-style result: -1 with errno for -4095..-1.
inline int to_libc(long r) {
    if (__builtin_expect(static_cast<unsigned long>(r) > -4096UL, 0)) {
        errno = int(-r);
        return -1;
    }
    return int(r);
}

}  // namespace vdsotrace::shim
