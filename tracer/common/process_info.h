// Fills the header's description of this process from /proc/self (exe, cmdline, start time).
#pragma once

#include "tracer/format/segment_format.h"

namespace vdsotrace::tracer {

void fill_process_info(format::Header* header);

// The program's arguments as the loader handed them to constructors: where they lie contiguous (as
// the kernel places them) the header's cmdline is copied from that memory, which is what
// /proc/self/cmdline reads, without its open and read (about 25 us a process start, issue 14).
// Until this is called (a clock call from a constructor that ran before ours), /proc is read.
void note_arguments(int argc, char** argv);

// Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), 0 when unreadable.
// Together with the pid it names one process for good: pids are reused, start times are not.
uint64_t read_start_ticks(int pid);

}  // namespace vdsotrace::tracer
