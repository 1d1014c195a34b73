// Which calls the vDSO answers itself and which it passes to the kernel, measured on this machine.
//
// The vDSO falls back to a real system call for clocks it cannot read in user space (the CPU-time
// clocks, the alarm clocks, invalid ids) and for every clock when the clocksource has no vDSO
// mode (hpet, acpi_pm, some hypervisors). Detection is exact, not a guess from timing: a short-lived
// thread installs a seccomp filter (its own only) that makes the time system calls fail with a distinctive errno,
// then calls the vDSO; a call that returns that errno went to the kernel. Timing then gives the
// cost per call of the vDSO path and of a forced system call, in the same run.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vdsotrace::doctor {

struct ServiceRow {
    std::string function;    // clock_gettime, gettimeofday, time, getcpu, clock_getres
    int clock_id = -1;       // for clock_gettime and clock_getres; -1 otherwise
    std::string clock;       // its name
    bool in_vdso = false;    // the vDSO has this function at all
    bool known = false;      // the seccomp probe ran (else `fallback` is a guess from timing)
    bool fallback = false;   // the call enters the kernel
    bool kernel_rejects = false;  // the kernel answers EINVAL (clock id not valid on this kernel)
    double vdso_ns = 0;      // cost per call through the vDSO entry
    double syscall_ns = 0;   // cost per call of the raw system call
};

struct ClockService {
    std::vector<ServiceRow> rows;
    std::string method;      // "seccomp" or "timing"
    std::string note;        // e.g. why seccomp was not available
};

// Measures this process's vDSO. `calls_per_sample` x 5 samples per row (minimum taken). When
// `time_row` is given, only the rows it accepts are timed (the others have zero costs); the
// seccomp probe covers every row regardless.
ClockService measure_clock_service(int calls_per_sample = 2000,
                                   const std::function<bool(const ServiceRow&)>& time_row = nullptr);

}  // namespace vdsotrace::doctor
