// Process-level events the shim forwards to the recording engine.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "tracer/format/segment_format.h"

namespace vdsotrace::tracer {

// In a forked child (pthread_atfork): drop the parent's segment; the child records into its own.
void after_fork_in_child();

// In the shim's constructor: note this process's pid (to tell a vfork child from it) and apply
// VDSOTRACE_FOLLOW_EXEC.
void at_process_start();

// At normal process exit (the shim's destructor): mark the recording ended, with the end time.
void at_process_end();

// In exit() (an on_exit handler): mark the recording exited with `status`'s exit code. Programs
// that leave through _exit or a signal do not come here (`vdsotrace run` records those it reaps).
void at_process_exit(int status);

// This process reaped its child `pid` (the shim's wait hooks), which ended by signal `value`
// (`signaled`) or with exit code `value`. When the child's recording (same uid, pid and parent,
// made before now) does not say how it ended, writes that status there, with this process's pid
// as Header::reaped_by. Async-signal-safe: system calls only, nothing from the heap.
void note_child_reaped(pid_t pid, bool signaled, int value);

// The shim resolved the clock functions (format::DoctorHeader): the Route of each and whether the
// vDSO provides it (1) or the syscall serves it (0), per format::Function. Copied into every
// segment created from now on. Racing threads pass identical values.
void note_clock_routes(const uint8_t (&routes)[format::kFunctionCount],
                       const uint8_t (&from_vdso)[format::kFunctionCount]);

// The shim installed its SIGSEGV/SIGBUS handlers (constructor only). `alt_stacks`: give every
// thread an alternate signal stack when it claims a slot (VDSOTRACE_CRASH=stack).
void note_crash_handlers(bool alt_stacks);

// The shim's vfork: `child` true in the child (it runs on this thread's TLS and memory), false in
// the parent once it resumes. No system call.
void note_vfork_child(bool child);

// The shim's clone: a child made with CLONE_VM and without CLONE_SETTLS runs on this thread's TLS,
// where no mark can tell the two apart: from now on exit() asks getpid() to.
void note_tls_shared_by_clone();

// The segment's shm name ("/vdsotrace-..."), or null while nothing is recorded.
const char* segment_name();

}  // namespace vdsotrace::tracer
