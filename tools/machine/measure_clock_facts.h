// This machine's clocks, measured (the doctor's seccomp probe: exact; timing only where seccomp is
// unavailable): what `report` and `export` hand to the rule in tools/report/clock_facts.h.
#pragma once

#include <functional>

#include "tools/report/clock_facts.h"

namespace vdsotrace::tools {

// Measures this machine's clocks. The probe decides which calls enter the kernel; costs are timed
// only for the rows `time_row` accepts, given what the probe found (timing takes a while, and a
// report must be quick). Without seccomp every row is timed: that is how fallback is judged then.
ClockFacts measure_clock_facts(
    const std::function<bool(const doctor::ServiceRow&, const ClockFacts& probed)>& time_row = nullptr);

}  // namespace vdsotrace::tools
