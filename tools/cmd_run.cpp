// `vdsotrace run -- CMD ARGS`: start CMD with the shim preloaded and a fresh session id, wait for
// it, record how it ended in its recording, print the report, exit with CMD's status.
#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "recording_store.h"
#include "segment_format.h"
#include "shim_locator.h"
#include "target_check.h"

namespace vdsotrace::tools {

namespace f = vdsotrace::format;

namespace {

pid_t g_child = -1;

void forward_signal(int sig) {
    if (g_child > 0) kill(g_child, sig);
}

std::string new_session_id() {
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != ssize_t(sizeof v)) v = uint64_t(getpid()) * 0x9E3779B97F4A7C15ull ^ uint64_t(time(nullptr));
    return fmt::format("{:012x}", v & 0xffffffffffffull);
}

uint64_t now_ns(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// Writes how the process ended into its newest recording (an exec chain leaves several with one
// pid; the last image is the one that ended).
void record_exit(const std::string& session, pid_t pid, int status) {
    std::string newest;
    for (const SegmentName& s : list_segments(getuid()))
        if (s.session == session && s.pid == pid) newest = s.path;  // oldest first: keep the last
    if (newest.empty()) return;
    int fd = open(newest.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return;
    struct stat st {};
    if (fstat(fd, &st) != 0 || st.st_uid != getuid()) {  // never write into another user's file
        close(fd);
        return;
    }
    f::Header h;
    if (pread(fd, &h, sizeof h, 0) == ssize_t(sizeof h) && memcmp(h.magic, f::kMagic, sizeof h.magic) == 0) {
        struct {
            uint32_t state;
            int32_t exit_value;
            uint64_t end_monotonic_ns;
            uint64_t end_realtime_ns;
        } end{};
        static_assert(offsetof(f::Header, exit_value) == offsetof(f::Header, state) + 4);
        static_assert(offsetof(f::Header, end_realtime_ns) == offsetof(f::Header, state) + 16);
        end.state = WIFSIGNALED(status) ? f::kStateSignaled : f::kStateExited;
        end.exit_value = WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
        // Keep the shim's own end time when it wrote one (normal exit); a killed process has none.
        end.end_monotonic_ns = h.end_monotonic_ns ? h.end_monotonic_ns : now_ns(CLOCK_MONOTONIC);
        end.end_realtime_ns = h.end_realtime_ns ? h.end_realtime_ns : now_ns(CLOCK_REALTIME);
        if (pwrite(fd, &end, sizeof end, offsetof(f::Header, state)) != ssize_t(sizeof end))
            spdlog::warn("could not record the exit status in {}", newest);
    }
    close(fd);
}

}  // namespace

int cmd_run(const RunOptions& o) {
    std::string error;
    const std::string shim = locate_shim(o.shim, &error);
    if (shim.empty()) {
        spdlog::error("{}", error);
        return kExitUsage;
    }
    const std::string exe = find_executable(o.command[0]);
    if (exe.empty()) {
        spdlog::error("{}: command not found", o.command[0]);
        return 127;  // as a shell says it
    }
    for (const std::string& w : preload_blind_spots(exe)) spdlog::warn("{}", w);

    const std::string session = new_session_id();
    const std::string preload = preload_with(shim, getenv("LD_PRELOAD"));

    // Like system(): while the command runs, Ctrl-C and Ctrl-\ reach it from the terminal and
    // must not kill us, or the report would be lost. TERM and HUP sent to us are passed on.
    struct sigaction ignore {}, old_int {}, old_quit {}, forward {};
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ignore, &old_int);
    sigaction(SIGQUIT, &ignore, &old_quit);
    forward.sa_handler = forward_signal;
    sigaction(SIGTERM, &forward, nullptr);
    sigaction(SIGHUP, &forward, nullptr);

    std::vector<char*> argv;
    for (const std::string& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    fflush(nullptr);
    g_child = fork();
    if (g_child < 0) {
        spdlog::error("fork: {}", strerror(errno));
        return kExitBadInput;
    }
    if (g_child == 0) {
        sigaction(SIGINT, &old_int, nullptr);
        sigaction(SIGQUIT, &old_quit, nullptr);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        setenv("LD_PRELOAD", preload.c_str(), 1);
        setenv("VDSOTRACE_SESSION", session.c_str(), 1);
        execv(exe.c_str(), argv.data());
        fprintf(stderr, "vdsotrace: cannot run %s: %s\n", exe.c_str(), strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    int status = 0;
    while (waitpid(g_child, &status, 0) < 0 && errno == EINTR) {
    }
    record_exit(session, g_child, status);

    std::vector<std::string> files;
    for (const SegmentName& s : list_segments(getuid()))
        if (s.session == session) files.push_back(s.path);
    if (files.empty())
        spdlog::info("no recording of session {} in {}: {} made no vDSO time call that LD_PRELOAD could see, or "
                     "the shim could not record (then it said why above)",
                     session, shm_dir(), o.command[0]);
    else
        report_files(files, ReportOptions{false, o.output, o.top}, true);
    // Scripts get their JSON file even when nothing was recorded: a report with zero calls.
    if (!o.json_file.empty()) report_files(files, ReportOptions{true, o.json_file, o.top}, false);
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

}  // namespace vdsotrace::tools
