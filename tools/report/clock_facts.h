// Which calls enter the kernel instead of being answered by the vDSO: this machine's clocks, as
// measured once by the command (tools/machine/measure_clock_facts.h), and the one rule that
// classifies a recorded (function, clock) with them. `report` (the fallback
// section) and `export` (the kernel-entry series) both use it.
#pragma once

#include <optional>

#include "tracer/format/segment_format.h"
#include "tools/vdso_doctor/clock_service.h"

namespace vdsotrace::tools {

struct ClockFacts {
    doctor::ClockService service;  // rows per function and clock id; method "seccomp" or "timing"
    // The clocksource has no vDSO mode (hpet, acpi_pm, older Xen): every clock enters the kernel.
    bool clocksource_fallback = false;

    const doctor::ServiceRow* row(const std::string& function, int clock_id) const;
};

// Why calls entered the kernel (or kServed).
enum class KernelEntry {
    kServed,          // the vDSO answered
    kRouted,          // sent to the system call by --route / VDSOTRACE_ROUTE
    kNoVdsoFunction,  // the vDSO lacks the function: the shim made the system call
    kOtherCpuClock,   // CPU-time clocks of other threads or processes (dynamic ids)
    kCpuClock,        // the process's or thread's CPU-time clock
    kInvalidClock,    // an invalid clock id, rejected by the kernel
    kKernelRejects,   // a clock id this kernel rejects (EINVAL) after the vDSO passes it on
    kClocksource,     // the clocksource has no vDSO mode here
    kNotInVdso,       // a clock this vDSO passes on (the alarm clocks)
};

// Classifies calls of `function` on clock `bucket` (format counter buckets) recorded with the
// doctor fields `d`. `machine`: this machine's clocks when the recording was made with its vDSO;
// without it only what enters the kernel everywhere is classified (the rest counts as served).
KernelEntry kernel_entry(const format::DoctorHeader& d, int function, int bucket, const ClockFacts* machine);

}  // namespace vdsotrace::tools
