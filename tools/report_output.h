// Writes a Report for people (aligned plain text) and for scripts (JSON, documented in README).
#pragma once

#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "report_model.h"

namespace vdsotrace::tools {

struct TextOptions {
    size_t top_callers = 20;
    bool per_process = false;  // each process's calls per function and clock
};

void write_text(const Report& report, const TextOptions& options, std::ostream& out);
nlohmann::json to_json(const Report& report);

// "12,345,678"
std::string group_digits(uint64_t v);

}  // namespace vdsotrace::tools
