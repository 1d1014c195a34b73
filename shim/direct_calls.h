// The functions the vDSO's own symbol table is redirected to (vdso_redirect.cpp), for programs
// that look the vDSO up themselves instead of calling libc: Go's runtime above all.
//
// Each entry counts the call and then jumps to the real vDSO function with the caller's
// registers and stack as they were, so the vDSO runs exactly as it would have and returns
// straight to its caller. They are written for the stacks Go calls the vDSO on (g0, a signal
// stack): 24 bytes of saved arguments and the counting code's own few bytes, no stack sample.
#pragma once

#include <cstdint>

#include "tracer/common/go_callers.h"
#include "tracer/format/segment_format.h"

extern "C" {
// The real vDSO entries, by format::Function; filled before the symbol table is redirected.
extern uintptr_t vdsotrace_direct_targets[vdsotrace::format::kCountedFunctions];
// Entry points, with the vDSO's calling convention (return -errno on failure).
void vdsotrace_direct_clock_gettime();
void vdsotrace_direct_gettimeofday();
void vdsotrace_direct_time();
void vdsotrace_direct_getcpu();
void vdsotrace_direct_clock_getres();
void vdsotrace_direct_getrandom();  // five arguments: (buffer, length, flags, state, state size)
}

namespace vdsotrace::shim {

// The Go program's time plumbing, to attribute calls past it (filled in the constructor).
extern tracer::go::Plumbing g_go_plumbing;

// The entry point for a function, by format::Function.
uintptr_t direct_entry(unsigned function);

}  // namespace vdsotrace::shim
