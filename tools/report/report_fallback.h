// Which recorded calls entered the kernel instead of being answered by the vDSO: per function and
// clock id, with counts, the measured cost per call, and a cheaper alternative where one is safe
// to suggest. Classification comes from the recording (routes, functions the vDSO lacked) and
// from measuring this machine's vDSO (clock_service.h) when the recorded vDSO is this machine's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/recordings/segment_reader.h"

namespace vdsotrace::tools {

struct ClockCount {
    int function = 0;  // format::Function
    int bucket = 0;    // format clock bucket
    uint64_t calls = 0;
};

struct FallbackRow {
    std::string function;
    std::string clock;       // "" for functions without a clock id
    int clock_id = 0;        // -1 dynamic CPU clocks, -2 invalid
    uint64_t calls = 0;
    std::string reason;      // why these calls entered the kernel, plain words
    double ns_per_call = 0;  // measured here; 0 when not measured
    double vdso_ns = 0;      // what the suggested alternative costs here; 0 when none/not measured
    std::string suggestion;  // "" when nothing cheaper is safe to suggest
};

struct FallbackReport {
    std::vector<FallbackRow> rows;
    std::string note;        // how it was decided (measured here / recorded elsewhere)
};

// `counts`: calls per (function, bucket) summed over the recordings; `first` gives routes and the
// vDSO image.
FallbackReport find_fallbacks(const std::vector<ClockCount>& counts, const Recording& first);

}  // namespace vdsotrace::tools
