// Calls made through clock wrappers: which return addresses are call sites inside a wrapper, how
// to step out of each wrapper frame, and the segment's table of wrapper sites (format::
// WrapperSiteEntry).
//
// Every decision is made once per return address, on the slow path, and kept in a process-wide
// table (lock-free: claimed with a compare-and-swap, published with a release store). Stepping
// out of a wrapper is then, per frame, one lookup in that table and a load from the stack at an
// offset the unwind tables gave: CFA = SP (or FP) + offset, the return address just below it.
#pragma once

#include <cstdint>

#include "tracer/engine/segment_create.h"

namespace vdsotrace::tracer::wrappers {

// The calling frame as the interposed function found it at its entry.
struct CallFrame {
    uintptr_t cfa;  // the caller's stack pointer at its call (the interposed function's CFA); 0: unknown
    uintptr_t fp;   // the caller's frame pointer register
};

// True when the code at return address `ret` is a call site inside a recognised clock wrapper
// that can be stepped out of. Slow path (the first time per address in the process).
bool is_wrapper_site(uintptr_t ret);

// From the wrapper call site `ret` (whose frame is `frame`), the first return address outside the
// chain of wrappers, or 0 when it cannot be found safely (every stack read stays within
// [frame.cfa, stack_end)). `*via`: 1 + the site's index in the segment's wrapper-site table, or 0
// when the table is full or the segment has none. `*python`: the site is inside a CPython
// runtime, whose caller is a Python frame (tracer/python/), not a C one (then 0 is returned).
uintptr_t step_out(uintptr_t ret, CallFrame frame, uintptr_t stack_end, unsigned* via, bool* python);

// The segment wrapper sites are registered in (recorder.cpp, after creating it).
void bind_segment(Segment* seg);

// In a forked child: forget the parent's segment indices (decisions about code stay valid, but
// the child starts its own recording).
void forget_sites_after_fork();

// A library at [start, end) was unloaded (dlclose): forget the decisions about its call sites, which
// another library loaded at the same addresses must not inherit. Cold.
void forget_decisions_in(uintptr_t start, uintptr_t end);

// Reads VDSOTRACE_WRAPPERS now (start-up), so later decisions never race with reading it.
void load_user_wrappers();

}  // namespace vdsotrace::tracer::wrappers
