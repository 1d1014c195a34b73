// vdsotrace: trace who calls the clock, and read the recordings. Each command declares its own
// options (tools/commands/cmd_*.cpp, tools/export/cmd_export.cpp); this file only registers them,
// turns CLI11's errors into one line and exit 2, and runs the command named.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <fmt/ranges.h>

#include <algorithm>
#include <sstream>

#include "tools/cli/cli_checks.h"
#include "tools/commands/command.h"
#include "tools/commands/commands.h"
#include "tools/config.h"
#include "tools/export/export_command.h"

using namespace vdsotrace::tools;

namespace {

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

}  // namespace

int main(int argc, char** argv) {
    auto log = spdlog::stderr_logger_st("vdsotrace");
    log->set_pattern("vdsotrace: %v");
    spdlog::set_default_logger(log);

    CLI::App app{"vdsotrace: count who calls clock_gettime, gettimeofday, time, getcpu and clock_getres, "
                 "per function, clock, thread and caller"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("vdsotrace ") + VDSOTRACE_VERSION);

    const Command commands[] = {register_run(app), register_attach(app), register_report(app),
                                register_ls(app),  register_vdso(app),   register_clean(app),
                                register_top(app), register_export(app)};

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
    for (const Command& command : commands)
        if (command.app->parsed()) return command.run();
    return kExitUsage;
}
