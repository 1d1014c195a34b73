// Rates between two readings of the same recordings: what `vdsotrace top` shows. A reading is a
// plain read of each segment (pread): the writers are never blocked nor slowed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/recordings/segment_reader.h"

namespace vdsotrace::tools {

class Symbolizer;

// The recordings of a target at one moment, by file.
struct Reading {
    uint64_t monotonic_ns = 0;
    std::map<std::string, Recording> recordings;
};

// Reads the recordings `target` names now (SESSION, PID, or empty: the newest session).
// Returns false with a message when nothing matches.
bool take_reading(const std::string& target, Reading* out, std::string* error);

struct RateRow {
    std::string function;
    std::string clock;     // "" for functions without a clock id
    double rate = 0;       // calls per second over the interval
    uint64_t calls = 0;    // total so far
};

struct CallerRate {
    std::string function;
    std::string clock;
    std::string name;      // symbol (module+offset when unknown)
    std::string where;     // module+offset
    int pid = 0;
    uint64_t address = 0;  // return address in that process
    double rate = 0;
    uint64_t calls = 0;
};

struct ProcessRate {
    int pid = 0;
    std::string exe;
    std::string state;     // running, exit N, signal N, ended, vanished, exec'd
    double rate = 0;
    uint64_t calls = 0;
};

enum class SortKey { kRate, kTotal, kName };

struct LiveView {
    double seconds = 0;    // length of the interval
    double total_rate = 0;
    uint64_t total_calls = 0;
    std::vector<RateRow> clocks;
    std::vector<CallerRate> callers;
    std::vector<ProcessRate> processes;
};

// Names call sites for the live view; caches across refreshes.
class CallerNamer {
public:
    CallerNamer();
    ~CallerNamer();
    std::string name(const Recording& r, uint64_t address, std::string* where);

private:
    std::unique_ptr<Symbolizer> symbolizer_;
    std::map<std::pair<std::string, uint64_t>, std::pair<std::string, std::string>> cache_;
};

// The rates between `before` and `after`, sorted by `key`; at most `max_callers` callers.
LiveView compute_view(const Reading& before, const Reading& after, SortKey key, size_t max_callers, CallerNamer* namer);

nlohmann::json view_json(const LiveView& view);

// Plain text of the view, every line at most `width` columns.
std::vector<std::string> view_lines(const LiveView& view, const std::string& title, size_t width);

}  // namespace vdsotrace::tools
