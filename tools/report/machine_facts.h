// Facts about the machine a report is read on, gathered by the command that reads the recording
// (tools/machine/gather_machine_facts.h) and handed to build_report, which reads nothing else: the same recording and facts give the
// same report, and a test passes facts of its choosing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tools/report/clock_facts.h"
#include "tools/recordings/segment_reader.h"
#include "tools/vdso_doctor/vdso_needs.h"

namespace vdsotrace::tools {

struct MachineFacts {
    uint64_t now_monotonic_ns = 0;  // stands in for the end of a process still running
    // Recorded processes that still run (by source file): the others, unless their recording
    // says how they ended, vanished.
    std::set<std::string> running;
    // Current names of live threads (they may have renamed themselves since their first call).
    std::map<std::pair<int, int>, std::string> thread_names;  // (pid, tid) -> name
    std::vector<unsigned char> vdso_image;  // this machine's running vDSO; empty when not read
    uint64_t vdso_base = 0;                 // where it is mapped in the reading process
    // This machine's clocks, measured when a recording was made with its vDSO (else the report
    // lists only the calls that enter the kernel everywhere).
    std::optional<ClockFacts> clocks;
    std::map<int, uint64_t> resolution_ns;  // clock id -> resolution here (for suggestions)
    // The stack need of this vDSO's functions, measured, when a crash or a low-stack call asks.
    std::vector<doctor::FunctionNeed> vdso_needs;

    // Whether `r` was recorded with the vDSO running here.
    bool same_vdso(const Recording& r) const;
    const doctor::FunctionNeed* need_of(const std::string& function) const;
};

}  // namespace vdsotrace::tools
