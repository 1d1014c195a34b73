// Sampled stacks as text: the indented call tree of `report` and the folded lines of --folded.
#pragma once

#include <cstdint>
#include <ostream>
#include <vector>

#include "tools/report/call_tree.h"
#include "tools/report/stack_model.h"

namespace vdsotrace::tools {

// Indented text: each node's calls and share of `total`; at most `max_children` children a node,
// nodes under `min_share` (0..1) of the total left out and summed up in one line.
void write_call_tree(const CallTreeNode& root, uint64_t total, size_t max_children, double min_share,
                     std::ostream& out);

// One line per distinct path, root first: "a;b;c N" (Brendan Gregg's collapsed format).
void write_folded(const std::vector<StackRow>& stacks, std::ostream& out);

}  // namespace vdsotrace::tools
