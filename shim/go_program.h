// Recognises a Go program from its executable and finds its time plumbing (tracer/go_callers.h).
//
// Constructor only. Whether the program is Go is read from its notes in memory (no system call);
// only a Go program's executable is then read from /proc/self/exe (open, mmap, munmap).
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
