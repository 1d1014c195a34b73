// The subcommands of `vdsotrace`. Each returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace vdsotrace::tools {

// Exit codes of vdsotrace itself (run exits with the traced command's status instead).
inline constexpr int kExitOk = 0;
inline constexpr int kExitBadInput = 1;  // unreadable, corrupt or foreign recording; nothing found
inline constexpr int kExitUsage = 2;     // unknown option, bad argument

struct ReportOptions {
    bool json = false;          // JSON on stdout instead of text
    std::string output;         // write the report to this file instead of stdout
    size_t top = 20;            // callers shown in text
    bool per_process = false;   // each process's calls per function and clock
};

struct RunOptions {
    std::vector<std::string> command;
    std::string json_file;      // also write the JSON report here
    std::string output;         // write the text report here instead of stderr
    std::string shim;           // --shim
    size_t top = 20;
    bool per_process = false;   // --per-process
    bool follow_exec = true;    // --no-follow-exec turns it off: programs the command execs are not traced
    bool wait_descendants = true;  // --no-wait: return when CMD ends, leaving orphaned descendants running
    std::string save_file;      // --save FILE: the session's recordings in one archive
    std::string output_dir;     // --output-dir DIR: a copy of each recording
};

int cmd_run(const RunOptions& options);
int cmd_report(const std::string& target, const ReportOptions& options);
int cmd_ls(bool json);

struct CleanOptions {
    bool all = false;
    std::string session;
    double older_than_seconds = -1;  // < 0: any age
};
int cmd_clean(const CleanOptions& options);

// "90", "90s", "15m", "2h", "3d" in seconds; negative when malformed.
double parse_duration(const std::string& text);

struct TopOptions {
    std::string target;    // SESSION or PID; empty: the newest session
    double interval = 1.0; // seconds between samples
    bool once = false;     // one sample interval, print, exit
    bool json = false;
    size_t rows = 10;      // callers shown
};
int cmd_top(const TopOptions& options);

// Loads the recordings in `files` and writes the report; shared by run and report.
int report_files(const std::vector<std::string>& files, const ReportOptions& options, bool text_to_stderr);

}  // namespace vdsotrace::tools
