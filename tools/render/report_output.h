// Writes a Report for people (aligned plain text) and for scripts (JSON, documented in README).
#pragma once

#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/report/report_model.h"

namespace vdsotrace::tools {

struct TextOptions {
    size_t top_callers = 20;
    bool per_process = false;  // each process's calls per function and clock
    // More threads or processes than `rows`: grouped by thread name and by executable, the busiest
    // `rows` groups shown and the rest counted in one line; `all` lists every one instead.
    size_t rows = 10;
    bool all = false;
};

void write_text(const Report& report, const TextOptions& options, std::ostream& out);
nlohmann::json to_json(const Report& report);

// JSON text, indented. Strings from a recording (paths, argv, thread names) are whatever bytes
// the traced process had: invalid UTF-8 is replaced (U+FFFD) rather than thrown on (found by
// tests/fuzz: `report --json` died of an uncaught exception on a non-UTF-8 argv).
std::string json_text(const nlohmann::json& j);

}  // namespace vdsotrace::tools
