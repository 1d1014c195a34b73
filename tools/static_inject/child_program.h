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
    // __clock_gettime, ...; TrampolineData::usual_wrappers); begin 0: none. See choose_usual_wrappers.
    WrapperRow usual_wrappers[format::kFunctionCount]{};
    uint64_t rseq_offset_at = 0;      // runtime addresses of glibc's __rseq_offset and __rseq_size
    uint64_t rseq_size_at = 0;        // (static glibc 2.35+ with a symbol table; else 0)
};

// One of libc's clock wrappers as the injector reads it (runtime addresses).
struct WrapperFunction {
    uint64_t start = 0;
    uint64_t end = 0;
    int function = -1;                   // the vDSO function its names say it calls (format::Function), or -1
    unsigned calls = 0;                  // call instructions in it
    std::vector<WrapperRow> rows;        // rows for those calls, where their frame size is known
    std::vector<uint64_t> call_targets;  // where its direct calls go
};

// Per function, its usual wrapper, the one the trampoline's fast path steps out of without the
// rows' table and whose caller it takes as the program's (no check that it is not another wrapper):
// a wrapper named for that function, with one call, that call's row, and no direct call into it
// from any wrapper (musl's time and gettimeofday call its __clock_gettime; glibc's wrappers call
// the vDSO only, through pointers). `out[fn].begin` stays 0 where there is none.
void choose_usual_wrappers(const std::vector<WrapperFunction>& wrappers, WrapperRow out[format::kFunctionCount]);

// Reads `path` (the child's executable). `entry` is the child's AT_ENTRY: it gives the load
// bias. False with a reason when the file cannot be read as ELF.
bool read_child_program(const std::string& path, uint64_t entry, ChildProgram* out, std::string* why);

}  // namespace vdsotrace::inject
