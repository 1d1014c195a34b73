// VDSOTRACE_ROUTE: where the shim sends each function, to bisect whether the vDSO is at fault.
//   VDSOTRACE_ROUTE=clock_gettime=syscall,gettimeofday=libc     (or all=syscall)
// Targets: vdso (the default), syscall (the raw system call), libc (libc's own implementation).
// Parsed by hand: it runs on the first call, possibly before constructors.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vdsotrace::shim {

// Fills routes[kFunctionCount] (format::Route). An unset or empty spec is all-vDSO. On a bad spec
// returns false, leaves every route at vdso, and writes a one-line message for stderr to `problem`.
bool parse_route_spec(const char* spec, uint8_t* routes, char* problem, size_t problem_size);

}  // namespace vdsotrace::shim
