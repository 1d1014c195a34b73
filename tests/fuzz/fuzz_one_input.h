// What the fuzz target and the regression test do with one input (see fuzz_recording.cpp).
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tools/recordings/recording_archive.h"
#include "tools/recordings/recording_file.h"
#include "tools/report/report_model.h"
#include "tools/render/report_output.h"
#include "tools/recordings/segment_reader.h"

namespace vdsotrace::fuzz {

// The three parsers alone, as the fuzzer drives them: a segment image, an archive of them, or a
// recording file (a compressed archive with a symbol table; decompressed up to 64 MiB here, so a
// small input claiming gigabytes stays within the fuzzer's memory). Returns true when accepted;
// false with a message otherwise. Aborts (a bug) when refused without a message.
inline bool parse_like_reader(const std::vector<unsigned char>& bytes) {
    std::string error;
    const bool accepted =
        tools::is_recording_file(bytes)
            ? tools::parse_recording_file(bytes, "fuzz-input", &error, uint64_t(64) << 20).has_value()
        : tools::is_archive(bytes) ? tools::parse_archive(bytes, "fuzz-input", &error).has_value()
                                   : tools::parse_recording(bytes, "fuzz-input", &error).has_value();
    if (!accepted && error.empty()) __builtin_trap();  // refused without saying why
    return accepted;
}

// Returns true when the bytes were accepted as a recording; false with a message otherwise.
// Aborts (a bug) when refused without a message.
inline bool read_like_report(const std::vector<unsigned char>& bytes, std::string* why = nullptr) {
    std::string error;
    std::optional<std::vector<tools::Recording>> r;
    if (tools::is_recording_file(bytes))
        r = tools::parse_recording_file(bytes, "fuzz-input", &error, uint64_t(64) << 20);
    else if (tools::is_archive(bytes))
        r = tools::parse_archive(bytes, "fuzz-input", &error);
    else if (auto one = tools::parse_recording(bytes, "fuzz-input", &error))
        r = std::vector<tools::Recording>{std::move(*one)};
    if (!r) {
        if (error.empty()) __builtin_trap();  // refused without saying why
        if (why) *why = error;
        return false;
    }
    std::vector<tools::Recording> recordings = std::move(*r);
    const tools::Report report = tools::build_report(recordings);
    std::ostringstream text;
    tools::write_text(report, tools::TextOptions{}, text);
    const std::string json = tools::json_text(tools::to_json(report));
    if (text.str().empty() || json.empty()) __builtin_trap();
    return true;
}

}  // namespace vdsotrace::fuzz
