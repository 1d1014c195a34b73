// All per-thread state of the shim, in one initial-exec TLS struct.
//
// initial-exec because dynamic TLS (__tls_get_addr) may call malloc on a thread's first access,
// which would deadlock or recurse under other allocators (see ../shared/notes/vdso-facts.md).
// The struct is zero-initialised in every new thread, so "all zero" must mean "nothing yet".
#pragma once

#include <cstddef>
#include <cstdint>

#include "tracer/format/segment_format.h"
#include "tracer/unwind/fast_unwind.h"

namespace vdsotrace::tracer {

struct ThreadState {
    // The one field the hot path reads: this thread's private slot while it may count there
    // plainly. Null before the first call, while busy, and for threads in the shared slot; every
    // such case takes the slow path.
    unsigned char* fast_slot;
    format::CallerEntry* last_entry;  // the caller entry this thread counted into last, or null
    // The two caller entries the redirected-vDSO path (record_unsampled) used last: Go's time.Now
    // alternates a CLOCK_REALTIME and a CLOCK_MONOTONIC call, which one entry cannot hold.
    format::CallerEntry* direct_entries[2];
    unsigned char* slot;  // this thread's slot (private or shared); null until its first call
    uint32_t busy;        // re-entry guard: >0 while the shim does its own work (its clock reads
                          // and those of libc calls it makes are not the program's, never counted)
    uint32_t shared;      // 1 when `slot` is the shared overflow slot (atomic updates needed)
    uint32_t in_init;     // 1 while this thread creates the segment (see recorder.cpp)
    // The unload generation (unload_log.h) this thread's caller entries are up to date with: a call
    // made while it differs from RecorderState::module_generation takes the slow path, which
    // retires this thread's entries at the addresses of libraries unloaded since.
    uint32_t module_generation;
    // Stack sampling (tracer/sampler.h); unused while sampling is off.
    unsigned char* sample_slot;  // this thread's sample slot, same index as `slot`
    // Calls left until the next sample. Every counted call decrements it, on the fast path too
    // (one `sub` on TLS); only reaching zero or below calls the sampler. Without sampling the
    // sampler sets it to INT32_MAX on a thread's first call and is asked again 2^31 calls later.
    int32_t sample_countdown;
    uint32_t in_sample;          // 1 while this thread takes a stack (a signal handler's calls are
                                 // counted but not sampled then)
    // The stack this thread's last sample interned (its id in the stack table + 1; 0: none): a loop
    // samples the same stack again and again, and comparing its frames with that entry's skips
    // hashing and probing the table. Only a hint: the entry's frames are compared every time.
    uint32_t last_stack;
    uintptr_t stack_top;         // frame-pointer walks stay below this (0: unknown)
    uintptr_t stack_low;    // lowest usable byte of this thread's stack (0: unknown), for the
                            // headroom watch; set when the thread claims its slot
    void* alt_stack;        // the alternate signal stack the shim gave this thread (alt_stack.h)
    unsigned long alt_stack_size;
    int32_t tid;                 // this thread's id, kept for the sampler (no syscall per sample)
    uint32_t exit_rounds;        // thread-key destructor rounds the shim's exit handler let pass
    // 1 while a vfork child runs on this thread's TLS (the shim's vfork sets it in the child and
    // clears it in the parent, which resumes once the child has exec'd or exited).
    uint32_t vfork_child;
    // Calls through clock wrappers (tracer/wrappers/): the caller key of the wrapper call site this
    // thread called through last (0: none), the entry that call was counted in, and the end of the
    // mapping that holds this thread's stack (0: not looked up yet; 1: unknown), which bounds every
    // stack read made to step out of a wrapper.
    uint64_t wrap_key;
    format::CallerEntry* wrap_entry;
    uintptr_t wrap_stack_end;
    // Calls from CPython (tracer/python/), decided once and kept for the next call: the
    // interpreter's C call site this thread called through last and its via (0: none), and the
    // Python site found last: code object (0: none, written last), instruction, the code object's
    // name objects (another code object allocated at a freed one's address has others), site tag.
    uint64_t py_c_site;
    uint32_t py_c_via;
    uintptr_t py_code;
    uintptr_t py_instr;
    uintptr_t py_names;
    uint64_t py_site;
    // The name this thread gave itself through the shim's pthread_setname_np or prctl(PR_SET_NAME)
    // (empty: none seen; thread_identity.h), kept until and after it claims its slot.
    char name[16];
    // Sampling's walk state, last: the fields above that the hot path reads stay within the
    // struct's first 128 bytes (these 96 bytes in the middle pushed stack_low out of them).
    unwind::WalkHint walk_hint[unwind::kWalkHints];  // what this thread's last stack walk looked up first (fast_unwind.h)
    // The sample stack this thread owns (sample_stack.h: its index + 1; 0: none), claimed at its
    // first sampled call and given back at its exit: its samples switch to it without a claim.
    uint32_t own_sample_stack;
};

extern __thread ThreadState t_thread __attribute__((tls_model("initial-exec")));

// RAII re-entry guard for the shim's own work (start-up, shutdown, slow paths): clears the fast
// slot so calls made meanwhile take the slow path, which sees `busy` and does not count them.
class BusyGuard {
public:
    BusyGuard() {
        ++t_thread.busy;
        t_thread.fast_slot = nullptr;
    }
    ~BusyGuard() {
        if (--t_thread.busy == 0 && !t_thread.shared) t_thread.fast_slot = t_thread.slot;
    }
    BusyGuard(const BusyGuard&) = delete;
    BusyGuard& operator=(const BusyGuard&) = delete;
};

}  // namespace vdsotrace::tracer
