// A process's mappings as `vdsotrace attach` needs them (/proc/PID/maps): where each module file
// starts, and where the shim's recording is mapped. Parsed from one read of the file, without
// streams: attach reads it while the process may be stopped, where every 100 µs counts.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vdsotrace::attach {

struct ModuleStart {
    uint64_t start;    // the file-backed mapping at file offset 0
    std::string path;
    bool operator==(const ModuleStart&) const = default;
};

struct RecordingMapping {
    uint64_t start = 0, end = 0;
    std::string path;      // /dev/shm/vdsotrace-...
    bool deleted = false;  // the file was removed (`vdsotrace clean`, a test): the memory is still there
};

struct ProcessMaps {
    std::vector<ModuleStart> modules;        // in address order, each path once
    std::vector<RecordingMapping> recordings;  // the shim's segment (one; more after an exec would not stay)
};

// False when the file cannot be read (the process is gone).
bool read_process_maps(pid_t pid, ProcessMaps* out);

}  // namespace vdsotrace::attach
