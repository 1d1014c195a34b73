// Measures how many bytes of stack a function uses below its caller's stack pointer, by running
// it on a private stack whose lower end is a PROT_NONE guard page and finding the smallest stack
// that survives (the method the Go team used for golang/go#20427). Exact to 8 bytes: the stack
// pointer handed to the function is moved in steps of 8, so the figure includes the return
// address the call pushes. x86_64 only (elsewhere `supported()` is false).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vdsotrace::doctor {

// Where a call that ran out of stack faulted: its program counter and how deep below the caller's
// stack pointer the stack pointer was at that moment. Lets the report find the caller's stack
// pointer in a crash record (caller SP = SP at fault + depth, for the same PC).
struct FaultPoint {
    uint64_t pc = 0;     // absolute, in this process
    uint64_t depth = 0;  // caller's SP - SP at the fault
};

struct StackNeed {
    bool measured = false;
    uint64_t bytes = 0;        // smallest stack below the caller's SP that survives
    bool repeatable = true;    // every repetition gave the same figure
    std::string problem;       // why it was not measured, or what looked odd
    std::vector<FaultPoint> faults;  // one per distinct faulting PC seen while bisecting
};

// Arguments passed in the first three argument registers.
struct CallArgs {
    long a0 = 0, a1 = 0, a2 = 0;
};

bool stack_need_supported();

// Bisects the stack need of fn(args) between 8 and max_bytes, `repetitions` times.
// Not thread-safe with other users of SIGSEGV/SIGBUS in this process while it runs.
StackNeed measure_stack_need(const void* fn, CallArgs args, uint64_t max_bytes = 64 * 1024, int repetitions = 3);

}  // namespace vdsotrace::doctor
