// Counts as people read them, "12,345,678": shared by the renderers and by the model's own text
// (call_tree.cpp's indented tree, live_rates.cpp's `top` screen), so it lives below both.
#pragma once

#include <cstdint>
#include <string>

namespace vdsotrace::tools {

std::string group_digits(uint64_t v);

}  // namespace vdsotrace::tools
