// Counting the vDSO calls of statically linked programs, which ignore LD_PRELOAD.
//
// `vdsotrace run` starts such a program under ptrace. At its exec stop, before any of its code
// has run, the injector creates the program's recording (child_segment.h), maps it into the
// program with system calls run on its behalf, copies a small counting trampoline
// (trampoline/) into an executable page of it, and rewrites st_value of the clock functions in
// the program's own copy of the vDSO's .dynsym so that they name the trampoline. Static glibc,
// musl and the Go runtime all look these symbols up after that point, so every call they make
// goes through the trampoline, which counts it and jumps to the original vDSO function. Then
// the injector detaches: the program runs at full speed, untraced.
#pragma once

#include <sys/types.h>

#include <string>

namespace vdsotrace::inject {

// Why the injector cannot work on the program at `path` at all (not ELF x86_64, or vdsotrace
// built for another architecture); empty when it can try.
std::string unsupported_reason(const std::string& path);

// In the forked child, right before exec: asks to be traced by the parent. Returns 0 or errno.
int request_trace();

struct InjectResult {
    bool counting = false;  // the trampoline is in place
    std::string why;        // why not, in plain words (empty when the program ended before exec)
};

// In the parent, after forking `child` that called request_trace() (with result `trace_error`)
// and exec'd `exe`: waits for the exec stop, injects, detaches. The child is never left stopped
// and, on failure, runs exactly as it would untraced. A child that ended before its exec is left
// for the caller to reap.
InjectResult inject_at_exec(pid_t child, int trace_error, const std::string& exe, const std::string& session);

}  // namespace vdsotrace::inject
