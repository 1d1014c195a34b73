// Process-level events the shim forwards to the recording engine.
#pragma once

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

// The segment's shm name ("/vdsotrace-..."), or null while nothing is recorded.
const char* segment_name();

}  // namespace vdsotrace::tracer
