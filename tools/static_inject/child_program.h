// What the injector needs to know about a static program's executable file: where it is loaded
// in the child (static-pie programs move), its build id for symbolization, and the addresses of
// the Go runtime's time functions (tracer/go_callers.h) when it is a Go program.
#pragma once

#include <cstdint>
#include <string>

#include <vector>

#include "tracer/common/go_callers.h"
#include "tools/static_inject/trampoline_abi.h"

namespace vdsotrace::inject {

struct ChildProgram {
    uint64_t load_bias = 0;  // runtime address - ELF address
    uint64_t start = 0;      // runtime range of its PT_LOAD segments
    uint64_t end = 0;
    std::string build_id;    // raw bytes
    tracer::go::Plumbing plumbing{};  // runtime addresses; count 0 for C programs
    std::vector<WrapperRow> wrappers; // libc's clock wrappers, runtime addresses (C programs)
    bool wrappers_truncated = false;  // more rows than the trampoline holds: some are left out
    // Per function, the row of the one vDSO call in libc's wrapper of that name (static glibc's
    // __clock_gettime, ...; TrampolineData::usual_wrappers); begin 0: none.
    WrapperRow usual_wrappers[format::kFunctionCount]{};
    uint64_t rseq_offset_at = 0;      // runtime addresses of glibc's __rseq_offset and __rseq_size
    uint64_t rseq_size_at = 0;        // (static glibc 2.35+ with a symbol table; else 0)
};

// Reads `path` (the child's executable). `entry` is the child's AT_ENTRY: it gives the load
// bias. False with a reason when the file cannot be read as ELF.
bool read_child_program(const std::string& path, uint64_t entry, ChildProgram* out, std::string* why);

}  // namespace vdsotrace::inject
