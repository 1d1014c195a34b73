// Rates between two readings of the same recordings (tools/recordings/live_reading.h): what
// `vdsotrace top` shows, as data; tools/render/live_view_text.h writes it out.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tools/recordings/live_reading.h"
#include "tools/recordings/recording_store.h"

namespace vdsotrace::tools {

class Symbolizer;

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
    std::string recording;  // the recording it was counted in (an exec'd pid has several)
    uint64_t address = 0;   // return address in that process, or a Python call site (kPythonSiteTag)
    double rate = 0;
    uint64_t calls = 0;
};

struct ProcessRate {
    int pid = 0;
    std::string exe;
    ProcessFate fate = ProcessFate::kRunning;  // at the later reading
    int exit_value = 0;    // exit code or signal number
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

}  // namespace vdsotrace::tools
