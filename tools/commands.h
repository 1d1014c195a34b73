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
    bool allow_other_users = false;  // read recordings owned by another user (--allow-other-users)
};

struct RunOptions {
    std::vector<std::string> command;
    std::string json_file;      // also write the JSON report here
    std::string output;         // write the text report here instead of stderr
    std::string shim;           // --shim
    size_t top = 20;
};

int cmd_run(const RunOptions& options);
int cmd_report(const std::string& target, const ReportOptions& options);
int cmd_ls(bool json);

// Loads the recordings in `files` and writes the report; shared by run and report.
int report_files(const std::vector<std::string>& files, const ReportOptions& options, bool text_to_stderr);

}  // namespace vdsotrace::tools
