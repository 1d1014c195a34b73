// Checks of the command line made before any work starts, so a typo costs one line and exit 2,
// never a traced run whose results are then lost (an unwritable --json path found at the end).
#pragma once

#include <string>
#include <vector>

namespace vdsotrace::tools {

// The name in `names` closest to `typed` (at most two edits away, or `typed` is a prefix of it);
// "" when none is close.
std::string nearest_name(const std::string& typed, const std::vector<std::string>& names);

// Why `path` cannot be written as an output file, in a few words ("" when it can). "-" (standard
// output) always can. Nothing is truncated; a file that does not exist is created to find out
// (root passes every permission check, yet cannot create one in /proc) and removed at once.
std::string output_path_problem(const std::string& path);

// The same for `run -o FILE`, which writes FILE.partial beside FILE and renames it.
std::string recording_path_problem(const std::string& path);

// Why `path` cannot be used as an output directory (one that does not exist yet but could be
// created is fine); "" when it can.
std::string output_dir_problem(const std::string& path);

// Why VDSOTRACE_ROUTE / --route `spec` is malformed ("" when it is fine): the shim's own parser.
std::string route_problem(const std::string& spec);

// Why `name` cannot be the session of a new run ("" when it can): 1 to 40 of [A-Za-z0-9._] (the
// shim's rule), and no recording of user `uid` in that session yet (the run's report is its
// session's: an older run's processes would be mixed in).
std::string session_problem(const std::string& name, unsigned uid);

// Finds `command` as a shell would. On success returns 0 and sets `exe`. Otherwise returns the
// shell's exit status (127: not found, 126: found but not runnable) and sets `why` to the
// shell's words ("command not found", "Permission denied", "Is a directory").
int resolve_command(const std::string& command, std::string* exe, std::string* why);

}  // namespace vdsotrace::tools
