#include "tools/machine/measure_clock_facts.h"

#include <time.h>

namespace vdsotrace::tools {

using doctor::ServiceRow;

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

}  // namespace vdsotrace::tools
