// Finds libvdsotrace.so: the --shim option, then $VDSOTRACE_SHIM, then relative to the vdsotrace
// executable (build tree: ../shim/; install tree: the path computed by meson at configure time).
#pragma once

#include <string>

namespace vdsotrace::tools {

// Returns the absolute path, or "" with the places tried in *error.
std::string locate_shim(const std::string& option, std::string* error);

// LD_PRELOAD value that adds `shim` in front of an existing value (kept, not replaced).
std::string preload_with(const std::string& shim, const char* existing);

}  // namespace vdsotrace::tools
