// Names code that lies in no ELF module: functions a JIT compiler (V8, HotSpot, CPython 3.12's
// perf trampolines) lists in the perf map it writes, perf's convention: /tmp/perf-PID.map, one
// "START SIZE name" line per function, START and SIZE in hex (an optional 0x), name to the end.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vdsotrace::tools {

class PerfMap {
public:
    // Parses the text of a perf map. Malformed lines are skipped. Where ranges overlap (a runtime
    // reusing code space after its garbage collector moved or freed code), the later line wins, as
    // in perf: it describes the code that was there last.
    static PerfMap parse(std::string_view text);

    // The function holding `address` and the address's offset in it, or null.
    const std::string* find(uint64_t address, uint64_t* offset) const;

    bool empty() const { return ranges_.empty(); }
    size_t lines() const { return lines_; }

private:
    struct Range {
        uint64_t start;
        uint64_t end;        // exclusive
        uint64_t symbol_start;  // where the function starts (a range may be the tail of one)
        uint32_t name;       // index into names_
    };
    std::vector<Range> ranges_;  // sorted by start, never overlapping
    std::vector<std::string> names_;
    size_t lines_ = 0;
};

}  // namespace vdsotrace::tools
