// Which recorded calls entered the kernel instead of being answered in user space by the vDSO,
// as the labels of the exporter's kernel-entry series: the same rule as the report's fallback
// section (clock_facts.h), without timing costs: an exporter runs every few seconds and must stay
// cheap. Every live recording was made on this machine, so one measurement of this machine's vDSO
// serves all of them.
#pragma once

#include <string>

#include "tracer/format/segment_format.h"
#include "tools/vdso_doctor/clock_service.h"
#include "tools/report/clock_facts.h"

namespace vdsotrace::tools {

using KernelEntryRules = ClockFacts;

// Measures this machine's vDSO (the seccomp probe; timing only when seccomp is not available).
KernelEntryRules measure_kernel_entry();

// Why calls of `function` on clock `bucket` (format counter buckets), recorded with the doctor
// fields `d`, entered the kernel: "route" (sent to the system call by --route/VDSOTRACE_ROUTE),
// "no_vdso_function" (the vDSO lacks the function), "cpu_clock" (CPU-time clocks, always the
// kernel), "invalid_clock", "clocksource" (no vDSO clock mode on this machine), "not_in_vdso" (a
// clock this vDSO passes on, like the alarm clocks); "" when the vDSO served them.
std::string kernel_entry_reason(const format::DoctorHeader& d, int function, int bucket, const KernelEntryRules& rules);

}  // namespace vdsotrace::tools
