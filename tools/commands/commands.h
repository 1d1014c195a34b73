// The subcommands of `vdsotrace`. Each returns the process exit code.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/render/stack_export.h"  // StackOutputs

namespace vdsotrace::tools {

// Exit codes of vdsotrace itself (run exits with the traced command's status instead).
inline constexpr int kExitOk = 0;
inline constexpr int kExitBadInput = 1;  // unreadable, corrupt or foreign recording; nothing found
inline constexpr int kExitUsage = 2;     // unknown option, bad argument

struct ReportOptions {
    bool json = false;          // JSON on stdout instead of text
    std::string output;         // write the report to this file instead of stdout
    size_t top = 20;            // callers shown in text
    StackOutputs stacks;
    bool per_process = false;   // each process's calls per function and clock
    bool allow_other_users = false;  // read recordings owned by another user (--allow-other-users)
    bool all = false;           // --all: every thread and process, not grouped and cut
};

struct RunOptions {
    std::vector<std::string> command;
    std::string json_file;      // also write the JSON report here
    std::string text_file;      // --text FILE: write the text report here instead of stderr
    // -o FILE (or --save FILE): the recording file; default vdsotrace.<program>.<session>.vdsotrace
    // in the current directory (recordings/recording_file.h).
    std::string recording_file;
    bool keep_live = false;     // --keep-live: leave the session's segments in /dev/shm too
    std::string shim;           // --shim
    std::string route;          // --route: VDSOTRACE_ROUTE for the command
    std::string session;        // --session NAME: the session id (default: a fresh random one)
    std::vector<std::string> wrappers;  // --wrapper GLOB (repeatable): VDSOTRACE_WRAPPERS, comma-separated
    size_t top = 20;
    uint32_t sample = 0;        // --sample N: VDSOTRACE_SAMPLE
    uint32_t sample_depth = 0;  // --sample-depth D: VDSOTRACE_SAMPLE_DEPTH (0: the shim's default)
    std::string unwind;         // --unwind cfi|libunwind|fp: VDSOTRACE_UNWIND
    StackOutputs stacks;
    bool per_process = false;   // --per-process
    bool all = false;           // --all
    bool follow_exec = true;    // --no-follow-exec turns it off: programs the command execs are not traced
    bool inject_static = true;  // --no-inject turns it off: a static program is only warned about
    bool runtime_help = true;   // --no-runtime-help turns it off: node/java/python get no perf-map settings
    bool wait_descendants = true;  // --no-wait: return when CMD ends, leaving orphaned descendants running
    std::string output_dir;     // --output-dir DIR: a copy of each recording
};

struct VdsoOptions {
    int pid = 0;                // 0: vdsotrace's own process
    bool json = false;
    std::string dump;           // write the image here
    bool no_clocks = false;     // skip the clock service measurement
};

struct AttachOptions {
    int pid = 0;
    double duration = 0;        // --duration S; 0: until Ctrl-C (or the process ends)
    std::string shim;           // --shim
    ReportOptions report;       // the report's options (json, output, top, per-process)
};

int cmd_run(const RunOptions& options);
int cmd_attach(const AttachOptions& options);
int cmd_vdso(const VdsoOptions& options);
int cmd_report(const std::string& target, const ReportOptions& options);
int cmd_ls(bool json);

struct CleanOptions {
    bool all = false;
    std::string session;
    double older_than_seconds = -1;  // < 0: any age
};
int cmd_clean(const CleanOptions& options);

struct Recording;
// What `clean` keeps: the process runs, or an image it exec'd into still runs.
bool still_running(const Recording& r);
// True when a recording that is not still_running() ended longer than `older_than_seconds` ago
// (its recorded end, else the file's mtime); always true for a negative age.
bool ended_long_enough(const Recording& r, int64_t file_mtime_ns, double older_than_seconds, int64_t now_realtime_ns);

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

// Loads every recording in `files` (segments, recording files, archives) into `out`; false after
// saying why on stderr.
bool load_files(const std::vector<std::string>& files, bool allow_other_users, std::vector<Recording>* out);

// Writes the report of recordings already loaded.
int report_recordings(const std::vector<Recording>& recordings, const ReportOptions& options, bool text_to_stderr);

}  // namespace vdsotrace::tools
