// Files made from the sampled stacks: folded text, flame graph SVG, pprof profile.
#pragma once

#include <ostream>
#include <string>

#include "tools/commands/commands.h"
#include "tools/report/stack_model.h"

namespace vdsotrace::tools {

// Writes whichever of --folded, --flamegraph, --pprof were asked for; false (after saying why)
// when a file cannot be written.
bool write_stack_files(const StackReport& stacks, const StackOutputs& outputs);

// A self-contained interactive SVG: hover for counts, click to zoom, no external resources.
void write_flamegraph(const StackReport& stacks, const std::string& title, std::ostream& out);

// The gzip-compressed profile.proto bytes; false with `error` when compression fails.
bool write_pprof(const StackReport& stacks, std::ostream& out, std::string* error);

}  // namespace vdsotrace::tools
