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

// Everything but record_fast()'s common case, out of line and called in tail position, so that
// the interposed functions keep no value in a callee-saved register on their fast path (inlined,
// record()'s slow paths made every call push and pop five): a call record_fast() did not count
// is counted here, a due sample taken, an error result turned into -1 and errno. `r`: the vDSO's
// result. Not cold: a loop that alternates two call sites comes here on every call.
// What record_fast() left to do: count a call it did not (kFastMissed), or take the sample it
// found due (kFastSampleDue).
__attribute__((always_inline)) static inline void finish_count(int fast, unsigned counter, uintptr_t caller,
                                                               uintptr_t cfa, uintptr_t fp) {
    const tracer::wrappers::CallFrame frame{cfa, fp};
    if (fast == tracer::kFastMissed)
        tracer::record(counter, caller, frame);
    else if (fast == tracer::kFastSampleDue)
        tracer::sampler_on_countdown(counter, caller, frame);
}

__attribute__((noinline)) static int finish_call(int fast, long r, unsigned counter, uintptr_t caller, uintptr_t cfa,
                                                 uintptr_t fp) {
    finish_count(fast, counter, caller, cfa, fp);
    return shim::to_libc(r);
}

// Counts the call and returns the vDSO's result `r` as libc gives it: record_fast(), or
// finish_call() for anything else. A macro: CALLER and FRAME are the interposed function's.
#define COUNT_AND_RETURN(counter, r)                                                              \
    do {                                                                                          \
        const int fast = tracer::record_fast(counter, CALLER);                                    \
        if (__builtin_expect(fast != tracer::kFastCounted || static_cast<unsigned long>(r) > -4096UL, 0)) { \
            const tracer::wrappers::CallFrame frame = FRAME;                                      \
            return finish_call(fast, r, counter, CALLER, frame.cfa, frame.fp);                    \
        }                                                                                         \
        return int(r);                                                                            \
    } while (0)

VDSOTRACE_EXPORT int clock_gettime(clockid_t id, struct timespec* ts) noexcept {
    const unsigned counter = counter_index(fmt::kClockGettime, clock_bucket(id));
    const long r = VDSOTRACE_ENTRY(clock_gettime)(id, ts);
    COUNT_AND_RETURN(counter, r);
}

VDSOTRACE_EXPORT int gettimeofday(struct timeval* __restrict tv, void* __restrict tz) noexcept {
    const long r = VDSOTRACE_ENTRY(gettimeofday)(tv, tz);
    COUNT_AND_RETURN(counter_index(fmt::kGettimeofday, 0), r);
}

// time()'s slow path: counted first, then the vDSO call (see time()).
__attribute__((noinline)) static time_t time_after_miss(int fast, time_t* t, uintptr_t caller, uintptr_t cfa,
                                                        uintptr_t fp) {
    finish_count(fast, counter_index(fmt::kTime, 0), caller, cfa, fp);
    return VDSOTRACE_ENTRY(time)(t);
}

VDSOTRACE_EXPORT time_t time(time_t* t) noexcept {
    // Like libc's time(): the vDSO's value as it is, no errno. Counted first so the vDSO call is
    // a tail jump: libc's own time() is the bare vDSO function, so every instruction shows.
    const int fast = tracer::record_fast(counter_index(fmt::kTime, 0), CALLER);
    if (__builtin_expect(fast != tracer::kFastCounted, 0)) {
        const tracer::wrappers::CallFrame frame = FRAME;
        return time_after_miss(fast, t, CALLER, frame.cfa, frame.fp);
    }
    return VDSOTRACE_ENTRY(time)(t);
}

VDSOTRACE_EXPORT int getcpu(unsigned* cpu, unsigned* node) noexcept {
    const long r = VDSOTRACE_ENTRY(getcpu)(cpu, node, nullptr);
    COUNT_AND_RETURN(counter_index(fmt::kGetcpu, 0), r);
}

VDSOTRACE_EXPORT int clock_getres(clockid_t id, struct timespec* res) noexcept {
    const unsigned counter = counter_index(fmt::kClockGetres, clock_bucket(id));
    const long r = VDSOTRACE_ENTRY(clock_getres)(id, res);
    COUNT_AND_RETURN(counter, r);
}
