// The function containing a code address, from the module's FILE: its .symtab, or the one of its
// separate debug file (/usr/lib/debug/.build-id/xx/yyyy.debug, or the .gnu_debuglink name).
//
// The in-memory dynamic symbol table (symbol_at.h) names only exported functions; the wrappers
// runtimes hide (node's `uv__hrtime`, HotSpot's `os::javaTimeNanos`, static functions) are only
// in .symtab, which is never loaded. Runs on the shim's slow path, once per decision, possibly
// inside a signal handler: only system calls (open, pread, lseek, mmap, close, readlink), no
// allocation, no lock, no stdio. The first time one of a module's addresses is looked up, its
// file's section headers are read (pread, a few hundred bytes: most programs are stripped) and
// only a file that holds a .symtab (the module's own, or its debug file's) is mapped (read-only,
// lazily paged), for the process's life; its .symtab is then scanned linearly per lookup (~100k
// symbols in node: 5 to 150 us, once per call site). Another thread reading the same module's
// file meanwhile is waited for (a bounded spin); the same thread (a signal handler that
// interrupted it) is told kNotNow.
#pragma once

#include <cstddef>
#include <cstdint>

struct dl_find_object;

namespace vdsotrace::tracer::wrappers {

enum class FileName {
    kFound,     // *name points at the name, in the module's mapped file (valid for the process's life)
    kNone,      // no function symbol there, or no file or symbol table for the module: final
    kNotNow,    // the module's file is being read by a frame this one interrupted: ask again later
};

// The function symbol containing `pc` in the file of the module `found` describes. Small on the
// stack (a first clock call may run on 1 KiB): paths are built in the module's table entry.
FileName file_function_at(const dl_find_object& found, uintptr_t pc, const char** name);

// The program is installing a sandbox (a seccomp filter): reads the files of every module loaded
// now, and from then on opens no file (a module loaded later is looked up in its dynamic symbols
// only). Cold; system calls allowed until it returns.
void read_files_before_sandbox();

// A library whose mapping began in [start, end) was unloaded (dlclose): its file's table is
// forgotten, so another library loaded at that address is read afresh. The old mapping stays
// (a lookup on another thread may be reading it). Cold.
void forget_file_symbols_in(uintptr_t start, uintptr_t end);

}  // namespace vdsotrace::tracer::wrappers
