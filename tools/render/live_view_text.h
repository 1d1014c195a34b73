// `vdsotrace top`'s view written out: plain text lines for the screen, JSON for scripts.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/report/live_rates.h"

namespace vdsotrace::tools {

nlohmann::json view_json(const LiveView& view);

// Plain text of the view, every line at most `width` columns.
std::vector<std::string> view_lines(const LiveView& view, const std::string& title, size_t width);

}  // namespace vdsotrace::tools
