// How to step out of one frame at one code address, from the module's .eh_frame: the one reader
// of call frame information in the engine. Used by the sampler's unwinder (fast_unwind.h), by the
// clock wrappers' stepping (tracer/wrappers/) and by the walk out of libc's internal clock calls
// (shim/libc_internal.cpp).
//
// Read from the module's own PT_GNU_EH_FRAME (found by _dl_find_object) in memory: no file, no
// allocation, no lock, so it runs on the shim's slow path from any context, signal handlers too.
// Only the rules compiled x86_64 code uses are understood: CFA = SP + offset (code without a
// frame pointer) or FP + offset (with one), the return address at CFA - 8 (or undefined: the
// outermost frame), the caller's frame pointer unchanged or saved at CFA + offset. Anything else
// (DWARF expressions, 64-bit FDEs, unknown encodings) is reported as not understood, never
// guessed; signal frames are only flagged (the CIE's 'S'), their registers come from the kernel's
// signal frame (fast_unwind.cpp).
#pragma once

#include <cstdint>

namespace vdsotrace::tracer::unwind {

inline constexpr int32_t kFpNotSaved = INT32_MIN;

struct FrameRule {
    bool cfa_from_fp;      // CFA = frame pointer + cfa_offset (else stack pointer + cfa_offset)
    int32_t cfa_offset;
    // The caller's frame pointer: at CFA + fp_saved_at, or kFpNotSaved (the register is unchanged).
    int32_t fp_saved_at;
    bool fp_known;         // false: the frame pointer's rule is one this reader does not follow
    bool outermost;        // the return address is undefined: no caller (_start, a thread's start)
    bool ra_known;         // the return address is at CFA - 8, or outermost
    bool signal_frame;     // the FDE's CIE says 'S': a signal trampoline (its CFA rule is ignored)
};

// The rule in force at `pc` in the code covered by the .eh_frame_hdr at `eh_frame_hdr`. For a
// return address, pass the address of the call (return address - 1). Returns false when there
// is no FDE for `pc` or its CFA rule is not one of the two above (unless it is a signal frame).
// x86_64 only (elsewhere: false).
bool frame_rule_at(const void* eh_frame_hdr, uintptr_t pc, FrameRule* out);

}  // namespace vdsotrace::tracer::unwind
