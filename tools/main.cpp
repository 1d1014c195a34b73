// vdsotrace: trace who calls the clock, and read the recordings.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "commands.h"

using namespace vdsotrace::tools;

int main(int argc, char** argv) {
    auto log = spdlog::stderr_logger_st("vdsotrace");
    log->set_pattern("vdsotrace: %v");
    spdlog::set_default_logger(log);

    CLI::App app{"vdsotrace: count who calls clock_gettime, gettimeofday, time, getcpu and clock_getres, "
                 "per function, clock, thread and caller"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("vdsotrace ") + VDSOTRACE_VERSION);

    RunOptions run;
    CLI::App* run_cmd = app.add_subcommand("run", "Run a command with the shim preloaded, then report");
    run_cmd->add_option("--json", run.json_file, "Also write the JSON report to FILE");
    run_cmd->add_option("-o,--output", run.output, "Write the text report to FILE instead of stderr");
    run_cmd->add_option("--top", run.top, "Callers shown in the text report")->check(CLI::PositiveNumber);
    run_cmd->add_option("--shim", run.shim, "Path of libvdsotrace.so (default: next to vdsotrace, or $VDSOTRACE_SHIM)");
    run_cmd->add_option("command", run.command, "The command and its arguments, after --")->required();
    run_cmd->positionals_at_end();

    ReportOptions report;
    std::string target;
    CLI::App* report_cmd = app.add_subcommand("report", "Report on a recording: SESSION, PID or PATH (default: the newest session)");
    report_cmd->add_flag("--json", report.json, "Write JSON (documented in README.md) instead of text");
    report_cmd->add_option("-o,--output", report.output, "Write the report to FILE instead of stdout");
    report_cmd->add_option("--top", report.top, "Callers shown in the text report")->check(CLI::PositiveNumber);
    report_cmd->add_flag("--allow-other-users", report.allow_other_users,
                         "Read recordings owned by another user too (refused by default)");
    report_cmd->add_option("target", target, "SESSION, PID, or the path of a recording");

    bool ls_json = false;
    CLI::App* ls_cmd = app.add_subcommand("ls", "List recordings, running or ended");
    ls_cmd->add_flag("--json", ls_json, "Write JSON");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return kExitUsage;
    }
    if (run_cmd->parsed()) return cmd_run(run);
    if (report_cmd->parsed()) return cmd_report(target, report);
    if (ls_cmd->parsed()) return cmd_ls(ls_json);
    return kExitUsage;
}
