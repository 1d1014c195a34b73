#include <unistd.h>

#include <fstream>
#include <iostream>

#include <spdlog/spdlog.h>

#include "tools/commands/commands.h"
#include "tools/commands/command.h"
#include "tools/commands/command_options.h"
#include "tools/recordings/recording_archive.h"
#include "tools/recordings/recording_store.h"
#include "tools/report/report_model.h"
#include "tools/render/report_output.h"
#include "tools/render/stack_export.h"
#include "tools/machine/gather_machine_facts.h"

namespace vdsotrace::tools {

bool load_files(const std::vector<std::string>& files, bool allow_other_users, std::vector<Recording>* out) {
    for (const std::string& f : files) {
        std::string error, warning;
        auto r = load_recordings(f, &error, allow_other_users, &warning);
        if (!r) {
            spdlog::error("{}", error);
            return false;
        }
        if (!warning.empty()) spdlog::warn("{}", warning);
        for (Recording& one : *r) out->push_back(std::move(one));
    }
    return true;
}

int report_files(const std::vector<std::string>& files, const ReportOptions& options, bool text_to_stderr) {
    std::vector<Recording> recordings;
    if (!load_files(files, options.allow_other_users, &recordings)) return kExitBadInput;
    return report_recordings(recordings, options, text_to_stderr);
}

int report_recordings(const std::vector<Recording>& recordings, const ReportOptions& options, bool text_to_stderr) {
    // What the report needs to know of this machine (live thread names, its clocks), gathered here
    // so that the model reads nothing but its inputs.
    const Report report = build_report(recordings, gather_machine_facts(recordings),
                                       StackFilter{options.stacks.thread, options.stacks.function});
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
        write_text(report, TextOptions{options.top, options.per_process, 10, options.all}, out);
    out.flush();
    return out ? kExitOk : kExitBadInput;
}

int cmd_report(const std::string& given, const ReportOptions& options) {
    std::string error, target = given;
    if (target.empty()) {
        // The newest recording file here (what `run` leaves behind), else the newest live session.
        std::string note;
        target = newest_recording_file(".", getuid(), &note);
        if (target.empty()) target = newest_session(getuid(), &note);
        if (!target.empty()) spdlog::info("{}", note);  // on stderr: stdout stays the report
    }
    std::vector<std::string> files = resolve_target(target, getuid(), &error, options.allow_other_users);
    if (files.empty()) {
        spdlog::error("{}", error);
        return kExitBadInput;
    }
    return report_files(files, options, false);
}

Command register_report(CLI::App& vdsotrace) {
    auto report = std::make_shared<ReportOptions>();
    auto target = std::make_shared<std::string>();
    CLI::App* cmd = vdsotrace.add_subcommand("report", "Report on a recording: FILE, SESSION, PID or PATH (default: "
                                                       "the newest vdsotrace.*.vdsotrace here, else the newest session)");
    cmd->add_flag("--json", report->json, "Write JSON (documented in README.md) instead of text");
    cmd->add_option("-o,--output", report->output, "Write the report to FILE instead of stdout");
    cmd->add_option("--top", report->top, "Callers shown in the text report")->check(kAtLeastOne);
    add_stack_options(cmd, &report->stacks);
    cmd->add_flag("--per-process", report->per_process, "Show each process's calls per function and clock");
    cmd->add_flag("--all", report->all, "List every thread and process (by default, beyond 10 they are grouped "
                                        "by name and executable and cut to the busiest 10)");
    cmd->add_flag("--allow-other-users", report->allow_other_users,
                  "Read recordings owned by another user too (refused by default)");
    cmd->add_option("target", *target, "A recording file, SESSION, PID, or the path of a segment");
    return {cmd, [report, target] {
                auto outputs = stack_outputs(report->stacks);
                outputs.push_back({"-o", &report->output});
                if (!outputs_writable(outputs)) return kExitUsage;
                return cmd_report(*target, *report);
            }};
}

}  // namespace vdsotrace::tools
