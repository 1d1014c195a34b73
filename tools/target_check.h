// Looks at the program `vdsotrace run` is about to start, to say up front what LD_PRELOAD
// cannot do for it (static programs, setuid programs) instead of reporting zero calls silently.
#pragma once

#include <string>
#include <vector>

namespace vdsotrace::tools {

// Finds `command` as execvp would (PATH search when it has no slash); "" when not found.
std::string find_executable(const std::string& command);

// Warnings in plain words for the program at `path` (empty when all is well).
std::vector<std::string> preload_blind_spots(const std::string& path);

}  // namespace vdsotrace::tools
