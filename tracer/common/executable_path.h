// The running program's path without /proc: the first access to /proc/self in a process builds
// its /proc/<pid> entries, 25 to 40 us on this VM, a tenth of a short traced process's whole
// cost (issue 14), and the header's `exe` was its only use in most processes.
#pragma once

#include <cstddef>

namespace vdsotrace::tracer {

// Copies the path the kernel was given to exec (AT_EXECFN) into `out` when it names the running
// program exactly as readlink("/proc/self/exe") would: absolute, no symbolic link in any of its
// parts (so it is already the canonical path), a regular file whose ELF header and program
// headers are those mapped in memory (a script's "#!" interpreter, binfmt_misc handlers and
// files replaced since the exec fail this). False otherwise: the caller asks /proc. No allocation;
// about 150 bytes of stack (called on a process's first clock call, which may run on a small one).
bool executable_path_from_exec(char* out, size_t size);

}  // namespace vdsotrace::tracer
