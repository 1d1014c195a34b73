// Recognises a Go program from its executable and finds its time plumbing (tracer/go_callers.h).
//
// Constructor only: reads /proc/self/exe (open, mmap, munmap), so it may not run on a call.
#pragma once

#include "go_callers.h"

namespace vdsotrace::shim {

struct GoProgram {
    bool is_go = false;  // the executable has Go's build information (.go.buildinfo / .note.go.buildid)
    bool has_symbols = false;  // function names were found (.symtab, or .gopclntab when stripped)
    tracer::go::Plumbing plumbing{};  // runtime addresses of the plumbing functions found
};

// Reads the running executable. Anything unreadable or malformed gives is_go = false.
GoProgram inspect_executable();

}  // namespace vdsotrace::shim
