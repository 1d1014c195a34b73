#include "tools/report/clock_facts.h"

#include <time.h>

namespace vdsotrace::tools {

namespace f = vdsotrace::format;
using doctor::ServiceRow;

const ServiceRow* ClockFacts::row(const std::string& function, int clock_id) const {
    for (const ServiceRow& r : service.rows)
        if (r.function == function && r.clock_id == clock_id) return &r;
    return nullptr;
}

namespace {

ClockFacts with_clocksource(doctor::ClockService s) {
    ClockFacts facts;
    facts.service = std::move(s);
    const ServiceRow* mono = facts.row("clock_gettime", CLOCK_MONOTONIC);
    facts.clocksource_fallback = mono && mono->in_vdso && mono->fallback;
    return facts;
}

}  // namespace

ClockFacts measure_clock_facts(const std::function<bool(const ServiceRow&, const ClockFacts&)>& time_row) {
    // The seccomp probe alone decides exactly, in one short-lived child.
    ClockFacts probed = with_clocksource(doctor::measure_clock_service(1, [](const ServiceRow&) { return false; }));
    if (probed.service.method != "seccomp") return with_clocksource(doctor::measure_clock_service(200));
    if (!time_row) return probed;
    bool wanted = false;
    for (const ServiceRow& r : probed.service.rows) wanted = wanted || time_row(r, probed);
    if (!wanted) return probed;
    return with_clocksource(doctor::measure_clock_service(300, [&](const ServiceRow& r) {
        const ServiceRow* p = probed.row(r.function, r.clock_id);
        return p && time_row(*p, probed);
    }));
}

KernelEntry kernel_entry(const f::DoctorHeader& d, int fn, int bucket, const ClockFacts* machine) {
    if (fn < 0 || fn >= f::kFunctionCount) return KernelEntry::kServed;
    if (d.routes[fn] == f::kRouteSyscall) return KernelEntry::kRouted;
    if (d.filled && !d.from_vdso[fn]) return KernelEntry::kNoVdsoFunction;
    const bool takes_clock = f::function_takes_clock(fn);
    if (takes_clock) {
        if (bucket == f::kBucketDynamicCpu) return KernelEntry::kOtherCpuClock;
        if (bucket == f::kBucketInvalid) return KernelEntry::kInvalidClock;
        if (bucket == CLOCK_PROCESS_CPUTIME_ID || bucket == CLOCK_THREAD_CPUTIME_ID) return KernelEntry::kCpuClock;
    }
    if (machine == nullptr) return KernelEntry::kServed;
    const ServiceRow* r = machine->row(f::kFunctionNames[fn], takes_clock ? bucket : -1);
    if (r == nullptr || !r->fallback) return KernelEntry::kServed;
    if (!r->in_vdso) return KernelEntry::kNoVdsoFunction;
    if (r->kernel_rejects) return KernelEntry::kKernelRejects;
    return machine->clocksource_fallback ? KernelEntry::kClocksource : KernelEntry::kNotInVdso;
}

}  // namespace vdsotrace::tools
