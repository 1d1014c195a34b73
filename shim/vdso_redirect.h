// Makes calls that bypass libc countable: rewrites the vDSO's own symbol table so that code which
// looks the vDSO up by itself (Go's runtime does, once, at start-up, after this library's
// constructor has run) finds the shim's direct entries (direct_calls.h) instead of the vDSO's.
//
// Only the symbol values change; the vDSO's code stays as the kernel made it, and libc, which
// looked its vDSO functions up before any constructor, is unaffected. VDSOTRACE_VDSO_REDIRECT:
// "auto" (the default: only for Go programs), "on" (any program), "off".
#pragma once

#include "tracer/common/vdso_image.h"

namespace vdsotrace::shim {

// Fills vdsotrace_direct_targets (direct_calls.h): where each direct entry continues, the vDSO's
// own functions (0 where it lacks one). Before any pointer leads to a direct entry.
void find_direct_targets(const vdso::Image& img);

// Constructor only, after resolve_entries(): needs mprotect, /proc/self/exe and getenv.
void redirect_vdso_symbols();

}  // namespace vdsotrace::shim
