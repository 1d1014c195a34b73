// Recognises a Go program from its executable and finds its time plumbing (tracer/common/go_callers.h).
//
// Constructor only. Whether the program is Go is read from its notes in memory (no system call);
// only a Go program's executable is then read from /proc/self/exe (open, mmap, munmap).
#pragma once

#include "tracer/common/go_callers.h"

namespace vdsotrace::shim {

struct GoProgram {
    bool is_go = false;  // the executable carries Go's build-id note
    bool has_symbols = false;  // function names were found (.symtab, or .gopclntab when stripped)
    tracer::go::Plumbing plumbing{};  // runtime addresses of the plumbing functions found
};

// Reads the running executable. When its file cannot be read or makes no sense, a Go program
// still is one (is_go), without symbols (has_symbols false, no plumbing).
GoProgram inspect_executable();

}  // namespace vdsotrace::shim
