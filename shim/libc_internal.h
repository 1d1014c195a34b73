// The calls glibc makes to the vDSO from inside itself: timespec_get, clock(), ntp_gettime and
// the like call clock_gettime through hidden internal aliases that never pass the PLT, so
// interposing symbols cannot see them. Those aliases call the vDSO through function pointers the
// dynamic loader filled in its read-only-after-relocation `_rtld_global_ro` before any
// constructor ran. The shim finds those pointers by value (the words of that object equal to a
// vDSO entry address: no offset depends on glibc's version) and points them at counting entries
// that call the original vDSO function with its own convention (-errno, no errno).
//
// Such a call's return address lies in libc; the caller recorded is the first return address
// outside libc, found by stepping through libc's frames with its call-frame information
// (tracer/unwind/eh_frame_rules.h), so `clock()` in main() is counted as a clock_gettime call from main.
#pragma once

#include "shim/attach_abi.h"

namespace vdsotrace::shim {

// Constructor (and attach) only: dlopen(RTLD_NOLOAD), dlsym, /proc/self/maps, mprotect. Must run
// before the vDSO's own symbol table is redirected (vdso_redirect.h): the values are compared
// with the vDSO's symbols. Says once on stderr when the pointers cannot be found or written.
// Returns how many pointers now lead to the shim.
int redirect_libc_internal_pointers();

// Only finds the pointers (the first half of the above), for attach, which switches them itself
// while the program is stopped. Returns how many there are.
int find_libc_internal_pointers();
// The pointers found, their values and the shim's entry for each, for the injector.
void describe_libc_internal_pointers(attach::AttachBlock* block);

// Puts every pointer back as it was (attach: the end of the counting window).
void restore_libc_internal_pointers();

}  // namespace vdsotrace::shim
