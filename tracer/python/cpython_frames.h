// Python call sites of clock calls made by CPython 3.11-3.13, read in-process the way py-spy and
// austin read them from outside: the calling thread's state -> its current interpreter frame ->
// code object and instruction -> name, file and line (co_linetable).
//
// Every clock call site inside the interpreter's module (the python3 executable or libpython,
// recognised by its exported Py_Version) is such a site: time.monotonic(), perf_counter(),
// time(), sleep() and lock timeouts alike are charged to the Python line that made them, via the
// interpreter's C call site. The structure layouts are per minor version, chosen from Py_Version;
// the first read is checked with fault-free reads (process_vm_readv) before any plain one, and
// every read frame must hold a code object (its type is PyCode_Type) with the instruction inside
// its bytecode. A runtime that cannot be read is named once in the recording, with why, and its
// calls count at the C call site as before. No GIL is taken: only the thread that holds it (the
// one whose own thread state is current) reads its own frames.
#pragma once

#include <cstdint>

#include "tracer/engine/segment_create.h"

namespace vdsotrace::tracer::python {

// True when `pc` lies in a CPython runtime this shim reads (slow path: once per call site).
bool in_cpython(uintptr_t pc);

// The calling thread's Python call site as format::kPythonSiteTag | index into the segment's
// Python site table; 0 when there is none to read (no Python frame, not this thread's turn, a
// check failed, the table is full).
uint64_t current_site();

// Sampled stacks: after each _PyEval_EvalFrameDefault frame of `frames` (return addresses, leaf
// first), the Python frames that call of the interpreter runs, as format::kPythonSiteTag | index
// (the reader names them and shows them in its place). Returns the new count, at most `max`
// (frames beyond it, at the root end, are cut). Unchanged when the runtime is not read or this
// thread runs no Python code. Cold: once per sampled call, fault-free reads only.
uint32_t interleave(uintptr_t* frames, uint32_t n, uint32_t max);

void bind_segment(Segment* seg);
void forget_after_fork();

}  // namespace vdsotrace::tracer::python
