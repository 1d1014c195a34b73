// Finds the mappings around an address by reading /proc/self/maps with plain system calls and a
// fixed buffer: usable inside a SIGSEGV handler running on an alternate stack (no allocation, no
// stdio, no locks).
#pragma once

#include <cstdint>

namespace vdsotrace::tracer {

struct MapRange {
    uint64_t start = 0;
    uint64_t end = 0;   // 0: none found
    bool readable = false;
    bool writable = false;
    bool accessible = false;  // any of r, w, x (PROT_NONE guard pages are not)
};

// `containing`: the mapping holding `address` (end == 0 if none); `above`: the nearest mapping
// starting above `address`. Returns false when /proc/self/maps cannot be read.
bool lookup_mappings(uint64_t address, MapRange* containing, MapRange* above);

}  // namespace vdsotrace::tracer
