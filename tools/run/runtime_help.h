// `vdsotrace run` asks the runtimes it recognises to write perf maps (perf_map.h), so that their
// JIT-compiled frames are named: node (NODE_OPTIONS), HotSpot Java 17+ (JAVA_TOOL_OPTIONS) and
// CPython 3.12+ (PYTHONPERFSUPPORT). Values are appended to what the user set, never replace it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vdsotrace::tools {

struct RuntimeHelp {
    std::string runtime;  // "node", "java", "python"; "" when the command is none of them
    std::vector<std::pair<std::string, std::string>> env;  // variables to set (full new values)
    std::string notice;   // the one line run prints when `env` is not empty
    bool maps_requested = false;  // the settings turn perf maps on (the user had not): run removes them once kept
};

// V8 writes a small log (isolate-0x...-PID-v8.log, in the process's working directory) whenever
// --perf-basic-prof is on, and NODE_OPTIONS may not redirect it (--logfile is refused there). When
// run asked node for the maps (and the command asked for no V8 log of its own: --prof, --log*),
// it removes those of the traced `pids` from `dir` written since `since_realtime_ns`.
void remove_v8_logs(const std::string& dir, const std::vector<int>& pids, int64_t since_realtime_ns,
                    const std::vector<std::string>& command);

// What to set for `exe` (the resolved command: an ELF program, or a script whose #! line names
// one). `getenv_fn` reads the current environment (a parameter for the tests).
RuntimeHelp runtime_help_for(const std::string& exe, const char* (*getenv_fn)(const char*));

}  // namespace vdsotrace::tools
