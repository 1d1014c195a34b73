// The function containing a code address, from the module's FILE: its .symtab, or the one of its
// separate debug file (/usr/lib/debug/.build-id/xx/yyyy.debug, or the .gnu_debuglink name).
//
// The in-memory dynamic symbol table (symbol_at.h) names only exported functions; the wrappers
// runtimes hide (node's `uv__hrtime`, HotSpot's `os::javaTimeNanos`, static functions) are only
// in .symtab, which is never loaded. Runs on the shim's slow path, once per decision, possibly
// inside a signal handler: only system calls (open, fstat, mmap, munmap, close, readlink), no
// allocation, no lock, no stdio. A module's file is mapped (read-only, lazily paged) the first
// time one of its addresses is looked up, and stays mapped for the process's life; its
// .symtab is then scanned linearly per lookup (~100k symbols in node: about 0.2 ms, once per
// call site).
#pragma once

#include <cstddef>
#include <cstdint>

struct dl_find_object;

namespace vdsotrace::tracer::wrappers {

// Copies into `out` the name of the function symbol containing `pc` in the file of the module
// `found` describes. Returns false when there is none (no file, no .symtab, no symbol there, or
// a name longer than `size`).
bool file_function_at(const dl_find_object& found, uintptr_t pc, char* out, size_t size);

}  // namespace vdsotrace::tracer::wrappers
