// Files made from the sampled stacks: folded text, flame graph SVG, pprof profile.
#pragma once

#include <ostream>
#include <string>

#include "tools/report/stack_model.h"

namespace vdsotrace::tools {

// Files written from the sampled stacks, and which stacks go into them (report and run alike).
struct StackOutputs {
    std::string folded;         // --folded FILE: collapsed stacks, root first
    std::string flamegraph;     // --flamegraph FILE.svg
    std::string pprof;          // --pprof FILE: gzip'd profile.proto
    int thread = 0;             // --thread TID
    std::string function;       // --function NAME
};

// Writes whichever of --folded, --flamegraph, --pprof were asked for; false (after saying why)
// when a file cannot be written.
bool write_stack_files(const StackReport& stacks, const StackOutputs& outputs);

// A self-contained interactive SVG: hover for counts, click to zoom, no external resources.
void write_flamegraph(const StackReport& stacks, const std::string& title, std::ostream& out);

// The gzip-compressed profile.proto bytes; false with `error` when compression fails.
bool write_pprof(const StackReport& stacks, std::ostream& out, std::string* error);

}  // namespace vdsotrace::tools
