// The shim's wait, waitpid, waitid, wait3 and wait4 (wait_hooks.cpp): a reaped child's status is
// written into the child's recording when the child could not write it.
#pragma once

namespace vdsotrace::shim {

// Finds libc's wait4 and waitid (the constructor: dlsym). Until then, the system calls serve.
void resolve_wait_functions();

}  // namespace vdsotrace::shim
