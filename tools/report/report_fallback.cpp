#include "tools/report/report_fallback.h"

#include <time.h>

#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "tools/report/report_model.h"
#include "tools/vdso_doctor/clock_service.h"
#include "tools/vdso_doctor/vdso_inspect.h"

namespace vdsotrace::tools {

namespace {

namespace f = vdsotrace::format;
using doctor::ServiceRow;

bool recorded_here(const Recording& r) {
    std::string error;
    auto self = doctor::inspect_vdso(0, &error);
    return self && !r.vdso_image.empty() && r.vdso_image.size() <= self->image.size() &&
           memcmp(r.vdso_image.data(), self->image.data(), r.vdso_image.size()) == 0;
}

const ServiceRow* row_for(const doctor::ClockService& s, const std::string& fn, int clock) {
    for (const ServiceRow& r : s.rows)
        if (r.function == fn && r.clock_id == clock) return &r;
    return nullptr;
}

std::string resolution(clockid_t id) {
    timespec res{};
    if (clock_getres(id, &res) != 0) return "";
    const double ns = double(res.tv_sec) * 1e9 + double(res.tv_nsec);
    return ns >= 1e6 ? fmt::format("{:g} ms", ns / 1e6) : fmt::format("{:g} ns", ns);
}

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

FallbackReport find_fallbacks(const std::vector<ClockCount>& counts, const Recording& first) {
    FallbackReport out;
    if (counts.empty()) return out;
    std::optional<doctor::ClockService> service;
    if (recorded_here(first)) {
        // Time only what was called (and the alternatives one might suggest): a report must be quick.
        service = doctor::measure_clock_service(300, [&](const ServiceRow& row) {
            for (const ClockCount& c : counts) {
                if (c.calls == 0 || f::kFunctionNames[c.function] != row.function) continue;
                if (!f::function_takes_clock(c.function) || c.bucket == row.clock_id) return true;
                if (alternative(c.bucket, true) == row.clock_id) return true;
            }
            return false;
        });
        out.note = service->method == "seccomp"
                       ? "which calls enter the kernel was measured on this machine (exactly, with a seccomp filter)"
                       : "which calls enter the kernel was judged on this machine by timing";
    } else {
        out.note = "recorded with another vDSO (another machine or kernel): only calls known to enter the kernel "
                   "everywhere are listed, without costs";
    }
    const bool clocksource_fallback =
        service && [&] {
            const ServiceRow* mono = row_for(*service, "clock_gettime", CLOCK_MONOTONIC);
            return mono && mono->in_vdso && mono->fallback;
        }();

    for (const ClockCount& c : counts) {
        if (c.calls == 0) continue;
        const std::string fn = f::kFunctionNames[c.function];
        const bool takes_clock = f::function_takes_clock(c.function);
        FallbackRow row;
        row.function = fn;
        row.calls = c.calls;
        if (takes_clock) {
            row.clock = clock_name(c.bucket);
            row.clock_id = clock_id_of_bucket(c.bucket);
        }
        const ServiceRow* measured = service && (!takes_clock || c.bucket < f::kClockIdBuckets)
                                         ? row_for(*service, fn, takes_clock ? c.bucket : -1)
                                         : nullptr;
        if (first.doctor.routes[c.function] == f::kRouteSyscall) {
            row.reason = "routed to the system call (--route / VDSOTRACE_ROUTE)";
        } else if (!first.doctor.from_vdso[c.function] && first.doctor.filled) {
            row.reason = "the vDSO has no " + fn + ": the shim made the system call";
        } else if (takes_clock && c.bucket == f::kBucketDynamicCpu) {
            row.reason = "CPU-time clocks of other threads or processes are read by the kernel";
        } else if (takes_clock && c.bucket == f::kBucketInvalid) {
            row.reason = "invalid clock ids go to the kernel, which rejects them (EINVAL)";
        } else if (takes_clock && (c.bucket == CLOCK_PROCESS_CPUTIME_ID || c.bucket == CLOCK_THREAD_CPUTIME_ID) &&
                   !measured) {
            row.reason = "CPU-time clocks are always read by the kernel";
        } else if (measured && measured->fallback) {
            row.reason = measured->kernel_rejects ? "the kernel rejects this clock id (EINVAL) after the vDSO passes it on"
                         : (c.bucket == CLOCK_PROCESS_CPUTIME_ID || c.bucket == CLOCK_THREAD_CPUTIME_ID)
                             ? "CPU-time clocks are always read by the kernel"
                         : clocksource_fallback
                             ? "the clocksource has no vDSO mode here: the vDSO passes every such call to the kernel"
                             : "the vDSO passes this clock to the kernel";
        } else {
            continue;  // served by the vDSO
        }
        if (measured) row.ns_per_call = measured->syscall_ns;
        if (takes_clock && c.bucket < f::kClockIdBuckets) {
            if (c.bucket == CLOCK_PROCESS_CPUTIME_ID || c.bucket == CLOCK_THREAD_CPUTIME_ID) {
                const ServiceRow* mono = service ? row_for(*service, fn, CLOCK_MONOTONIC) : nullptr;
                row.suggestion = "if these calls time intervals rather than CPU use, CLOCK_MONOTONIC is served by the vDSO";
                if (mono && !mono->fallback && mono->vdso_ns > 0)
                    row.suggestion += fmt::format(" ({:.0f} ns a call here)", mono->vdso_ns);
                row.suggestion += "; if CPU time is what is needed, consider reading it less often";
            } else if (const int alt = alternative(c.bucket, clocksource_fallback); alt >= 0 &&
                                                                                   first.doctor.routes[c.function] != f::kRouteSyscall) {
                const ServiceRow* a = service ? row_for(*service, fn, alt) : nullptr;
                row.suggestion = fmt::format("consider {}", f::kClockNames[alt]);
                if (alt == CLOCK_REALTIME_COARSE || alt == CLOCK_MONOTONIC_COARSE)
                    row.suggestion += fmt::format(" where a resolution of {} is enough", resolution(alt));
                if (a && !a->fallback && a->vdso_ns > 0) {
                    row.vdso_ns = a->vdso_ns;
                    row.suggestion += fmt::format(" (served by the vDSO: {:.0f} ns a call here)", a->vdso_ns);
                }
            }
        }
        out.rows.push_back(std::move(row));
    }
    return out;
}

}  // namespace vdsotrace::tools
