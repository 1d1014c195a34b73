// Names for code in no ELF module (JIT-compiled JavaScript, Java, Python trampolines), from the
// perf map the process wrote (/tmp/perf-PID.map, see perf_map.h), kept with its recording so the
// report still names those frames after the program exited and the map in /tmp is gone.
//
// Where the kept copy lives is decided here only (kept_perf_map_path), so the recording's storage
// can change without touching what reads or writes it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tools/symbols/perf_map.h"
#include "tools/recordings/segment_reader.h"

namespace vdsotrace::tools {

// The module name frames named from a perf map carry (they lie in no file).
inline constexpr char kJitModule[] = "[jit]";

// Where the perf map of the recording at `recording_path` is kept: beside it.
std::string kept_perf_map_path(const std::string& recording_path);

// The process's own map, /tmp/perf-PID.map, when it is this recording's: a regular file owned by
// the recording's user (or ours), written while the process lived (not by an earlier or later
// process that had the same pid). "" when there is none.
std::string live_perf_map_path(const Recording& r);

// Copies the process's live map next to its recording (kept_perf_map_path). True when a map was
// kept; `remove_live` then deletes /tmp/perf-PID.map (run asked the runtime for it, so it cleans
// up after itself).
bool keep_perf_map(const std::string& recording_path, bool remove_live);

// The recording's map: the kept copy beside `r.source`, else the live one; null when none.
std::shared_ptr<const PerfMap> load_perf_map(const Recording& r);

// Parses map text read from elsewhere (an archive entry); null when it names nothing.
std::shared_ptr<const PerfMap> perf_map_from_text(const std::string& text);

// The JIT function holding `address` in process `r`, and the offset in it; null when unnamed.
const std::string* jit_symbol(const Recording& r, uint64_t address, uint64_t* offset);

}  // namespace vdsotrace::tools
