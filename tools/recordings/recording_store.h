// Finds recordings: the segments in /dev/shm named by the format's naming rule, and saved copies
// given as paths. Resolves what the user typed (SESSION, PID or PATH) to a set of files.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tools/recordings/segment_reader.h"

namespace vdsotrace::tools {

struct SegmentName {
    std::string path;     // /dev/shm/vdsotrace-...
    uint32_t uid = 0;
    std::string session;
    int pid = 0;
    int64_t mtime_ns = 0;
};

// Where segments live.
std::string shm_dir();

// Parses "vdsotrace-<uid>-<session>-<pid>-<16 hex>".
std::optional<SegmentName> parse_segment_name(const std::string& file_name);

// The segment `file_name` in shm_dir() if it is one list_segments would give (below), else
// nothing: it is looked at (lstat) only when its name is wanted.
std::optional<SegmentName> segment_named(const std::string& file_name, uint32_t uid, bool allow_other_users = false,
                                         const std::function<bool(const SegmentName&)>& wanted = {});

// The segments of user `uid` in shm_dir(), oldest first: named for `uid` and owned by `uid` (a
// file another user planted under our name is skipped unless `allow_other_users`). `wanted`, when
// given, picks by name (path set) before any file is looked at.
std::vector<SegmentName> list_segments(uint32_t uid, bool allow_other_users = false,
                                       const std::function<bool(const SegmentName&)>& wanted = {});

// What became of a recorded process, as the report says it.
enum class ProcessFate { kRunning, kExited, kSignaled, kEndedUnknownStatus, kVanished, kExeced };
ProcessFate fate_of(const Recording& r);
// The same, told whether the process still runs (a recording that did not say how it ended).
ProcessFate fate_of(const Recording& r, bool alive);

// The fate in one word or two, as `ls` and `top` show it: "running", "exit 3", "signal 9",
// "ended", "vanished", "exec'd".
std::string fate_word(const Recording& r);
// The same for a fate already decided (`exit_value`: the exit code or signal number).
std::string fate_word(ProcessFate fate, int exit_value);

// How long a recorded process ran, as `report` and `ls` both say it: from its start to its end
// or its exec; while it runs, to `now_monotonic_ns`; when nobody saw it end (killed, vanished), to
// the last activity its recording proves (format minor 6, stamped every 65,536 calls), and then
// it ran at least that long.
struct ProcessSpan {
    uint64_t end_monotonic_ns = 0;
    bool at_least = false;
    double seconds = 0;
};
ProcessSpan process_span(const Recording& r, ProcessFate fate, uint64_t now_monotonic_ns);

// True when the recorded process is still alive (same pid and same start time).
bool process_alive(const Recording& r);

// The session `report` and `top` read when given none: the newest of user `uid`'s (never another
// user's). "" when there is none. `note` says which it is, the newest of how many, when it began
// and with what command, so a reader never gets another program's recording unawares.
std::string newest_session(uint32_t uid, std::string* note);

// The newest recording file `run` wrote in `dir` (vdsotrace.*.vdsotrace, a regular file of user
// `uid`), "" when there is none; `note` says which it is, when it was written, of how many.
std::string newest_recording_file(const std::string& dir, uint32_t uid, std::string* note);

// Resolves the report's argument: empty = the newest session; a path to a file; a pid; a session.
// Returns the files to read, or an error message.
std::vector<std::string> resolve_target(const std::string& target, uint32_t uid, std::string* error,
                                        bool allow_other_users = false);

}  // namespace vdsotrace::tools
