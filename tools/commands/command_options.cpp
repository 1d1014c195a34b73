#include "tools/commands/command_options.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include <spdlog/spdlog.h>

#include "tools/cli/cli_checks.h"

namespace vdsotrace::tools {

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

void add_stack_options(CLI::App* cmd, StackOutputs* o) {
    cmd->add_option("--folded", o->folded, "Write the sampled stacks collapsed, root first (flamegraph.pl, inferno, speedscope)");
    cmd->add_option("--flamegraph", o->flamegraph, "Write an interactive flame graph (SVG) of the sampled stacks");
    cmd->add_option("--pprof", o->pprof, "Write the sampled stacks as a gzip'd pprof profile");
    cmd->add_option("--thread", o->thread, "Only the stacks sampled on thread TID");
    cmd->add_option("--function", o->function, "Only the stacks with a frame whose name contains NAME");
}

std::vector<OutputOption> stack_outputs(const StackOutputs& o) {
    return {{"--folded", &o.folded}, {"--flamegraph", &o.flamegraph}, {"--pprof", &o.pprof}};
}

bool outputs_writable(const std::vector<OutputOption>& outputs, const std::vector<const std::string*>& recording_files) {
    for (const auto& [option, path] : outputs) {
        if (path->empty()) continue;
        const bool recording =
            std::find(recording_files.begin(), recording_files.end(), path) != recording_files.end();
        const std::string why = recording ? recording_path_problem(*path) : output_path_problem(*path);
        if (!why.empty()) {
            spdlog::error("{} {}: cannot write there: {}", option, *path, why);
            return false;
        }
    }
    return true;
}

}  // namespace vdsotrace::tools
