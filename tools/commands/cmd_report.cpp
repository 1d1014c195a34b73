#include <time.h>
#include <unistd.h>

#include <fstream>
#include <iostream>

#include <spdlog/spdlog.h>

#include "tools/commands/commands.h"
#include "tools/recordings/recording_archive.h"
#include "tools/recordings/recording_store.h"
#include "tools/report/report_model.h"
#include "tools/render/report_output.h"
#include "tools/render/stack_export.h"

namespace vdsotrace::tools {

namespace {

uint64_t now_monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

}  // namespace

int report_files(const std::vector<std::string>& files, const ReportOptions& options, bool text_to_stderr) {
    std::vector<Recording> recordings;
    for (const std::string& f : files) {
        std::string error;
        auto r = load_recordings(f, &error, options.allow_other_users);
        if (!r) {
            spdlog::error("{}", error);
            return kExitBadInput;
        }
        for (Recording& one : *r) recordings.push_back(std::move(one));
    }
    const Report report =
        build_report(recordings, now_monotonic_ns(), StackFilter{options.stacks.thread, options.stacks.function});
    if (!write_stack_files(report.stacks, options.stacks)) return kExitBadInput;

    std::ofstream file;
    if (!options.output.empty() && options.output != "-") {
        file.open(options.output);
        if (!file) {
            spdlog::error("cannot write {}", options.output);
            return kExitBadInput;
        }
    }
    std::ostream& out = file.is_open()                                  ? file
                        : options.output == "-"                         ? std::cout
                        : text_to_stderr && !options.json               ? std::cerr
                                                                        : std::cout;
    if (options.json)
        out << json_text(to_json(report)) << "\n";
    else
        write_text(report, TextOptions{options.top, options.per_process}, out);
    out.flush();
    return out ? kExitOk : kExitBadInput;
}

int cmd_report(const std::string& given, const ReportOptions& options) {
    std::string error, target = given;
    if (target.empty()) {
        std::string note;
        target = newest_session(getuid(), &note);
        if (!target.empty()) spdlog::info("{}", note);  // on stderr: stdout stays the report
    }
    std::vector<std::string> files = resolve_target(target, getuid(), &error, options.allow_other_users);
    if (files.empty()) {
        spdlog::error("{}", error);
        return kExitBadInput;
    }
    return report_files(files, options, false);
}

}  // namespace vdsotrace::tools
