// Call trees of sampled stacks: top-down (from the entry point to the clock call) and bottom-up
// (from the clock call back to the entry point), merged by frame name, with counts.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
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
// clock function (top-down), or the reverse (bottom-up). Written out by tools/render/
// (call_tree_text.h: the report's indented trees; flamegraph_svg.cpp).
CallTreeNode build_call_tree(const std::vector<StackRow>& stacks, bool bottom_up);

}  // namespace vdsotrace::tools
