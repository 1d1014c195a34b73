// The contract between the shim and `vdsotrace attach` (tools/attach/), which loads the shim into
// a running process with an injected dlopen call. The shim exports one object, `vdsotrace_attach`
// (libvdsotrace.map). Its constructor notices the late load (the shim lies after libc in the link
// map, which a preloaded library never does), fills this block and changes nothing in the
// program; the injector then, with every thread stopped, writes the session and switches the
// program's pointers to the shim (and back at the end) through /proc/PID/mem.
// Plain data, no libc types: included by the shim and by the tools.
#pragma once

#include <cstdint>

namespace vdsotrace::attach {

inline constexpr uint64_t kAttachMagic = 0x32484354544154ull;  // "TATTCH2"
inline constexpr unsigned kMaxLibcSlots = 16;
inline constexpr unsigned kSessionSize = 48;
inline constexpr unsigned kDirectEntries = 6;  // format::kCountedFunctions, in format::Function order

struct AttachBlock {
    uint64_t magic;               // kAttachMagic once the constructor filled the block
    uint32_t late;                // 1: loaded into a running process (attach); 0: preloaded at start
    uint32_t libc_slot_count;     // the loader's vDSO pointers found (shim/libc_internal.h)
    uint64_t libc_slots[kMaxLibcSlots];     // their addresses
    uint64_t libc_original[kMaxLibcSlots];  // the vDSO entries they hold
    uint64_t libc_entry[kMaxLibcSlots];     // the shim's entry each one gets while attached
    uint64_t session_address;     // where the injector writes the session (kSessionSize bytes,
                                  // NUL-terminated), before the first counted call
    // For pointers a program keeps to the vDSO's functions itself (Go's runtime.vdsoClockgettimeSym
    // and the like): the vDSO function (0: the vDSO lacks it) and the shim's direct entry that
    // counts a call and continues there (shim/direct_calls.h), by format::Function.
    uint64_t direct_target[kDirectEntries];
    uint64_t direct_entry[kDirectEntries];
    uint32_t is_go;               // the executable is a Go program: its callers are named past Go's
                                  // time plumbing (tracer/go_callers.h)
    uint32_t reserved;
};

}  // namespace vdsotrace::attach
