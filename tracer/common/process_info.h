// Fills the header's description of this process from /proc/self (exe, cmdline) and what this
// process already knows (pid, parent, its start time once read).
#pragma once

#include <cstdint>

#include "tracer/format/segment_format.h"

namespace vdsotrace::tracer {

// proc_start_ticks is this process's start time when it was read already (own_start_ticks: the
// session name of a process without VDSOTRACE_SESSION needs it), else 0: /proc/PID/stat cost 17
// to 40 us of a short process's start (issue 14's shell loop), and a reader tells a reused pid
// apart by the start times instead (began_in_process).
void fill_process_info(format::Header* header);

// The program's arguments as the loader handed them to constructors: where they lie contiguous (as
// the kernel places them) the header's cmdline is copied from that memory, which is what
// /proc/self/cmdline reads, without its open and read (about 25 us a process start, issue 14).
// Until this is called (a clock call from a constructor that ran before ours), /proc is read.
void note_arguments(int argc, char** argv);

// Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), 0 when unreadable.
// Together with the pid it names one process for good: pids are reused, start times are not.
uint64_t read_start_ticks(int pid);

// This process's read_start_ticks, read once (the value is kept for the pid it was read for: a
// forked child reads its own). Cold: a system call each time it is not known yet.
uint64_t own_start_ticks(int pid);

// Whether something that began at `began_monotonic_ns` (CLOCK_MONOTONIC) began in the lifetime of
// the process that started at `start_ticks` (read_start_ticks; CLOCK_BOOTTIME in clock ticks of
// `ticks_per_s`), given `boot_minus_monotonic_ns`, CLOCK_BOOTTIME minus CLOCK_MONOTONIC now: not
// before that process started. A recording of an earlier process that had the same pid began
// before it. Start times are whole ticks (10 ms), rounded down: the answer errs towards "yes" only
// for a pid reused within the tick its previous owner's recording began in.
bool began_in_process(uint64_t began_monotonic_ns, uint64_t start_ticks, uint64_t boot_minus_monotonic_ns,
                      long ticks_per_s);

// Whether a recording (its recorded start ticks, 0 when not read, and its start) was made by the
// process whose start ticks are `live_ticks`: the ticks compared when the recording has them,
// else began_in_process. The one rule of the reader's liveness, `run`'s reaping and an exec'd
// image finding its predecessor.
bool recorded_by(uint64_t recorded_ticks, uint64_t recording_began_monotonic_ns, uint64_t live_ticks,
                 uint64_t boot_minus_monotonic_ns, long ticks_per_s);

}  // namespace vdsotrace::tracer
