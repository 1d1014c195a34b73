// `vdsotrace export`: every live recording of the machine (those the caller may read) as
// Prometheus / OpenMetrics counters, on stdout, in a file, or in node_exporter's textfile
// directory; once, or refreshed every --interval seconds.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace vdsotrace::tools {

// As typed: validated by validate_export_options() before any work, so a bad value gets one line.
struct ExportOptionsText {
    std::string format = "prometheus";  // prometheus | openmetrics
    std::string callers = "5";          // top call sites per process (0..100)
    std::string textfile;               // DIR: write DIR/vdsotrace.prom for node_exporter, atomically
    std::string output;                 // FILE or - (stdout, the default)
    std::string interval;               // seconds between refreshes; empty: export once
    std::string clean_older_than;       // DURATION: also remove ended recordings older than this
    bool all_users = false;             // every user's recordings (root, reading services')
    std::vector<std::string> sessions;  // only these sessions (--session, repeatable); empty: all
};

struct ExportOptions {
    bool openmetrics = false;
    size_t callers = 5;
    std::string textfile;
    std::string output;        // "" or "-": stdout
    double interval = 0;       // 0: once
    double clean_older_than = -1;  // < 0: no cleaning
    bool all_users = false;
    std::vector<std::string> sessions;
};

// The options checked and converted; on error returns false with a one-line message in *error.
bool validate_export_options(const ExportOptionsText& text, ExportOptions* out, std::string* error);

// Name of the file written into --textfile DIR.
inline constexpr const char* kTextfileName = "vdsotrace.prom";

int cmd_export(const ExportOptionsText& options);

// Declares `export` and its options on `vdsotrace` (tools/commands/command.h).
struct Command;
Command register_export(CLI::App& vdsotrace);

}  // namespace vdsotrace::tools
