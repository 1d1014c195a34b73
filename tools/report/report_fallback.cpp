#include "tools/report/report_fallback.h"

#include <time.h>

#include "tools/report/report_model.h"
#include "tools/report/machine_facts.h"

namespace vdsotrace::tools {

namespace {

namespace f = vdsotrace::format;
using doctor::ServiceRow;

// The cheaper alternative for a clock that entered the kernel, if one is safe to suggest.
int alternative(int clock_id, bool clocksource_fallback) {
    switch (clock_id) {
        case CLOCK_PROCESS_CPUTIME_ID:
        case CLOCK_THREAD_CPUTIME_ID: return -1;  // CPU time has no vDSO source at all
        case CLOCK_REALTIME: return clocksource_fallback ? CLOCK_REALTIME_COARSE : -1;
        case CLOCK_MONOTONIC:
        case CLOCK_BOOTTIME:
        case CLOCK_MONOTONIC_RAW: return clocksource_fallback ? CLOCK_MONOTONIC_COARSE : -1;
        case CLOCK_REALTIME_ALARM: return CLOCK_REALTIME;
        case CLOCK_BOOTTIME_ALARM: return CLOCK_BOOTTIME;
    }
    return -1;
}

}  // namespace

FallbackReport find_fallbacks(const std::vector<ClockCount>& counts, const Recording& first,
                              const MachineFacts& machine) {
    FallbackReport out;
    if (counts.empty()) return out;
    const ClockFacts* here = machine.same_vdso(first) && machine.clocks ? &*machine.clocks : nullptr;
    out.basis = !here                                  ? FallbackBasis::kOtherVdso
                : here->service.method == "seccomp" ? FallbackBasis::kSeccomp
                                                      : FallbackBasis::kTiming;
    const bool clocksource_fallback = here && here->clocksource_fallback;

    for (const ClockCount& c : counts) {
        if (c.calls == 0) continue;
        const KernelEntry why = kernel_entry(first.doctor, c.function, c.bucket, here);
        if (why == KernelEntry::kServed) continue;
        const std::string fn = f::kFunctionNames[c.function];
        const bool takes_clock = f::function_takes_clock(c.function);
        FallbackRow row;
        row.function = fn;
        row.calls = c.calls;
        row.reason = why;
        if (takes_clock) {
            row.clock = clock_name(c.bucket);
            row.clock_id = clock_id_of_bucket(c.bucket);
        }
        const ServiceRow* measured = here && (!takes_clock || c.bucket < f::kClockIdBuckets)
                                         ? here->row(fn, takes_clock ? c.bucket : -1)
                                         : nullptr;
        if (measured) row.ns_per_call = measured->syscall_ns;
        if (takes_clock && c.bucket < f::kClockIdBuckets) {
            if (c.bucket == CLOCK_PROCESS_CPUTIME_ID || c.bucket == CLOCK_THREAD_CPUTIME_ID) {
                row.suggestion = FallbackSuggestion::kMonotonicForIntervals;
                const ServiceRow* mono = here ? here->row(fn, CLOCK_MONOTONIC) : nullptr;
                if (mono && !mono->fallback && mono->vdso_ns > 0) row.monotonic_ns = mono->vdso_ns;
            } else if (const int alt = alternative(c.bucket, clocksource_fallback);
                       alt >= 0 && first.doctor.routes[c.function] != f::kRouteSyscall) {
                row.suggestion = FallbackSuggestion::kOtherClock;
                row.alternative = alt;
                if (auto it = machine.resolution_ns.find(alt); it != machine.resolution_ns.end())
                    row.resolution_ns = it->second;
                const ServiceRow* a = here ? here->row(fn, alt) : nullptr;
                if (a && !a->fallback && a->vdso_ns > 0) row.vdso_ns = a->vdso_ns;
            }
        }
        out.rows.push_back(std::move(row));
    }
    return out;
}

}  // namespace vdsotrace::tools
