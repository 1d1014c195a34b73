// The interposed functions: the only symbols libvdsotrace.so exports (see libvdsotrace.map).
// Each one calls the vDSO entry the shim resolved, converts the result exactly as libc does, and
// counts the call by function, clock id, thread and caller (its return address).
#include <sched.h>
#include <sys/time.h>
#include <time.h>

#include <cerrno>
#include <cstdint>

#include "tracer/engine/recorder.h"
#include "tracer/format/segment_format.h"
#include "shim/vdso_entry.h"

using vdsotrace::format::clock_bucket;
using vdsotrace::format::counter_index;
namespace fmt = vdsotrace::format;
namespace shim = vdsotrace::shim;
namespace tracer = vdsotrace::tracer;

#define VDSOTRACE_EXPORT extern "C" __attribute__((visibility("default")))
#define CALLER reinterpret_cast<uintptr_t>(__builtin_return_address(0))

// The caller's frame, for stepping out of clock wrappers (tracer/wrappers/): its stack pointer at
// the call (this function's CFA) and its frame pointer, which these functions never touch
// (-ffixed-rbp, shim/meson.build). Both cost a register move, used only on a wrapper's path.
__attribute__((always_inline)) static inline vdsotrace::tracer::wrappers::CallFrame caller_frame() {
#if defined(__x86_64__)
    uintptr_t fp;
    asm("mov %%rbp, %0" : "=r"(fp));
    return {reinterpret_cast<uintptr_t>(__builtin_dwarf_cfa()), fp};
#else
    return {};  // stepping out of wrappers is x86_64 only: calls count at the wrapper's call site
#endif
}
#define FRAME caller_frame()

VDSOTRACE_EXPORT int clock_gettime(clockid_t id, struct timespec* ts) noexcept {
    int r = shim::to_libc(VDSOTRACE_ENTRY(clock_gettime)(id, ts));
    tracer::record(counter_index(fmt::kClockGettime, clock_bucket(id)), CALLER, FRAME);
    return r;
}

VDSOTRACE_EXPORT int gettimeofday(struct timeval* __restrict tv, void* __restrict tz) noexcept {
    int r = shim::to_libc(VDSOTRACE_ENTRY(gettimeofday)(tv, tz));
    tracer::record(counter_index(fmt::kGettimeofday, 0), CALLER, FRAME);
    return r;
}

VDSOTRACE_EXPORT time_t time(time_t* t) noexcept {
    // Like libc's time(): the vDSO's value as it is, no errno. Counted first so the vDSO call is
    // a tail jump: libc's own time() is the bare vDSO function, so every instruction shows.
    tracer::record(counter_index(fmt::kTime, 0), CALLER, FRAME);
    return VDSOTRACE_ENTRY(time)(t);
}

VDSOTRACE_EXPORT int getcpu(unsigned* cpu, unsigned* node) noexcept {
    int r = shim::to_libc(VDSOTRACE_ENTRY(getcpu)(cpu, node, nullptr));
    tracer::record(counter_index(fmt::kGetcpu, 0), CALLER, FRAME);
    return r;
}

VDSOTRACE_EXPORT int clock_getres(clockid_t id, struct timespec* res) noexcept {
    int r = shim::to_libc(VDSOTRACE_ENTRY(clock_getres)(id, res));
    tracer::record(counter_index(fmt::kClockGetres, clock_bucket(id)), CALLER, FRAME);
    return r;
}
