// Finds libvdsotrace.so: the --shim option, then $VDSOTRACE_SHIM, then relative to the vdsotrace
// executable (build tree: ../shim/; install tree: the path computed by meson at configure time).
#pragma once

#include <string>

namespace vdsotrace::tools {

// Returns the absolute path, or "" with the places tried in *error.
std::string locate_shim(const std::string& option, std::string* error);

// LD_PRELOAD value that adds `shim` after an existing value (kept, not replaced). After, because a
// library preloaded on purpose may interpose the same functions (libfaketime): its definitions must
// win, and it reaches the real ones through dlsym(RTLD_NEXT), which finds the shim, which counts.
// Before it, the shim would hide it and change what the program computes. An ASan runtime that
// must come first (gcc's -fsanitize=address) stays first the same way.
std::string preload_with(const std::string& shim, const char* existing);

}  // namespace vdsotrace::tools
