// vdsotrace: trace who calls the clock, and read the recordings.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <sstream>

#include <unistd.h>

#include "tools/cli/cli_checks.h"
#include "tools/commands/commands.h"
#include "tools/config.h"
#include "tools/export/export_command.h"

using namespace vdsotrace::tools;

namespace {

void add_stack_options(CLI::App* cmd, StackOutputs* o) {
    cmd->add_option("--folded", o->folded, "Write the sampled stacks collapsed, root first (flamegraph.pl, inferno, speedscope)");
    cmd->add_option("--flamegraph", o->flamegraph, "Write an interactive flame graph (SVG) of the sampled stacks");
    cmd->add_option("--pprof", o->pprof, "Write the sampled stacks as a gzip'd pprof profile");
    cmd->add_option("--thread", o->thread, "Only the stacks sampled on thread TID");
    cmd->add_option("--function", o->function, "Only the stacks with a frame whose name contains NAME");
}

// --top and the like: a count of at least one, said plainly when it is not.
const CLI::Validator kAtLeastOne(
    [](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const long long v = std::strtoll(text.c_str(), &end, 10);
        if (end == text.c_str() || *end != '\0' || errno != 0 || v < 1 || v > 1000000)
            return "expected a count from 1 to 1000000, not '" + text + "'";
        return "";
    },
    "N>=1");

// The words of an ExtrasError ("The following arguments were not expected: -- --bogus"): the
// first argument nobody took, other than the `--` that ends the options.
std::string first_extra(const std::string& message) {
    const size_t colon = message.find(": ");
    std::istringstream words(colon == std::string::npos ? message : message.substr(colon + 2));
    std::string w;
    while (words >> w)
        if (w != "--") return w;
    return message;
}

// Output paths are checked before anything runs: finding an unwritable --json path after a long
// traced run would lose its results.
bool outputs_writable(const std::vector<std::pair<const char*, const std::string*>>& outputs) {
    for (const auto& [option, path] : outputs) {
        if (path->empty()) continue;
        const std::string why = output_path_problem(*path);
        if (!why.empty()) {
            spdlog::error("{} {}: cannot write there: {}", option, *path, why);
            return false;
        }
    }
    return true;
}

std::vector<std::pair<const char*, const std::string*>> stack_outputs(const StackOutputs& o) {
    return {{"--folded", &o.folded}, {"--flamegraph", &o.flamegraph}, {"--pprof", &o.pprof}};
}

}  // namespace

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
    run_cmd->add_option("-o,--output", run.recording_file,
                        "Write the recording file here (default: vdsotrace.PROGRAM.SESSION.vdsotrace in the current "
                        "directory)");
    std::string save_file;
    run_cmd->add_option("--save", save_file, "The same as -o (its older name)");
    run_cmd->add_flag("--keep-live", run.keep_live, "Keep the session's recordings in /dev/shm after writing the file");
    run_cmd->add_option("--text", run.text_file, "Write the text report to FILE instead of stderr");
    run_cmd->add_option("--top", run.top, "Callers shown in the text report")->check(kAtLeastOne);
    run_cmd->add_option("--shim", run.shim, "Path of libvdsotrace.so (default: next to vdsotrace, or $VDSOTRACE_SHIM)");
    run_cmd->add_option("--sample", run.sample, "Take the stack of one call in N per thread (1: every call; 0: none)");
    run_cmd->add_option("--sample-depth", run.sample_depth, "Frames kept per stack (1..256, default 64)")
        ->check(CLI::Range(1, 256));
    run_cmd->add_option("--unwind", run.unwind, "How stacks are taken: libunwind (default) or fp (frame pointers, faster)")
        ->check(CLI::IsMember({"libunwind", "fp"}));
    add_stack_options(run_cmd, &run.stacks);
    run_cmd->add_option("--route", run.route,
                        "Send functions elsewhere than the vDSO, e.g. clock_gettime=syscall,gettimeofday=libc "
                        "(targets: vdso, syscall, libc; FUNCTION may be all)");
    run_cmd->add_option("--session", run.session,
                        "Name the run's session (1 to 40 of A-Z a-z 0-9 . _; default: a fresh random id)");
    run_cmd->add_option("--wrapper", run.wrappers,
                        "Count calls made through the function(s) GLOB names (e.g. 'myapp::Clock::*') at their "
                        "callers, like std::chrono's now() (repeatable; also VDSOTRACE_WRAPPERS=GLOB,GLOB)")
        ->check([](const std::string& g) {
            if (g.empty()) return std::string("an empty GLOB names no function");
            if (g.find(',') != std::string::npos) return std::string("GLOB must not contain ',' (give --wrapper again)");
            if (g.size() > 255) return std::string("GLOB is longer than 255 characters");
            return std::string();
        });
    run_cmd->add_flag("--per-process", run.per_process, "Show each process's calls per function and clock");
    run_cmd->add_flag("--all", run.all, "List every thread and process (by default, beyond 10 they are grouped by "
                                        "name and executable and cut to the busiest 10)");
    run_cmd->add_flag("--no-follow-exec{false}", run.follow_exec,
                      "Do not trace programs the command (or its children) exec");
    run_cmd->add_flag("--no-inject{false}", run.inject_static,
                      "For a statically linked CMD, only warn instead of injecting a counting trampoline");
    run_cmd->add_flag("--no-wait{false}", run.wait_descendants,
                      "Return when CMD ends, without waiting for descendants it left running");
    run_cmd->add_flag("--no-runtime-help{false}", run.runtime_help,
                      "Leave the environment alone for node, java and python3.12+ (by default perf maps are "
                      "turned on, so that JIT-compiled frames are named)");
    run_cmd->add_option("--output-dir", run.output_dir, "Keep a copy of each recording in DIR (`report DIR`)");
    run_cmd->add_option("command", run.command, "The command and its arguments, after --")->required();
    run_cmd->positionals_at_end();

    AttachOptions attach;
    CLI::App* attach_cmd = app.add_subcommand("attach", "Count the calls of a running process for a while, then report");
    attach_cmd->add_option("pid", attach.pid, "The process")->required()->check(CLI::Range(1, 1 << 30));
    attach_cmd->add_option("--duration", attach.duration, "Seconds to count (default: until Ctrl-C)")
        ->check(CLI::Range(0.001, 1e7));
    attach_cmd->add_option("--shim", attach.shim, "Path of libvdsotrace.so (default: next to vdsotrace, or $VDSOTRACE_SHIM)");
    attach_cmd->add_flag("--json", attach.report.json, "Write the report as JSON instead of text");
    attach_cmd->add_option("-o,--output", attach.report.output, "Write the report to FILE instead of stdout");
    attach_cmd->add_option("--top", attach.report.top, "Callers shown in the text report")->check(kAtLeastOne);
    attach_cmd->add_flag("--per-process", attach.report.per_process, "Show each process's calls per function and clock");

    ReportOptions report;
    std::string target;
    CLI::App* report_cmd = app.add_subcommand("report", "Report on a recording: FILE, SESSION, PID or PATH (default: "
                                                        "the newest vdsotrace.*.vdsotrace here, else the newest session)");
    report_cmd->add_flag("--json", report.json, "Write JSON (documented in README.md) instead of text");
    report_cmd->add_option("-o,--output", report.output, "Write the report to FILE instead of stdout");
    report_cmd->add_option("--top", report.top, "Callers shown in the text report")->check(kAtLeastOne);
    add_stack_options(report_cmd, &report.stacks);
    report_cmd->add_flag("--per-process", report.per_process, "Show each process's calls per function and clock");
    report_cmd->add_flag("--all", report.all, "List every thread and process (by default, beyond 10 they are grouped "
                                              "by name and executable and cut to the busiest 10)");
    report_cmd->add_flag("--allow-other-users", report.allow_other_users,
                         "Read recordings owned by another user too (refused by default)");
    report_cmd->add_option("target", target, "A recording file, SESSION, PID, or the path of a segment");

    bool ls_json = false;
    CLI::App* ls_cmd = app.add_subcommand("ls", "List recordings, running or ended");
    ls_cmd->add_flag("--json", ls_json, "Write JSON");

    VdsoOptions vdso;
    CLI::App* vdso_cmd = app.add_subcommand("vdso", "Inspect a process's vDSO: mappings, functions, stack need, "
                                            "stack probes, which clocks it serves");
    vdso_cmd->add_option("--pid", vdso.pid, "Inspect process PID (default: vdsotrace itself; needs ptrace permission)")
        ->check(CLI::Range(1, 1 << 30));
    vdso_cmd->add_flag("--json", vdso.json, "Write JSON");
    vdso_cmd->add_option("--dump", vdso.dump, "Write the vDSO image to FILE (readelf and objdump read it)");
    vdso_cmd->add_flag("--no-clocks", vdso.no_clocks, "Skip measuring which clocks the vDSO serves");
    CleanOptions clean;
    std::string older_than;
    CLI::App* clean_cmd = app.add_subcommand("clean", "Remove recordings of ended processes (never of running ones)");
    clean_cmd->add_flag("--all", clean.all, "Every ended recording");
    clean_cmd->add_option("--older-than", older_than, "Only those that ended longer ago than DURATION (90s, 15m, 2h, 3d)");
    clean_cmd->add_option("session", clean.session, "Only this session's recordings");

    TopOptions top;
    CLI::App* top_cmd = app.add_subcommand("top", "Live calls per second of a running session or process");
    top_cmd->add_option("target", top.target, "SESSION or PID (default: the newest session)");
    top_cmd->add_option("--interval", top.interval, "Seconds between refreshes")->check(CLI::Range(0.05, 3600.0));
    top_cmd->add_flag("--once", top.once, "Measure one interval, print, exit");
    top_cmd->add_flag("--json", top.json, "Write JSON (with --once: one object; else one per line)");
    top_cmd->add_option("--top", top.rows, "Callers shown")->check(kAtLeastOne);


    ExportOptionsText exp;
    CLI::App* export_cmd = app.add_subcommand("export", "Every live recording as Prometheus/OpenMetrics counters "
                                              "(stdout, a file, or node_exporter's textfile directory)");
    export_cmd->add_option("--format", exp.format, "prometheus (default; what node_exporter's textfile collector reads) "
                                                   "or openmetrics");
    export_cmd->add_option("--callers", exp.callers, "Busiest call sites exported per process, 0 to 100 (default 5)");
    export_cmd->add_option("--textfile", exp.textfile, "Write DIR/vdsotrace.prom atomically, for node_exporter's "
                                                       "--collector.textfile.directory");
    export_cmd->add_option("-o,--output", exp.output, "Write to FILE (atomically) instead of stdout (-)");
    export_cmd->add_option("--interval", exp.interval, "Refresh every S seconds until SIGTERM/SIGINT");
    export_cmd->add_option("--clean-older-than", exp.clean_older_than,
                           "Also remove recordings of processes that ended longer ago than DURATION (90s, 15m, 2h, 3d)");
    export_cmd->add_flag("--all-users", exp.all_users, "Every user's recordings (root exporting services' recordings)");
    export_cmd->add_option("--session", exp.sessions, "Only this session's recordings (repeat for more)");

    // A first word that is no subcommand: name the nearest one instead of CLI11's "A subcommand
    // is required".
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
    if (argc >= 2 && argv[1][0] != '-' && std::find(names.begin(), names.end(), argv[1]) == names.end()) {
        const std::string near = nearest_name(argv[1], names);
        if (near.empty())
            spdlog::error("unknown command '{}' (commands: {}; see --help)", argv[1], fmt::join(names, ", "));
        else
            spdlog::error("unknown command '{}': did you mean '{}'?", argv[1], near);
        return kExitUsage;
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ExtrasError& e) {
        std::string where = "vdsotrace";
        for (const CLI::App* sub : app.get_subcommands()) where += " " + sub->get_name();
        const std::string extra = first_extra(e.what());
        if (!extra.empty() && extra[0] == '-')
            spdlog::error("unknown option {} (see `{} --help`)", extra, where);
        else
            spdlog::error("unexpected argument '{}' (see `{} --help`)", extra, where);
        return kExitUsage;
    } catch (const CLI::ParseError& e) {
        // One line, ours: CLI11 adds "Run with --help for more information." on a second one.
        spdlog::error("{}", e.what());
        return kExitUsage;
    }
    if (run_cmd->parsed()) {
        auto outputs = stack_outputs(run.stacks);
        outputs.insert(outputs.end(),
                       {{"--json", &run.json_file}, {"--text", &run.text_file}, {"-o", &run.recording_file},
                        {"--save", &save_file}});
        if (!outputs_writable(outputs)) return kExitUsage;
        if (!save_file.empty()) {
            if (!run.recording_file.empty() && run.recording_file != save_file) {
                spdlog::error("-o {} and --save {} both name the recording file: choose one", run.recording_file,
                              save_file);
                return kExitUsage;
            }
            run.recording_file = save_file;
        }
        if (!run.output_dir.empty()) {
            if (const std::string why = output_dir_problem(run.output_dir); !why.empty()) {
                spdlog::error("--output-dir {}: {}", run.output_dir, why);
                return kExitUsage;
            }
        }
        if (!run.session.empty()) {
            if (const std::string why = session_problem(run.session, getuid()); !why.empty()) {
                spdlog::error("--session {}: {}", run.session, why);
                return kExitUsage;
            }
        }
        if (!run.route.empty()) {
            if (const std::string why = route_problem(run.route); !why.empty()) {
                spdlog::error("--route {}: {}", run.route, why);
                return kExitUsage;
            }
        }
        return cmd_run(run);
    }
    if (attach_cmd->parsed()) return cmd_attach(attach);
    if (report_cmd->parsed()) {
        auto outputs = stack_outputs(report.stacks);
        outputs.push_back({"-o", &report.output});
        if (!outputs_writable(outputs)) return kExitUsage;
        return cmd_report(target, report);
    }
    if (ls_cmd->parsed()) return cmd_ls(ls_json);
    if (vdso_cmd->parsed()) {
        if (!outputs_writable({{"--dump", &vdso.dump}})) return kExitUsage;
        return cmd_vdso(vdso);
    }
    if (clean_cmd->parsed()) {
        if (!older_than.empty() && (clean.older_than_seconds = parse_duration(older_than)) < 0) {
            spdlog::error("--older-than {}: not a duration (like 90s, 15m, 2h, 3d)", older_than);
            return kExitUsage;
        }
        return cmd_clean(clean);
    }
    if (top_cmd->parsed()) return cmd_top(top);
    if (export_cmd->parsed()) return cmd_export(exp);
    return kExitUsage;
}
