#include "tools/report/call_tree.h"

#include <algorithm>

namespace vdsotrace::tools {

std::vector<const CallTreeNode*> CallTreeNode::sorted_children() const {
    std::vector<const CallTreeNode*> v;
    for (const auto& [name, child] : children) v.push_back(child.get());
    std::stable_sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->calls > b->calls; });
    return v;
}

CallTreeNode build_call_tree(const std::vector<StackRow>& stacks, bool bottom_up) {
    CallTreeNode root;
    for (const StackRow& row : stacks) {
        std::vector<std::string> path;
        for (const StackFrame& fr : row.frames) path.push_back(fr.name());
        path.push_back(leaf_name(row));
        if (bottom_up) std::reverse(path.begin(), path.end());
        root.calls += row.calls;
        CallTreeNode* node = &root;
        for (const std::string& name : path) {
            auto& child = node->children[name];
            if (!child) {
                child = std::make_unique<CallTreeNode>();
                child->name = name;
            }
            child->calls += row.calls;
            node = child.get();
        }
    }
    return root;
}

}  // namespace vdsotrace::tools
