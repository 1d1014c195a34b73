// The recording of one attach window. The shim stays loaded after an attach and keeps one segment
// for the life of the process, so a second attach finds the first one's calls already in it. The
// segment is quiet between attaches (every pointer leads back to the vDSO), so its bytes are read
// before the second window opens and again after it closes, and the window's recording is the
// difference, written as a recording of its own under the new session (the shim's segment keeps
// the sum of every window, under the first session).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tools/attach/process_maps.h"

namespace vdsotrace::attach {

// The segment's bytes from the process's memory (process_vm_readv: works when its file was
// removed too). False when the process is gone or the memory cannot be read.
bool read_segment_memory(pid_t pid, const RecordingMapping& m, std::vector<unsigned char>* out);

// Turns `after` into `after` minus `before`: every count (per thread slot, caller entry and
// unattributed counter, the exited threads' slot, the thread log and the headroom table) less
// what it held before. Threads whose slot was recycled meanwhile had their counts folded into the
// exited threads' slot: they are taken from there. False (and `after` unchanged) when the two are
// not the same segment.
bool subtract_baseline(const std::vector<unsigned char>& before, std::vector<unsigned char>* after, std::string* why);

// Gives the recording its own identity (session, segment id, start time: now) and writes it as
// /dev/shm/vdsotrace-<uid>-<session>-<pid>-<id>. Returns the path, or "" with a reason.
std::string write_window_recording(std::vector<unsigned char>* bytes, const std::string& session, std::string* why);

}  // namespace vdsotrace::attach
