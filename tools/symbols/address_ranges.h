// Finding the range that holds an address in a table of ranges sorted by start that do not
// overlap (Go's function table, a perf map): the last one starting at or below it, if it reaches it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace vdsotrace::tools {

// `start(range)` and `end(range)` (exclusive) read a range's bounds. Null when none holds `address`.
template <typename Range, typename Start, typename End>
const Range* range_holding(const std::vector<Range>& sorted, uint64_t address, Start start, End end) {
    auto it = std::upper_bound(sorted.begin(), sorted.end(), address,
                               [&](uint64_t a, const Range& r) { return a < start(r); });
    if (it == sorted.begin()) return nullptr;
    --it;
    return address < end(*it) ? &*it : nullptr;
}

}  // namespace vdsotrace::tools
