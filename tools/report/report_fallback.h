// Which recorded calls entered the kernel instead of being answered by the vDSO: per function and
// clock id, with counts, the cost per call measured here, and a cheaper alternative where one is
// safe to suggest. Classification comes from the recording (routes, functions the vDSO lacked)
// and from this machine's clocks (machine_facts.h) when the recorded vDSO is this machine's.
// Data only: the renderers say it in words (report_words.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/recordings/segment_reader.h"
#include "tools/report/clock_facts.h"

namespace vdsotrace::tools {

struct MachineFacts;

struct ClockCount {
    int function = 0;  // format::Function
    int bucket = 0;    // format clock bucket
    uint64_t calls = 0;
};

enum class FallbackSuggestion {
    kNone,
    kOtherClock,            // `alternative`, served by the vDSO (a coarse one where the resolution is enough)
    kMonotonicForIntervals, // CPU-time clocks: CLOCK_MONOTONIC if they time intervals, else read less often
};

struct FallbackRow {
    std::string function;
    std::string clock;       // "" for functions without a clock id
    int clock_id = 0;        // -1 dynamic CPU clocks, -2 invalid
    uint64_t calls = 0;
    KernelEntry reason = KernelEntry::kServed;  // why these calls entered the kernel
    double ns_per_call = 0;  // measured here; 0 when not measured
    FallbackSuggestion suggestion = FallbackSuggestion::kNone;
    int alternative = -1;            // the clock id suggested (kOtherClock)
    uint64_t resolution_ns = 0;      // its resolution here, for a coarse clock; 0 unknown
    double vdso_ns = 0;      // what the suggested clock costs here; 0 when none/not measured
    double monotonic_ns = 0; // kMonotonicForIntervals: CLOCK_MONOTONIC's cost here; 0 not measured
};

// How the rows were decided.
enum class FallbackBasis {
    kNone,        // nothing was called
    kSeccomp,     // measured on this machine, exactly
    kTiming,      // judged on this machine by timing (no seccomp)
    kOtherVdso,   // recorded with another vDSO: only calls known to enter the kernel everywhere
};

struct FallbackReport {
    std::vector<FallbackRow> rows;
    FallbackBasis basis = FallbackBasis::kNone;
};

// `counts`: calls per (function, bucket) summed over the recordings; `first` gives routes and the
// vDSO image; `machine` this machine's clocks.
FallbackReport find_fallbacks(const std::vector<ClockCount>& counts, const Recording& first,
                              const MachineFacts& machine);

}  // namespace vdsotrace::tools
