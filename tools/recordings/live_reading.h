// The recordings of a target at one moment, as `vdsotrace top` takes them between refreshes. A
// reading is a plain read of each segment (pread): the writers are never blocked nor slowed. What
// the model (tools/report/live_rates.h) needs to know about the machine at that moment (the clock,
// which processes still run) is taken here, with the recordings.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "tools/recordings/segment_reader.h"

namespace vdsotrace::tools {

struct Reading {
    uint64_t monotonic_ns = 0;
    std::map<std::string, Recording> recordings;  // by file
    std::set<std::string> running;                // the files whose process still ran
};

// Reads the recordings `target` names now (SESSION, PID, or empty: the newest session).
// Returns false with a message when nothing matches.
bool take_reading(const std::string& target, Reading* out, std::string* error);

}  // namespace vdsotrace::tools
