#include "tools/export/kernel_entry.h"

#include "tools/machine/measure_clock_facts.h"

namespace vdsotrace::tools {

KernelEntryRules measure_kernel_entry() { return measure_clock_facts(); }

std::string kernel_entry_reason(const format::DoctorHeader& d, int fn, int bucket, const KernelEntryRules& rules) {
    switch (kernel_entry(d, fn, bucket, &rules)) {
        case KernelEntry::kServed: return "";
        case KernelEntry::kRouted: return "route";
        case KernelEntry::kNoVdsoFunction: return "no_vdso_function";
        case KernelEntry::kOtherCpuClock:
        case KernelEntry::kCpuClock: return "cpu_clock";
        case KernelEntry::kInvalidClock:
        case KernelEntry::kKernelRejects: return "invalid_clock";
        case KernelEntry::kClocksource: return "clocksource";
        case KernelEntry::kNotInVdso: return "not_in_vdso";
    }
    return "";
}

}  // namespace vdsotrace::tools
