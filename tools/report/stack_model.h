// Sampled stacks as data: merged across threads and processes, symbolized, filtered. What the
// call trees, folded stacks, flame graph, pprof profile and JSON "stacks" are written from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/recordings/segment_reader.h"
#include "tools/symbols/symbolizer.h"

namespace vdsotrace::tools {

// The module of a Python function's frame in a sampled stack (the shim reads the interpreter's
// frames and puts them beside each _PyEval_EvalFrameDefault frame; see tracer/python/).
inline constexpr char kPythonModule[] = "[python]";

struct StackFrame {
    std::string symbol;   // demangled function, "" when unknown
    std::string module;   // path of the module, "" when unknown
    std::string file;     // source file, "" without debug info
    int line = 0;
    uint64_t address = 0; // return address in the process
    uint64_t offset = 0;  // address relative to the module's load bias
    bool inlined = false; // inlined into the frame before it (towards the root), at the same address
    std::string unnamed_because;  // why `symbol` is empty (symbolizer.h unnamed_because)
    // Display name: the symbol, else "module+0xoffset", else "0xaddress".
    std::string name() const;
};

struct StackRow {
    std::string function;  // the clock function called at the leaf
    std::string clock;     // its clock, "" for functions without one
    uint64_t calls = 0;
    // Root first. A return address whose code was inlined gives several frames: the outer
    // function first, then each inlined function (marked `inlined`), all with that address.
    std::vector<StackFrame> frames;
};

struct StackFilter {
    int tid = 0;            // only this thread's samples (0: all)
    std::string function;   // only stacks with a frame whose name contains this (or calling it)
};

struct StackReport {
    bool enabled = false;   // some recording sampled stacks
    uint32_t period = 0;
    uint32_t max_depth = 0;
    std::string unwinder;   // "unwind tables", "libunwind", "frame pointers"
    SampleTotals totals;    // over the threads that pass the filter
    uint64_t stack_calls = 0;     // calls in `stacks` (the filtered ones)
    uint64_t distinct_stacks = 0; // in the recordings' stack tables
    bool stacks_full = false;
    bool unwinder_missing = false;
    uint64_t ring_samples = 0;    // recent samples readable in the rings
    uint64_t ring_missed = 0;     // ring entries torn or overwritten while read
    std::vector<StackRow> stacks; // by calls, descending
};

StackReport build_stack_report(const std::vector<Recording>& recordings, const StackFilter& filter,
                               Symbolizer& symbolizer);

// Name of the leaf frame standing for the clock call itself ("clock_gettime").
std::string leaf_name(const StackRow& row);

}  // namespace vdsotrace::tools
