// Stack need of each vDSO time function: measured on this process's vDSO (stack_need.h) and read
// from its code (code_scan.h), in plain words for the report.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tools/vdso_doctor/code_scan.h"
#include "tools/vdso_doctor/stack_need.h"
#include "tools/vdso_doctor/vdso_inspect.h"

namespace vdsotrace::doctor {

struct FunctionNeed {
    std::string function;     // clock_gettime, ...
    std::string symbol;       // __vdso_clock_gettime
    uint64_t address = 0;     // in the inspected process
    uint64_t size = 0;
    StackNeed need;           // the largest over the clock ids tried (clock_gettime, clock_getres)
    std::map<int, uint64_t> by_clock;  // clock id -> bytes (clock_gettime)
    CodeScan scan;
};

// Reads the code of the five time functions in `info` (any process's image); measures their
// stack need when `measure` (only meaningful for this process's own vDSO, or an identical one).
std::vector<FunctionNeed> vdso_needs(const VdsoInfo& info, bool measure);

// "needs 32 bytes of stack below the caller's stack pointer" style sentence for one function.
std::string describe_need(const FunctionNeed& f);

}  // namespace vdsotrace::doctor
