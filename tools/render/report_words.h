// The report's sentences: what the model holds as data (reasons, suggestions, notes, a crash, a
// low-stack call), said in words. The text and JSON renderers both write these.
#pragma once

#include <string>

#include "tools/report/report_model.h"

namespace vdsotrace::tools {

std::string fallback_reason_text(const FallbackRow& row);
std::string fallback_suggestion_text(const FallbackRow& row);  // "" when there is none
std::string fallback_basis_text(FallbackBasis basis);          // "" for kNone
std::string process_note_text(const ProcessNote& note);
std::string headroom_text(const HeadroomRow& row);
std::string crash_text(const CrashReport& crash);

}  // namespace vdsotrace::tools
