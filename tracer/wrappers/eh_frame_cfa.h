// How to step out of one frame at one code address: the CFA rule from the module's .eh_frame.
//
// Read from the module's own PT_GNU_EH_FRAME (found by _dl_find_object) in memory: no file, no
// allocation, no lock, so it runs on the shim's slow path from any context. Only the two rules
// compiled code uses at a call site are understood: CFA = SP + offset (code without a frame
// pointer) and CFA = FP + offset (with one). Anything else (DWARF expressions, 64-bit FDEs,
// unknown encodings) is "cannot step", never a guess.
#pragma once

#include <cstdint>

namespace vdsotrace::tracer::wrappers {

inline constexpr int32_t kFpNotSaved = INT32_MIN;

struct CfaRule {
    bool from_fp;     // CFA = frame pointer + offset (else stack pointer + offset)
    int32_t offset;
    int32_t fp_saved_at;  // the caller's frame pointer is at CFA + this, or kFpNotSaved (unchanged)
};

// The rule in force at `pc` in the code covered by the .eh_frame_hdr at `eh_frame_hdr`.
// Returns false when there is none this reader understands. x86_64 only (elsewhere: false).
bool cfa_rule_at(const void* eh_frame_hdr, uintptr_t pc, CfaRule* out);

}  // namespace vdsotrace::tracer::wrappers
