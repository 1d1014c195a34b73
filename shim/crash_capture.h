// Crash capture: SIGSEGV and SIGBUS handlers that write a crash record into the segment when a
// fault's program counter lies inside the vDSO or inside the shim (a caller's stack too small for
// the vDSO, as in golang/go#20427), then let the program die exactly as it would have without
// the shim: same signal, same core dump.
//
// Handlers the program had when the shim started are chained to. A program that installs its own
// handler later replaces ours (its own faults are its business, and it keeps full control); crashes
// in the vDSO are then not recorded. VDSOTRACE_CRASH=0 turns the capture off.
#pragma once

namespace vdsotrace::shim {

// Installs the handlers and the main thread's alternate signal stack. Called from the constructor.
void install_crash_capture();

}  // namespace vdsotrace::shim
