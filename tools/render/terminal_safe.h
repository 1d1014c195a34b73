// Strings from a recording (thread names, argv, paths, symbol names) are whatever bytes the
// traced process or a module file held. Printed raw, an escape sequence in a thread name retitles
// the terminal or clears the screen of whoever reads the report (issue 12). Text output shows them
// escaped instead: \e, \n, \t, \xHH.
#pragma once

#include <string>
#include <string_view>

namespace vdsotrace::tools {

// Control characters (C0, DEL, and C1 in UTF-8 or as raw bytes 0x80-0x9f outside a valid UTF-8
// sequence) escaped; everything else unchanged. With keep_newlines, '\n' passes (whole reports).
std::string terminal_safe(std::string_view text, bool keep_newlines = false);

}  // namespace vdsotrace::tools
