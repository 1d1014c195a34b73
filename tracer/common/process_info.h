// Fills the header's description of this process from /proc/self (exe, cmdline, start time).
#pragma once

#include "tracer/format/segment_format.h"

namespace vdsotrace::tracer {

void fill_process_info(format::Header* header);

// Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), 0 when unreadable.
// Together with the pid it names one process for good: pids are reused, start times are not.
uint64_t read_start_ticks(int pid);

}  // namespace vdsotrace::tracer
