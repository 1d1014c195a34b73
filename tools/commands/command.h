// How `vdsotrace` (tools/cli/main.cpp) meets its subcommands: each command file declares its own
// options on a subcommand of the application and hands back the subcommand and what runs it.
// main() only registers them, parses, and runs the one the user named.
#pragma once

#include <functional>
#include <memory>  // the register_* functions keep their options in shared_ptrs the run closure holds

#include <CLI/CLI.hpp>

namespace vdsotrace::tools {

struct Command {
    CLI::App* app = nullptr;   // the subcommand: app->parsed() once the command line named it
    std::function<int()> run;  // checks what CLI11 cannot, then runs; returns the exit code
};

// In the order `vdsotrace --help` lists them (register_export: tools/export/export_command.h).
Command register_run(CLI::App& vdsotrace);
Command register_attach(CLI::App& vdsotrace);
Command register_report(CLI::App& vdsotrace);
Command register_ls(CLI::App& vdsotrace);
Command register_vdso(CLI::App& vdsotrace);
Command register_clean(CLI::App& vdsotrace);
Command register_top(CLI::App& vdsotrace);

}  // namespace vdsotrace::tools
