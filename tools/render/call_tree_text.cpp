#include "tools/render/call_tree_text.h"

#include <algorithm>
#include <map>
#include <string>

#include <fmt/format.h>

#include "tools/render/group_digits.h"

namespace vdsotrace::tools {

namespace {

void write_node(const CallTreeNode& node, int depth, uint64_t total, size_t max_children, double min_share,
                std::ostream& out) {
    size_t shown = 0;
    uint64_t left_calls = 0;
    size_t left_paths = 0;
    for (const CallTreeNode* child : node.sorted_children()) {
        if (shown == max_children || double(child->calls) < min_share * double(total)) {
            left_calls += child->calls;
            ++left_paths;
            continue;
        }
        ++shown;
        out << fmt::format("{:>15} {:>6.1f}%  {:{}}{}\n", group_digits(child->calls),
                           total ? 100.0 * double(child->calls) / double(total) : 0.0, "", depth * 2, child->name);
        write_node(*child, depth + 1, total, max_children, min_share, out);
    }
    if (left_paths)
        out << fmt::format("{:>15} {:>6.1f}%  {:{}}... {} more path{} (--top, --function, --folded show them)\n",
                           group_digits(left_calls), total ? 100.0 * double(left_calls) / double(total) : 0.0, "",
                           depth * 2, left_paths, left_paths == 1 ? "" : "s");
}

}  // namespace

void write_call_tree(const CallTreeNode& root, uint64_t total, size_t max_children, double min_share,
                     std::ostream& out) {
    write_node(root, 0, total, max_children, min_share, out);
}

void write_folded(const std::vector<StackRow>& stacks, std::ostream& out) {
    // Rows differing only in clock id or inlining details can fold to one line: sum them.
    std::map<std::string, uint64_t> lines;
    for (const StackRow& row : stacks) {
        std::string line;
        for (const StackFrame& fr : row.frames) {
            std::string name = fr.name();
            // ';' separates frames and a trailing " N" is the count: keep both out of names.
            std::replace(name.begin(), name.end(), ';', ',');
            line += name;
            line += ';';
        }
        line += leaf_name(row);
        lines[line] += row.calls;
    }
    for (const auto& [line, calls] : lines) out << line << ' ' << calls << '\n';
}

}  // namespace vdsotrace::tools
