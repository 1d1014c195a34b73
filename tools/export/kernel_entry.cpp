#include "tools/export/kernel_entry.h"

#include <time.h>

namespace vdsotrace::tools {

namespace f = vdsotrace::format;

KernelEntryRules measure_kernel_entry() {
    KernelEntryRules rules;
    // The seccomp probe alone decides exactly; timing is needed only where it cannot run.
    doctor::ClockService s = doctor::measure_clock_service(1, [](const doctor::ServiceRow&) { return false; });
    if (s.method != "seccomp") s = doctor::measure_clock_service(200);
    rules.method = s.method;
    rules.rows = std::move(s.rows);
    for (const doctor::ServiceRow& r : rules.rows)
        if (r.function == "clock_gettime" && r.clock_id == CLOCK_MONOTONIC)
            rules.clocksource_fallback = r.in_vdso && r.fallback;
    return rules;
}

std::string kernel_entry_reason(const f::DoctorHeader& d, int fn, int bucket, const KernelEntryRules& rules) {
    if (fn < 0 || fn >= f::kFunctionCount) return "";
    if (d.routes[fn] == f::kRouteSyscall) return "route";
    if (d.filled && !d.from_vdso[fn]) return "no_vdso_function";
    const bool takes_clock = f::function_takes_clock(fn);
    if (takes_clock) {
        if (bucket == f::kBucketDynamicCpu || bucket == CLOCK_PROCESS_CPUTIME_ID || bucket == CLOCK_THREAD_CPUTIME_ID)
            return "cpu_clock";
        if (bucket == f::kBucketInvalid) return "invalid_clock";
    }
    const int clock = takes_clock ? bucket : -1;
    for (const doctor::ServiceRow& r : rules.rows) {
        if (r.function != f::kFunctionNames[fn] || r.clock_id != clock) continue;
        if (!r.fallback) return "";
        if (!r.in_vdso) return "no_vdso_function";
        if (r.kernel_rejects) return "invalid_clock";
        return rules.clocksource_fallback ? "clocksource" : "not_in_vdso";
    }
    return "";
}

}  // namespace vdsotrace::tools
