// Who in a Go program asked for the time.
//
// Go never calls libc for the clock: a handful of runtime assembly functions (time.now,
// runtime.nanotime1, runtime.walltime, ...) call the vDSO pointers the runtime looked up itself.
// The return address of such a call therefore always names the runtime, never the code that
// wanted the time. Go keeps a frame-pointer chain on amd64 (the assembler saves BP in every
// frame that has locals, these functions included), so the caller worth reporting is found by
// following that chain past the "plumbing": the first return address outside these functions.
//
// Freestanding on purpose (no libc, no TLS, no globals): the same walk runs in the preloaded
// shim (cgo programs) and in the code vdsotrace injects into statically linked Go programs.
#pragma once

#include <cstdint>

namespace vdsotrace::tracer::go {

// Go functions between a Go caller and a vDSO call (Go 1.17 and later, amd64). ".abi0" is how an
// assembly function's symbol is named once it has an ABIInternal wrapper. Missing names are fine.
// The functions that call the vDSO come first, those that call them after.
inline constexpr const char* kTimePlumbing[] = {
    "time.now",          "runtime.nanotime1", "runtime.nanotime1.abi0", "runtime.walltime",
    "runtime.walltime.abi0", "runtime.walltime1", "runtime.walltime1.abi0", "runtime.vgetrandom1",
    "runtime.vgetrandom1.abi0", "time.Now",     "runtime.nanotime",  "time.runtimeNano",
    "runtime.time_now",  "time.Since",        "time.Until",
};
inline constexpr unsigned kMaxPlumbing = sizeof(kTimePlumbing) / sizeof(kTimePlumbing[0]);

// Runtime addresses [begin, end) of the plumbing functions found in the program's symbol table.
struct CodeRange {
    uintptr_t begin;
    uintptr_t end;
};
struct Plumbing {
    CodeRange ranges[kMaxPlumbing];  // in kTimePlumbing order: the functions that call the vDSO first
    uint32_t count;  // 0: not a Go program, or no symbol table: attribute to the return address
    CodeRange bounds;  // the smallest range holding them all: most Go code is outside it
};

// Adds a function's range (in kTimePlumbing order, for the fastest answer on the common path).
inline void add_plumbing(Plumbing& p, CodeRange r) {
    if (p.count == kMaxPlumbing) return;
    if (p.count == 0 || r.begin < p.bounds.begin) p.bounds.begin = r.begin;
    if (p.count == 0 || r.end > p.bounds.end) p.bounds.end = r.end;
    p.ranges[p.count++] = r;
}

inline bool in_plumbing(const Plumbing& p, uintptr_t pc) {
    if (pc < p.bounds.begin || pc >= p.bounds.end) return false;
    for (uint32_t i = 0; i < p.count; ++i)
        if (pc >= p.ranges[i].begin && pc < p.ranges[i].end) return true;
    return false;
}

// Frames followed at most: time.now <- time.Now <- time.Since is the deepest plumbing there is.
inline constexpr unsigned kMaxPlumbingFrames = 4;

// The return address to attribute a vDSO call to. `ret` is the call's return address and `fp`
// the frame pointer at the call (the calling plumbing function's frame). The chain is followed
// only from inside plumbing, whose frames Go guarantees, and only upwards (a caller's frame lies
// above its callee's), so a broken chain ends the walk instead of looping.
inline uintptr_t attribute_caller(const Plumbing& p, uintptr_t ret, uintptr_t fp) {
    for (unsigned depth = 0; depth < kMaxPlumbingFrames && in_plumbing(p, ret); ++depth) {
        if (fp == 0 || (fp & 7) != 0) break;
        const auto* frame = reinterpret_cast<const uintptr_t*>(fp);
        const uintptr_t caller_fp = frame[0];
        ret = frame[1];
        if (caller_fp <= fp) break;
        fp = caller_fp;
    }
    return ret;
}

}  // namespace vdsotrace::tracer::go
