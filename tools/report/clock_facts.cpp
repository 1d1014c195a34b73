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
