// The one harness of the GoogleTest end-to-end drivers (tests/e2e, e2e_hostile, e2e_static,
// e2e_tree): start a program with a clean environment, a timeout and its output in files; run it
// under `vdsotrace run --json`; read the report; remove every recording the driver made.
//
// Cleanup is automatic: after each test, the recordings named in the reports read through this
// harness are deleted, and so is every /dev/shm/vdsotrace-<uid>-* segment whose pid or parent pid
// is a process this driver started (other people's recordings are never touched); the driver's
// temporary directory goes when the run ends.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tracer/format/segment_format.h"

namespace vdsotrace::test {

using nlohmann::json;

// ---- Configuration ------------------------------------------------------------------------------

// The environment variable `name` (a path meson set); a test failure when it is unset.
std::string env_path(const char* name);
std::string read_file(const std::string& path);
// This driver's own temporary directory (mode 0755: a setuid copy in it runs as nobody).
std::string temp_dir_root();
// A file name in it: temp_path("report.json").
std::string temp_path(const std::string& what);

// ---- Processes -----------------------------------------------------------------------------------

// Environment overrides: a value sets the variable, nullopt removes it. LD_PRELOAD, FAKETIME,
// LD_BIND_NOW and every VDSOTRACE_* variable but VDSOTRACE_SHIM (the shim a test chose for
// `vdsotrace`) are removed unless set here, so the driver's own environment cannot leak in.
using EnvOverrides = std::map<std::string, std::optional<std::string>>;
std::vector<std::string> make_env(const EnvOverrides& overrides);

struct Result {
    pid_t pid = -1;
    int status = 0;     // raw wait status
    int code = -1;      // exit code, or -1 when signaled
    int signal = 0;     // terminating signal, or 0
    bool timed_out = false;
    std::string out, err;
    // The shell's view: the exit code, or 128+signal.
    int exit_status() const { return signal != 0 ? 128 + signal : code; }
};

// Starts argv (PATH is searched) with stdin from /dev/null, stdout to `out_path` (or to
// `stdout_fd` when >= 0) and stderr to `err_path` (an empty path keeps the driver's own);
// `new_group` puts it in its own process group.
// The caller waits for it.
pid_t start(const std::vector<std::string>& argv, const std::string& out_path, const std::string& err_path,
            const EnvOverrides& overrides = {}, bool new_group = false, int stdout_fd = -1);
// Starts argv and waits at most timeout_s (then kills it: a test failure).
Result run(const std::vector<std::string>& argv, const EnvOverrides& overrides = {}, int timeout_s = 120);
// The pids run() and start() created.
const std::vector<pid_t>& spawned_pids();
std::string describe(const Result& r);
// A session name nobody else uses: <driver>_<tag>_<pid>_<random>.
std::string unique_session(const std::string& tag);

// ---- Text ------------------------------------------------------------------------------------------

std::vector<std::string> lines_starting_with(const std::string& text, const std::string& prefix);
bool ends_with(const std::string& s, const std::string& suffix);
bool contains(const std::string& s, const std::string& part);
std::string basename_of(const std::string& path);
// The number right after the first `label` in text; UINT64_MAX when there is none.
uint64_t parse_number_after(const std::string& text, const std::string& label);

// ---- Recordings and reports ---------------------------------------------------------------------

// Remembers the recordings a report names, to delete after the test.
void note_recordings(const json& report);
// Deletes the recordings a report names now.
void remove_recordings(const json& report);
// Deletes what note_recordings() remembered, and every segment of this uid whose header names a
// process this driver started as its pid or parent pid. Runs after every test by itself.
void cleanup_recordings();
json parse_json(const std::string& text, const std::string& what);

struct Traced {
    Result result;
    json report;  // an empty object (and a test failure) when `run` wrote none
};

// `vdsotrace run --json FILE [options] -- command...`; its recordings are noted for cleanup.
Traced vdsotrace_run(const std::vector<std::string>& command, const EnvOverrides& env = {}, int timeout_s = 120,
                     const std::vector<std::string>& options = {});
// `vdsotrace report --json SESSION` (after a plain LD_PRELOAD run), expected to exit 0.
json report_session(const std::string& session);
// Header of the one segment a plain LD_PRELOAD run of `session` left.
std::optional<format::Header> header_of_session(const std::string& session);

// ---- Report accessors ------------------------------------------------------------------------------

// j[key] as a count; UINT64_MAX when missing or not a number.
uint64_t u64(const json& j, const char* key);
uint64_t callers_sum(const json& report);
uint64_t unattributed_sum(const json& report);

}  // namespace vdsotrace::test
