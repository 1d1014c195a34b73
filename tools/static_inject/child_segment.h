// Creates the recording of a static program, on its behalf: the segment the shim would have
// created in it (same name, layout and header), with the module table already holding the
// executable and the vDSO. All its calls are counted in the shared overflow thread slot (no
// private thread slots: without TLS the trampoline cannot tell threads apart).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "child_program.h"
#include "child_vdso.h"

namespace vdsotrace::inject {

// Caller entries of the shared slot: room for the Go runtime's own call sites and many of the
// program's (16 bytes each).
inline constexpr uint32_t kStaticCallerCapacity = 4096;

struct ChildSegment {
    std::string path;          // /dev/shm/vdsotrace-<uid>-<session>-<pid>-<id>
    uint64_t size = 0;
    uint64_t shared_slot_offset = 0;
    uint32_t caller_mask = 0;
};

bool create_child_segment(pid_t pid, const std::string& session, const std::string& exe, const ChildProgram& program,
                          const ChildVdso& vdso, ChildSegment* out, std::string* why);

}  // namespace vdsotrace::inject
