// Call trees of sampled stacks: top-down (from the entry point to the clock call) and bottom-up
// (from the clock call back to the entry point), merged by frame name, with counts.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "tools/report/stack_model.h"

namespace vdsotrace::tools {

struct CallTreeNode {
    std::string name;
    uint64_t calls = 0;
    std::map<std::string, std::unique_ptr<CallTreeNode>> children;
    // Children by calls, descending (ties by name, so output is stable).
    std::vector<const CallTreeNode*> sorted_children() const;
};

// The root is unnamed and holds the total. Each stack's path is its frames root first, then the
// clock function (top-down), or the reverse (bottom-up).
CallTreeNode build_call_tree(const std::vector<StackRow>& stacks, bool bottom_up);

// Indented text: each node's calls and share of `total`; at most `max_children` children a node,
// nodes under `min_share` (0..1) of the total left out and summed up in one line.
void write_call_tree(const CallTreeNode& root, uint64_t total, size_t max_children, double min_share,
                     std::ostream& out);

// One line per distinct path, root first: "a;b;c N" (Brendan Gregg's collapsed format).
void write_folded(const std::vector<StackRow>& stacks, std::ostream& out);

}  // namespace vdsotrace::tools
