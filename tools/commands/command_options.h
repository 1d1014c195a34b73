// Options and checks that several commands declare alike, so they read the same everywhere.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "tools/commands/commands.h"

namespace vdsotrace::tools {

// --top and the like: a count of at least one, said plainly when it is not.
extern const CLI::Validator kAtLeastOne;

// --folded, --flamegraph, --pprof, --thread, --function (run and report).
void add_stack_options(CLI::App* cmd, StackOutputs* o);

// An output file's option and the path given to it ("" when not given).
using OutputOption = std::pair<const char*, const std::string*>;

// The stack files of `o` as output options.
std::vector<OutputOption> stack_outputs(const StackOutputs& o);

// Output paths are checked before anything runs: finding an unwritable --json path after a long
// traced run would lose its results. False after saying which one on stderr. `recording_files`:
// those of `outputs` that are `run`'s recording file, written beside its place and renamed (both
// names are checked: cli_checks.h recording_path_problem).
bool outputs_writable(const std::vector<OutputOption>& outputs,
                      const std::vector<const std::string*>& recording_files = {});

}  // namespace vdsotrace::tools
