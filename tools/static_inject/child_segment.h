// Creates the recording of a static program, on its behalf: the segment the shim would have
// created in it (same name, layout and header), with the module table already holding the
// executable and the vDSO. Without TLS the trampoline cannot tell threads apart, so the thread
// slots are per CPU (format::kFlagCpuSlots), named "cpu N"; the shared slot takes calls when the
// CPU number cannot be read.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "tools/static_inject/child_program.h"
#include "tools/static_inject/child_vdso.h"

namespace vdsotrace::inject {

// Caller entries of the shared slot: room for the Go runtime's own call sites and many of the
// program's (16 bytes each).
inline constexpr uint32_t kStaticCallerCapacity = 4096;

struct ChildSegment {
    std::string path;          // /dev/shm/vdsotrace-<uid>-<session>-<pid>-<id>
    uint64_t size = 0;
    uint64_t shared_slot_offset = 0;
    uint32_t caller_mask = 0;
    uint64_t cpu_slots_offset = 0;  // the first per-CPU slot
    uint32_t cpu_slot_count = 0;
    uint64_t slot_size = 0;
};

// Per-CPU slots at most (one per configured CPU; beyond, CPUs share slots by number modulo this).
inline constexpr uint32_t kMaxCpuSlots = 256;

bool create_child_segment(pid_t pid, const std::string& session, const std::string& exe, const ChildProgram& program,
                          const ChildVdso& vdso, ChildSegment* out, std::string* why);

}  // namespace vdsotrace::inject
