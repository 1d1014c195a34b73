// What the fuzz target and the regression test do with one input (see fuzz_recording.cpp).
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "tools/recordings/recording_archive.h"
#include "tools/report/report_model.h"
#include "tools/render/report_output.h"
#include "tools/recordings/segment_reader.h"

namespace vdsotrace::fuzz {

// The two parsers alone, as the fuzzer drives them: a segment image, or a saved archive of them.
// Returns true when accepted; false with a message otherwise. Aborts (a bug) when refused
// without a message.
inline bool parse_like_reader(const std::vector<unsigned char>& bytes) {
    std::string error;
    const bool accepted = tools::is_archive(bytes) ? tools::parse_archive(bytes, "fuzz-input", &error).has_value()
                                                   : tools::parse_recording(bytes, "fuzz-input", &error).has_value();
    if (!accepted && error.empty()) __builtin_trap();  // refused without saying why
    return accepted;
}

// Returns true when the bytes were accepted as a recording; false with a message otherwise.
// Aborts (a bug) when refused without a message.
inline bool read_like_report(const std::vector<unsigned char>& bytes, std::string* why = nullptr) {
    std::string error;
    auto r = tools::parse_recording(bytes, "fuzz-input", &error);
    if (!r) {
        if (error.empty()) __builtin_trap();  // refused without saying why
        if (why) *why = error;
        return false;
    }
    std::vector<tools::Recording> recordings;
    recordings.push_back(std::move(*r));
    const tools::Report report = tools::build_report(recordings, 0);
    std::ostringstream text;
    tools::write_text(report, tools::TextOptions{}, text);
    const std::string json = tools::json_text(tools::to_json(report));
    if (text.str().empty() || json.empty()) __builtin_trap();
    return true;
}

}  // namespace vdsotrace::fuzz
