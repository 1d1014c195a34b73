// Explains a crash record (a fault inside the vDSO or the shim): which function, where in it, how
// far below the stack pointer, how much stack the thread had, who called, and what the vDSO needs
// (measured here when the recorded vDSO is this machine's, else estimated from its code). Data;
// report_words.h says it in words.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tools/recordings/segment_reader.h"
#include "tools/symbols/symbolizer.h"

namespace vdsotrace::tools {

struct CrashReport {
    std::string signal;          // "SIGSEGV"
    bool in_vdso = false;        // else inside the shim
    std::string function;        // "clock_gettime"
    std::string symbol;          // "__vdso_clock_gettime"
    uint64_t offset = 0;         // pc - start of symbol
    uint64_t fault_address = 0;
    uint64_t pc = 0;
    uint64_t sp = 0;
    int64_t below_sp = 0;        // sp - fault address
    std::optional<int64_t> stack_left;   // sp - lowest byte of the stack
    std::optional<uint64_t> caller_sp;
    std::optional<int64_t> caller_room;  // caller's sp - lowest byte of the stack
    std::optional<uint64_t> need;        // bytes the function needs below the caller's sp
    bool need_measured = false;          // else estimated from the code
    bool probes = false;                 // the function's code probes the stack
    std::string caller;          // the program's call site, named
    uint64_t caller_address = 0;
    int tid = 0;
    bool fault_in_guard = false; // the shim found the fault address outside any accessible mapping
};

struct MachineFacts;

// Bytes `function` (clock_gettime, ...) of the recording's vDSO needs below its caller's stack
// pointer: measured here (machine) when the recorded vDSO is this machine's, else estimated from
// its code; 0 when unknown.
uint64_t vdso_stack_need(const Recording& r, const std::string& function, const MachineFacts& machine);

CrashReport explain_crash(const Recording& r, const CrashInfo& c, Symbolizer& symbolizer, const MachineFacts& machine);

}  // namespace vdsotrace::tools
