// One unwinding step through a frame of a loaded library, from its .eh_frame: where the caller's
// return address lies, for a return address inside that library and the stack pointer it will
// have when control returns there.
//
// Used to name the code that called into libc when libc calls the vDSO itself (timespec_get,
// clock(), ...: libc_internal.h): libc keeps no frame pointers, but every function of it has
// call-frame information. Only what such frames use is understood: a CFA that is the stack
// pointer plus an offset. Anything else (a CFA kept in %rbp, an expression) is "unknown", and
// the walk stops there. Allocation-free, lock-free, no system call: safe on any call, from a
// signal handler too.
#pragma once

#include <cstdint>

namespace vdsotrace::shim {

// The offset from the stack pointer at `return_address` (once returned to) to the frame's CFA,
// found through the module's PT_GNU_EH_FRAME section (`eh_frame_hdr`, from _dl_find_object).
// The caller's return address is then at sp + offset - 8 (x86_64). -1 when unknown.
long cfa_offset_at(const void* eh_frame_hdr, uintptr_t return_address);

}  // namespace vdsotrace::shim
