// The recording engine's hot path: count one call into this thread's slot of the segment.
//
// Rules (DEVELOPERS.md "Hot path rules"): no allocation, no lock, no syscall, no locked
// instruction on a shared line. A thread slot has a single writer (its thread), so counters are
// bumped with a plain `inc` on memory: one instruction, hence atomic with respect to a signal
// handler that interrupts this thread and counts too, yet without the `lock` prefix whose cost
// shows right before the next rdtscp. Caller entries are claimed with a non-locked cmpxchg for
// the same reason. Only the shared overflow slot (threads beyond capacity) uses locked atomics.
#pragma once

#include <cstdint>

#include "tracer/format/caller_table.h"
#include "tracer/format/segment_format.h"
#include "tracer/engine/thread_state.h"
#include "tracer/wrappers/wrapper_sites.h"

namespace vdsotrace::tracer {

// Process-wide recording state, filled once by the slow path. Read on every call.
struct RecorderState {
    uint32_t caller_mask;  // caller_capacity - 1
    uint32_t sample_period;  // VDSOTRACE_SAMPLE (0: off); read on slow paths only
    // Raised after a dlclose unloaded a module of the table (unload_log.h); read on every call and
    // compared with ThreadState::module_generation. Written only by dlclose, so the line stays shared.
    uint32_t module_generation;
};

extern RecorderState g_recorder;

// Whether this thread's caller entries may still hold a library unloaded since (one load, one
// compare): such a call takes the slow path.
__attribute__((always_inline)) inline bool modules_changed(const ThreadState& t) {
    return __builtin_expect(t.module_generation != __atomic_load_n(&g_recorder.module_generation, __ATOMIC_ACQUIRE), 0);
}

// Slow path of record(): everything but "this thread has a private slot and is not busy".
// Creates the segment if needed, hands this thread a slot, counts into the shared overflow slot,
// or drops the shim's own calls (busy). A call made while this thread creates the segment (from
// its signal handler) is counted aside and folded in later.
// `may_sample` false: never take a stack sample for this call (see record_unsampled).
// `frame`: the caller's frame, for stepping out of clock wrappers (cfa 0: unknown, no stepping).
void record_slow(unsigned counter, uintptr_t caller, bool may_sample = true, wrappers::CallFrame frame = {});

// A counted call brought this thread's sample countdown to zero (ThreadState::sample_countdown):
// takes a stack sample when sampling is on, re-arms the countdown either way. Cold. `frame`: the
// caller's, where the stack walk starts (cfa 0: unknown, the walk starts in the sampler).
__attribute__((noinline, cold)) void sampler_on_countdown(unsigned counter, uintptr_t caller,
                                                          wrappers::CallFrame frame);

// Calls of a thread between two stamps of the segment's last activity (Header::
// last_activity_monotonic_ns) when sampling is off: sampler_on_countdown stamps it.
inline constexpr int32_t kActivityStampCalls = 65536;

// Stamps the segment's last activity with the monotonic clock, now (a vDSO read and, at most once a
// millisecond, a plain store). Slow paths only; async-signal-safe. `coarse_now`: CLOCK_MONOTONIC_COARSE
// read just now by the caller (a sample's ring entry), or 0: read here.
void stamp_activity(uint64_t coarse_now = 0);

// The crash record of this process's segment, creating the segment if there is none yet (a
// program may crash in the vDSO before it ever called through the shim). Null when nothing can
// be recorded. Called from the crash handler.
format::CrashRecord* crash_record_for_write();

// Adds the module holding `address` to the module table (when there is a segment).
void ensure_caller_module(uintptr_t address);

// Creates this process's segment now if there is none (and gives this thread its slot), for a
// recording that must exist even if no call is ever counted. Slow path: start-up only.
format::Header* ensure_segment();

// Before clone(CLONE_VM) without CLONE_SETTLS (and without CLONE_VFORK, whose parent waits): the
// child will run on this thread's TLS in the same memory, so both would bump this thread's slot
// with plain increments and lose counts. Claims the slot now if needed and switches this thread
// to counting with atomics on the slow path, for the rest of its life. Slow path, syscalls allowed.
void share_thread_state_with_clone();

// The calling thread named itself (the shim's pthread_setname_np / prctl(PR_SET_NAME)); and
// another thread, by its kernel id, was named. Cold; no system call.
void note_own_thread_name(const char* name);
void rename_thread_slot(int32_t tid, const char* name);

// After a successful dlclose: modules of the table no longer loaded are marked unloaded and logged
// (unload_log.h), and the generation is raised; the calls counted in them move to the
// retired-callers table (format::RetiredCallerEntry), so a library loaded later at the same
// addresses is not credited with them. The shared and exited-threads slots (updated with atomics)
// are retired here; each thread's own slot by that thread, at its next call (record_slow), at its
// exit, or at the process's end. Cold; no system call.
void forget_unloaded_modules();

// The program is about to install a sandbox (prctl PR_SET_NO_NEW_PRIVS or PR_SET_SECCOMP): after
// it, the system calls that create the recording may be refused, or kill the process. Creates the
// recording now, and this thread's slot, if there is none yet, so that the first clock call needs
// no system call (other threads' first calls make none), and backs the recording's whole layout
// (segment_growth.h) so that it never grows after the filter. Slow path, system calls allowed.
void prepare_for_sandbox();

// True once prepare_for_sandbox ran: optional system calls (the reaped-child scan) are skipped.
bool sandbox_announced();

// The segment's header, or null while there is none.
format::Header* segment_header();

// Module bookkeeping for a newly seen caller address (cold: once per call site and thread).
void note_caller_address(uintptr_t address);

namespace detail {

#if defined(__x86_64__)
inline void bump_local(uint64_t* p) { asm volatile("incq %0" : "+m"(*p)); }
// Non-locked compare-and-swap: atomic with respect to this thread's signal handlers.
inline uint64_t cas_local(uint64_t* p, uint64_t expected, uint64_t desired) {
    asm volatile("cmpxchgq %2, %1" : "+a"(expected), "+m"(*p) : "r"(desired) : "cc");
    return expected;  // the previous value
}
#else
// Elsewhere a relaxed atomic on a line no other thread writes: uncontended, still exact.
inline void bump_local(uint64_t* p) { __atomic_fetch_add(p, 1, __ATOMIC_RELAXED); }
inline uint64_t cas_local(uint64_t* p, uint64_t expected, uint64_t desired) {
    __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return expected;
}
#endif
inline void bump_shared(uint64_t* p) { __atomic_fetch_add(p, 1, __ATOMIC_RELAXED); }
inline uint64_t cas_shared(uint64_t* p, uint64_t expected, uint64_t desired) {
    __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return expected;
}
// The claim a caller-table walk (format::find_caller_entry) makes in a private or the shared slot.
// A function object, not a function pointer: it is inlined into the walk for certain.
template <bool kShared>
struct Cas {
    __attribute__((always_inline)) uint64_t operator()(uint64_t* p, uint64_t expected, uint64_t desired) const {
        return kShared ? cas_shared(p, expected, desired) : cas_local(p, expected, desired);
    }
};

// A call whose return address is a call site inside a clock wrapper (recorder.cpp): counted per
// (first call site outside the wrapper chain, wrapper site). Out of line: only such calls pay.
template <bool kShared>
void count_through_wrapper(unsigned char* slot, unsigned counter, uintptr_t site, wrappers::CallFrame frame);

// Whether a call site newly seen by this thread lies inside a clock wrapper (cold: once per
// thread and site; the decision itself is made once per process).
bool wrapper_site_for_table(uintptr_t caller);

template <bool kShared>
__attribute__((always_inline)) inline void count_into(unsigned char* slot, unsigned counter, uintptr_t caller,
                                                      wrappers::CallFrame frame = {}) {
    auto* callers = reinterpret_cast<format::CallerEntry*>(slot + format::kSlotCallersOffset);

    const uint64_t key = format::caller_key(counter, caller);
    if (!kShared) {
        // Hot loops call from one site: the entry this thread used last is checked first. Its
        // key never changes once set, so a signal handler replacing the pointer meanwhile is
        // harmless. Measured: time() +2.0 ns instead of +3.2 ns over native, getcpu() +0.
        format::CallerEntry* last = t_thread.last_entry;
        if (__builtin_expect(last != nullptr && __atomic_load_n(&last->key, __ATOMIC_RELAXED) == key, 1)) {
            bump_local(&last->count);
            return;
        }
        // The wrapper site this thread called through last (counting it never moves last_entry).
        if (t_thread.wrap_key == key) {
            count_through_wrapper<false>(slot, counter, caller, frame);
            return;
        }
    }
    // In a thread's table a wrapper call site holds a mark (its key with via kViaWrapperMark)
    // instead of a count, so the decision is looked up once per thread and site.
    const uint64_t mark = format::caller_key(counter, caller, format::kViaWrapperMark);
    // format::find_caller_entry's walk, written out: through the routine GCC 12 keeps one more
    // value on the stack of every interposed call (16 bytes more frame, a store), so the hot path
    // keeps its own loop over the format's start (caller_first_probe) and limit (kCallerMaxProbes).
    uint32_t i = format::caller_first_probe(counter, caller, g_recorder.caller_mask);
    for (unsigned probe = 0; probe < format::kCallerMaxProbes; ++probe, i = (i + 1) & g_recorder.caller_mask) {
        format::CallerEntry& e = callers[i];
        uint64_t seen = __atomic_load_n(&e.key, __ATOMIC_RELAXED);
        if (seen == 0) {
            const uint64_t claim = frame.cfa != 0 && wrapper_site_for_table(caller) ? mark : key;
            seen = kShared ? cas_shared(&e.key, 0, claim) : cas_local(&e.key, 0, claim);
            if (seen == 0) {
                note_caller_address(caller);
                seen = claim;
            }
        }
        if (seen == key) {
            if (!kShared) t_thread.last_entry = &e;
            kShared ? bump_shared(&e.count) : bump_local(&e.count);
            return;
        }
        if (seen == mark) {
            count_through_wrapper<kShared>(slot, counter, caller, frame);
            return;
        }
    }
    auto* unattributed = reinterpret_cast<uint64_t*>(slot + format::slot_unattributed_offset(counter));
    kShared ? bump_shared(unattributed) : bump_local(unattributed);
}

}  // namespace detail

// Notes a call made with little stack left (cold; see format::HeadroomEntry).
void note_low_headroom(unsigned counter, uintptr_t caller, uint64_t headroom);

__attribute__((always_inline)) inline uintptr_t stack_pointer() {
    uintptr_t sp;
#if defined(__x86_64__)
    asm volatile("mov %%rsp, %0" : "=r"(sp));
#elif defined(__aarch64__)
    asm volatile("mov %0, sp" : "=r"(sp));
#else
    sp = 0;  // no watch: the difference below is never small
#endif
    return sp;
}

// Counts a call towards this thread's next stack sample; true when it is due. Signed, so that a
// signal handler's call that lands between a decrement to zero and the sampler's re-arming goes
// below zero and is sampled too (every call is sampled with VDSOTRACE_SAMPLE=1).
// On x86_64 one `subl` on memory: a signal handler cannot land between its load and its store.
__attribute__((always_inline)) inline bool sample_due() {
#if defined(__x86_64__)
    bool due;
    asm volatile("subl $1, %0" : "+m"(t_thread.sample_countdown), "=@ccle"(due));
    return due;
#else
    return --t_thread.sample_countdown <= 0;
#endif
}

// What record_fast() did with a call.
enum FastRecord : int {
    kFastCounted = 0,    // counted; nothing more to do
    kFastMissed = 1,     // not counted: record() must count it (first call, busy, another call site, ...)
    kFastSampleDue = 2,  // counted, and this thread's sample countdown ran out: sampler_on_countdown
};

// record()'s common case alone, without a single call in it: a thread that may count plainly,
// calling from the site it called from last. The interposed functions hand every other case to
// an out-of-line function (shim/interpose.cpp) so that this path needs no callee-saved register
// (each one a push and a pop on every call; the inlined slow paths needed five).
__attribute__((always_inline)) inline int record_fast(unsigned counter, uintptr_t caller) {
    unsigned char* slot = t_thread.fast_slot;
    if (__builtin_expect(slot == nullptr, 0) || modules_changed(t_thread)) return kFastMissed;
    // record()'s headroom watch: a low one is noted there.
    if (__builtin_expect(uint64_t(stack_pointer() - t_thread.stack_low) < format::kHeadroomWatch, 0))
        return kFastMissed;
    // count_into's first check (the entry this thread used last), nothing else.
    format::CallerEntry* last = t_thread.last_entry;
    if (__builtin_expect(last == nullptr, 0) ||
        __builtin_expect(__atomic_load_n(&last->key, __ATOMIC_RELAXED) != format::caller_key(counter, caller), 0))
        return kFastMissed;
    detail::bump_local(&last->count);
    return __builtin_expect(sample_due(), 0) ? kFastSampleDue : kFastCounted;
}

// Counts one call of counter `counter` (format::counter_index) made from return address `caller`
// in the frame `frame` (wrappers::CallFrame).
__attribute__((always_inline)) inline void record(unsigned counter, uintptr_t caller, wrappers::CallFrame frame = {}) {
    unsigned char* slot = t_thread.fast_slot;
    if (__builtin_expect(slot == nullptr, 0) || modules_changed(t_thread)) {
        record_slow(counter, caller, true, frame);
        return;
    }
    // Headroom watch: one subtraction and compare. A stack pointer below stack_low (another stack)
    // wraps to a huge difference, as does an unknown stack_low (0): neither is noted.
    const uint64_t headroom = uint64_t(stack_pointer() - t_thread.stack_low);
    if (__builtin_expect(headroom < format::kHeadroomWatch, 0)) note_low_headroom(counter, caller, headroom);
    detail::count_into<false>(slot, counter, caller, frame);
    // Stack sampling costs the fast path one decrement: the sampler runs only when it hits zero.
    if (__builtin_expect(sample_due(), 0)) sampler_on_countdown(counter, caller, frame);
}

// Counts a call that reached the shim through the vDSO's redirected symbol table (Go's runtime,
// shim/direct_calls.cpp). Such calls run on whatever stack the runtime chose (g0, a signal
// stack): no stack sample is taken and no headroom is noted (that watch knows only the thread's
// own stack), so the count costs what record()'s fast path costs and a few bytes of stack.
__attribute__((always_inline)) inline void record_unsampled(unsigned counter, uintptr_t caller) {
    unsigned char* slot = t_thread.fast_slot;
    if (__builtin_expect(slot == nullptr, 0) || modules_changed(t_thread)) {
        record_slow(counter, caller, false);
        return;
    }
    // Like count_into's last-entry check, with two entries (see ThreadState::direct_entries).
    // Keys never change once set, so a signal handler replacing these pointers meanwhile is harmless.
    const uint64_t key = format::caller_key(counter, caller);
    for (format::CallerEntry* e : t_thread.direct_entries) {
        if (e != nullptr && __atomic_load_n(&e->key, __ATOMIC_RELAXED) == key) {
            detail::bump_local(&e->count);
            return;
        }
    }
    detail::count_into<false>(slot, counter, caller);
    t_thread.direct_entries[1] = t_thread.direct_entries[0];
    t_thread.direct_entries[0] = t_thread.last_entry;  // the entry count_into used (or an older one)
}

}  // namespace vdsotrace::tracer
