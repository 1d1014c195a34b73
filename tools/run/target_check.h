// Looks at the program `vdsotrace run` is about to start, to say up front what LD_PRELOAD
// cannot do for it (static programs, setuid programs) instead of reporting zero calls silently.
#pragma once

#include <string>
#include <vector>

namespace vdsotrace::tools {

// Finds `command` as execvp would (PATH search when it has no slash); "" when not found.
std::string find_executable(const std::string& command);

// True for an ELF program without an interpreter (static, static-pie): LD_PRELOAD never applies.
bool is_statically_linked(const std::string& path);

// True when exec'ing `path` changes the user or group id (set-user-ID or set-group-ID to another).
bool changes_identity(const std::string& path);

// Warnings in plain words for the program at `path` (empty when all is well). The one about a
// static program is left out when `static_handled` (run counts it another way).
std::vector<std::string> preload_blind_spots(const std::string& path, bool static_handled = false);

}  // namespace vdsotrace::tools
