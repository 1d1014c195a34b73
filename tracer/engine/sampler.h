// Stack sampling: one call in N per thread also records the stack that led to it (VDSOTRACE_SAMPLE).
//
// Off by default, and then nothing here runs. When on, calls keep the fast path of recorder.h,
// which decrements a per-thread countdown; the N-th call calls in here and takes a stack.
// Stacks come from the unwind tables (tracer/unwind/fast_unwind.h, the default), which hand the frames
// they cannot step through to libunwind's unw_backtrace; from libunwind alone
// (VDSOTRACE_UNWIND=libunwind, the reference); or from a frame-pointer walk bounded by the
// thread's stack (VDSOTRACE_UNWIND=fp). libunwind is loaded with dlopen(RTLD_LOCAL) by the shim's
// constructor only when sampling is on (linked normally, its _Unwind_* exports would take over the
// program's C++ exception handling, and loading it costs ~0.5 ms of start-up). Calls due for a sample
// before the constructor ran are counted, not sampled, and the report says how many.
#pragma once

#include <time.h>

#include <cstdint>

#include "tracer/engine/segment_create.h"
#include "tracer/engine/thread_state.h"
#include "tracer/wrappers/wrapper_sites.h"

namespace vdsotrace::tracer {

// Called once by the shim's constructor: reads the sampling settings and, when sampling is on,
// loads the unwinder. `clock` reads CLOCK_MONOTONIC for the samples' timestamps without going
// through the interposed functions. Returns false (and says why in `problem`) when sampling was
// asked for but no unwinder could be loaded.
bool sampler_start(int (*clock)(clockid_t, timespec*), char* problem, unsigned long problem_size);

// Hands a newly claimed thread slot its sample slot (index `index`, or the shared one).
void sampler_bind_thread(ThreadState& t, const Segment& seg, uint64_t index, bool shared, uint32_t period);

// The thread is exiting: gives back what sampler_bind_thread gave it for itself alone (its own
// sample stack). Its later calls may still be sampled (into the shared slot).
void sampler_release_thread(ThreadState& t);

// Called when this thread's sample countdown reached zero: re-arms it and takes the sample.
// `frame`: the caller's frame at the call (cfa 0: unknown; the walk then starts here). Returns the
// CLOCK_MONOTONIC_COARSE time (ns) the sample's ring entry took, or 0 when none was written.
uint64_t sampler_on_call(ThreadState& t, const Segment& seg, unsigned counter, uintptr_t caller,
                     wrappers::CallFrame frame);

// Whether an unwinder is loaded (for the segment header).
bool sampler_ready();

}  // namespace vdsotrace::tracer
