// `vdsotrace run -- CMD ARGS`: start CMD with the shim preloaded and a fresh session id, wait for
// it, record how it ended in its recording, print the report, exit with CMD's status.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <filesystem>
#include <map>
#include <memory>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tools/cli/cli_checks.h"
#include "tools/commands/commands.h"
#include "tools/commands/command.h"
#include "tools/commands/command_options.h"
#include "tools/recordings/jit_symbols.h"
#include "tools/recordings/recording_archive.h"
#include "tools/recordings/recording_file.h"
#include "tools/recordings/recording_stream.h"
#include "tools/report/report_model.h"
#include "tools/symbols/symbol_table.h"
#include "tracer/common/process_info.h"
#include "tools/recordings/recording_store.h"
#include "tools/run/runtime_help.h"
#include "tools/run/session_collector.h"
#include "tracer/format/segment_format.h"
#include "tools/run/shim_locator.h"
#include "tools/run/signal_forwarding.h"
#include "tools/static_inject/static_inject.h"
#include "tools/run/target_check.h"
#include "tracer/common/clock_now.h"

namespace vdsotrace::tools {

namespace f = vdsotrace::format;

namespace {

pid_t g_child = -1;

std::string new_session_id() {
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != ssize_t(sizeof v)) v = uint64_t(getpid()) * 0x9E3779B97F4A7C15ull ^ uint64_t(time(nullptr));
    return fmt::format("{:012x}", v & 0xffffffffffffull);
}

// Writes how process `pid` (started at `start_ticks`, 0 if unknown) ended into the recording of
// its last image: the one of that pid and start time in the session that no later image replaced
// by exec. A recording that already holds a status, or belongs to another process that had the
// pid before, is left alone. Returns the recording's path ("" when none was found).
std::string record_exit(const std::string& session, pid_t pid, uint64_t start_ticks, int status) {
    std::string target;
    uint64_t newest_start = 0;
    const uint64_t boot_minus_mono = now_ns(CLOCK_BOOTTIME) - now_ns(CLOCK_MONOTONIC);
    const long ticks_per_s = sysconf(_SC_CLK_TCK);
    for (const SegmentName& s : list_segments(getuid())) {
        if (s.session != session || s.pid != pid) continue;
        int fd = open(s.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) continue;
        f::Header h;
        const bool ok = pread(fd, &h, sizeof h, 0) == ssize_t(sizeof h) && memcmp(h.magic, f::kMagic, sizeof h.magic) == 0;
        close(fd);
        if (!ok || (h.state != f::kStateRunning && h.state != f::kStateEnded)) continue;
        // That process's own, by its start time (exact when the recording has it, else the
        // recording must have begun after the process started: process_info.h).
        if (start_ticks != 0 &&
            !tracer::recorded_by(h.proc_start_ticks, h.start_monotonic_ns, start_ticks, boot_minus_mono, ticks_per_s))
            continue;
        if (target.empty() || h.start_monotonic_ns >= newest_start) {
            target = s.path;
            newest_start = h.start_monotonic_ns;
        }
    }
    if (target.empty()) return target;
    int fd = open(target.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return "";
    struct stat st {};
    if (fstat(fd, &st) != 0 || st.st_uid != getuid()) {  // never write into another user's file
        close(fd);
        return "";
    }
    f::Header h;
    if (pread(fd, &h, sizeof h, 0) == ssize_t(sizeof h) && memcmp(h.magic, f::kMagic, sizeof h.magic) == 0) {
        h.state = WIFSIGNALED(status) ? f::kStateSignaled : f::kStateExited;
        h.exit_value = WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
        // Keep the shim's own end time when it wrote one (normal exit); a killed process has none.
        if (h.end_monotonic_ns == 0) h.end_monotonic_ns = now_ns(CLOCK_MONOTONIC);
        if (h.end_realtime_ns == 0) h.end_realtime_ns = now_ns(CLOCK_REALTIME);
        // Only these four fields, contiguous in the header (segment_format.h), are written back.
        constexpr size_t from = offsetof(f::Header, state);
        constexpr size_t to = offsetof(f::Header, end_realtime_ns) + sizeof h.end_realtime_ns;
        static_assert(offsetof(f::Header, exit_value) > from && offsetof(f::Header, end_monotonic_ns) < to);
        if (pwrite(fd, reinterpret_cast<const char*>(&h) + from, to - from, from) != ssize_t(to - from))
            spdlog::warn("could not record the exit status in {}", target);
    }
    close(fd);
    return target;
}

bool has_live_perf_map(int pid) { return access(fmt::format("/tmp/perf-{}.map", pid).c_str(), F_OK) == 0; }

// Waits for the command, and (as the subreaper of its tree) for descendants orphaned to us,
// recording each one's status and keeping its perf map (removing /tmp's when `remove_maps`).
// Returns the command's status.
int wait_for_tree(const std::string& session, pid_t child, bool wait_descendants, bool remove_maps) {
    int child_status = 0;
    bool child_done = false;
    for (;;) {
        // Until the command ends, only children (the command and adopted orphans) are reaped; after
        // it, the remaining orphans when asked to, else only those already dead.
        const int flags = WEXITED | WNOWAIT | (child_done && !wait_descendants ? WNOHANG : 0);
        siginfo_t info{};
        if (waitid(P_ALL, 0, &info, flags) != 0) {
            if (errno == EINTR) continue;
            break;  // ECHILD: the whole tree has ended
        }
        const pid_t pid = info.si_pid;
        if (pid == 0) break;  // WNOHANG: nothing more has ended
        // Still a zombie (WNOWAIT): its start time tells its recording from an older one whose
        // process had the same pid.
        const uint64_t start_ticks = tracer::read_start_ticks(pid);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        const std::string recording = record_exit(session, pid, start_ticks, status);
        // Now, before another process can get the pid and rewrite the map.
        if (!recording.empty() && has_live_perf_map(pid)) keep_perf_map(recording, remove_maps);
        if (pid == child) {
            child_status = status;
            child_done = true;
        }
    }
    return child_status;
}

void copy_file(const std::string& from, const std::string& to) {
    std::error_code ec;
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) spdlog::error("cannot copy {} to {}: {}", from, to, ec.message());
}

void copy_to_output_dir(const std::vector<std::string>& files, const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    for (const std::string& f : files) {
        const std::string copy = dir + "/" + std::filesystem::path(f).filename().string();
        copy_file(f, copy);
        if (access(kept_perf_map_path(f).c_str(), F_OK) == 0) copy_file(kept_perf_map_path(f), kept_perf_map_path(copy));
    }
}

// Once the recording file holds them, the session's segments (and kept perf maps) leave /dev/shm:
// they are RAM. Those of processes still running (--no-wait) stay, or their last calls would go
// nowhere.
void remove_segments(const std::vector<std::string>& files, const std::vector<Recording>& recordings) {
    size_t running = 0;
    std::map<std::string, const Recording*> by_source;  // not a scan of every recording per file
    for (const Recording& one : recordings) by_source[one.source] = &one;
    for (size_t i = 0; i < files.size(); ++i) {
        const auto it = by_source.find(files[i]);
        const Recording* r = it == by_source.end() ? nullptr : it->second;
        if (r != nullptr && fate_of(*r) == ProcessFate::kRunning) {
            ++running;
            continue;
        }
        std::remove(files[i].c_str());
        std::remove(kept_perf_map_path(files[i]).c_str());
    }
    if (running)
        spdlog::info("{} process{} of the session still run{}: {} recording{} stay{} in {} (`vdsotrace report` reads "
                     "them live)",
                     running, running == 1 ? "" : "es", running == 1 ? "s" : "", running == 1 ? "its" : "their",
                     running == 1 ? "" : "s", running == 1 ? "s" : "", shm_dir());
}

std::string human_size(uint64_t bytes) {
    if (bytes < 10 * 1024) return fmt::format("{} bytes", bytes);
    if (bytes < 10 * 1024 * 1024) return fmt::format("{} KiB", (bytes + 512) / 1024);
    return fmt::format("{:.1f} MiB", double(bytes) / (1024.0 * 1024.0));
}

// Whether to inject the counting trampoline into `exe` (a static program); says why not, or that
// it will, in one line.
bool wants_injection(const std::string& exe, const RunOptions& o) {
    if (!is_statically_linked(exe)) return false;
    std::string why = inject::unsupported_reason(exe);
    // Under ptrace the kernel would run a set-user-ID program without its privileges: changed
    // behaviour, which vdsotrace never causes.
    if (why.empty() && changes_identity(exe)) why = "it is set-user-ID or set-group-ID";
    if (!why.empty()) {
        spdlog::warn("{} is statically linked and its vDSO calls cannot be counted: {}; it runs untraced", exe, why);
        return false;
    }
    spdlog::info("{} is statically linked: counting its vDSO calls through an injected trampoline (--no-inject: "
                 "don't)",
                 exe);
    if (o.sample > 0) spdlog::warn("--sample: stacks are not sampled in static programs, calls are only counted");
    if (!o.route.empty()) spdlog::warn("--route: a static program's calls always go to the vDSO");
    return true;
}

// After the fork: reads whether the child could ask to be traced, then injects at its exec stop.
void inject_into_static_child(const std::string& exe, const std::string& session, int trace_pipe[2]) {
    close(trace_pipe[1]);
    int trace_error = 0;
    ssize_t n;
    while ((n = read(trace_pipe[0], &trace_error, sizeof trace_error)) < 0 && errno == EINTR) {
    }
    if (n != ssize_t(sizeof trace_error)) trace_error = 0;  // EOF: traced, and exec'd (or failed to)
    close(trace_pipe[0]);
    const inject::InjectResult r = inject::inject_at_exec(g_child, trace_error, exe, session);
    if (!r.counting && !r.why.empty())
        spdlog::warn("cannot count the vDSO calls of {}: {}; it runs untraced", exe, r.why);
}

// Each of the session's segments read once: its recording for the report and its image (zero
// pages left out) for the recording file; those the collector read while the command ran are
// taken from it (`images` gets only those not in the file yet). False after saying why when one
// cannot be read.
bool load_session(const std::vector<std::string>& files, bool other_users,
                  std::map<std::string, CollectedRecording>* collected, std::vector<Recording>* recordings,
                  std::vector<SegmentImage>* images) {
    for (const std::string& f : files) {
        if (auto it = collected->find(f); it != collected->end()) {
            recordings->push_back(std::move(it->second.recording));
            if (!it->second.streamed) images->push_back(std::move(it->second.image));
            continue;
        }
        std::string error;
        SegmentImage image;
        auto r = load_segment_keeping_image(f, &error, other_users, &image);
        if (!r) {
            spdlog::error("{}", error);
            return false;
        }
        recordings->push_back(std::move(*r));
        images->push_back(std::move(image));
    }
    return true;
}

}  // namespace

int cmd_run(const RunOptions& o) {
    std::string error;
    const std::string shim = locate_shim(o.shim, &error);
    if (shim.empty()) {
        spdlog::error("{}", error);
        return kExitUsage;
    }
    std::string exe, why_not;
    if (const int code = resolve_command(o.command[0], &exe, &why_not); code != 0) {
        spdlog::error("{}: {}", o.command[0], why_not);
        return code;  // 127 or 126, as a shell says it
    }
    if (access(exe.c_str(), X_OK) != 0) {
        spdlog::error("{}: {}", o.command[0], strerror(errno));
        return 126;  // as a shell says it: found, but cannot be run
    }
    const bool inject_static = o.inject_static && wants_injection(exe, o);
    for (const std::string& w : preload_blind_spots(exe, inject_static)) spdlog::warn("{}", w);

    const std::string session = o.session.empty() ? new_session_id() : o.session;
    // Where the recording file goes, decided before the program starts: -o was checked already;
    // the default place (the current directory) may not be writable, then the segments stay.
    std::string recording_path = o.recording_file;
    if (recording_path.empty()) {
        recording_path = recording_file_name(o.command[0], session);
        if (const std::string why = recording_path_problem(recording_path); !why.empty()) {
            spdlog::warn("cannot write the recording file {} here ({}): the recordings stay in {} (-o FILE puts "
                         "it elsewhere)",
                         recording_path, why, shm_dir());
            recording_path.clear();
        }
    }
    const std::string preload = preload_with(shim, getenv("LD_PRELOAD"));
    RuntimeHelp help;
    const int64_t started_realtime_ns = int64_t(now_ns(CLOCK_REALTIME));
    if (o.runtime_help && !inject_static) {
        help = runtime_help_for(exe, [](const char* name) -> const char* { return getenv(name); });
        if (!help.notice.empty()) spdlog::info("{}", help.notice);
    }

    // Like system(): while the command runs, Ctrl-C and Ctrl-\ reach it from the terminal and
    // must not kill us, or the report would be lost. Every signal another process sends us is
    // passed on to the command (signal_forwarding.h).
    forward_signals_to(&g_child);

    std::vector<char*> argv;
    for (const std::string& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    // Orphans of the tree (double-forking daemons, a pipeline's members whose shell left) are
    // re-parented to us instead of init, so their exit statuses can be recorded too.
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) spdlog::debug("PR_SET_CHILD_SUBREAPER: {}", strerror(errno));

    // A static program asks to be traced before exec and says through this pipe when it cannot.
    int trace_pipe[2] = {-1, -1};
    if (inject_static && pipe2(trace_pipe, O_CLOEXEC) != 0) {
        spdlog::error("pipe: {}", strerror(errno));
        return kExitBadInput;
    }
    fflush(nullptr);
    g_child = fork();
    if (g_child < 0) {
        spdlog::error("fork: {}", strerror(errno));
        return kExitBadInput;
    }
    if (g_child == 0) {
        restore_signals_for_exec();
        setenv("LD_PRELOAD", preload.c_str(), 1);
        setenv("VDSOTRACE_SESSION", session.c_str(), 1);
        if (o.sample > 0) setenv("VDSOTRACE_SAMPLE", std::to_string(o.sample).c_str(), 1);
        if (o.sample_depth > 0) setenv("VDSOTRACE_SAMPLE_DEPTH", std::to_string(o.sample_depth).c_str(), 1);
        if (!o.unwind.empty()) setenv("VDSOTRACE_UNWIND", o.unwind.c_str(), 1);
        if (!o.route.empty()) setenv("VDSOTRACE_ROUTE", o.route.c_str(), 1);
        if (!o.wrappers.empty()) {
            std::string globs;
            if (const char* own = getenv("VDSOTRACE_WRAPPERS"); own != nullptr && *own != '\0') globs = own;
            for (const std::string& g : o.wrappers) globs += (globs.empty() ? "" : ",") + g;
            setenv("VDSOTRACE_WRAPPERS", globs.c_str(), 1);
        }
        if (!o.follow_exec) setenv("VDSOTRACE_FOLLOW_EXEC", "0", 1);
        for (const auto& [var, value] : help.env) setenv(var.c_str(), value.c_str(), 1);
        if (inject_static) {
            const int trace_error = inject::request_trace();
            if (trace_error != 0) {
                ssize_t ignored = write(trace_pipe[1], &trace_error, sizeof trace_error);
                (void)ignored;
            }
        }
        execv(exe.c_str(), argv.data());
        fprintf(stderr, "vdsotrace: cannot run %s: %s\n", exe.c_str(), strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    if (inject_static) inject_into_static_child(exe, session, trace_pipe);
    // Run as root, the tree's processes that changed user (servers dropping privileges) recorded
    // under their own uid: the session id is ours, so their recordings are part of the report.
    const bool other_users = geteuid() == 0;
    // The recording file is written as processes end (recording_stream.h), when it is a file of
    // its own: the end of the run then has only the last few to add. Standard output (the
    // program's own too) and other special files get it whole at the end.
    std::unique_ptr<RecordingStream> stream;
    if (!recording_path.empty() && !written_in_place(recording_path)) {
        stream = RecordingStream::create(recording_path, &error);
        if (!stream) spdlog::warn("{}: the recording file is written at the end instead", error);
        error.clear();
    }
    // Reads ended processes' recordings meanwhile, into the file. Every 25 ms: what the end has
    // left to read is what ended in the last pass's interval.
    SessionCollector collector(session, other_users, 25, stream.get());
    const int status = wait_for_tree(session, g_child, o.wait_descendants, help.maps_requested);
    std::string stream_error;
    std::map<std::string, CollectedRecording> collected = collector.finish(&stream_error);
    if (!stream_error.empty()) spdlog::warn("{}", stream_error);
    std::vector<int> pids;

    std::vector<std::string> files;
    const auto in_session = [&session](const SegmentName& s) { return s.session == session; };
    for (const SegmentName& s : list_segments(getuid(), other_users, in_session)) {
        files.push_back(s.path);
        pids.push_back(s.pid);
        // Processes reaped by their own parents, or still running (--no-wait): their maps too.
        // (One still running keeps writing its map: the report reads that one.)
        if (has_live_perf_map(s.pid) && access(kept_perf_map_path(s.path).c_str(), F_OK) != 0 &&
            tracer::read_start_ticks(s.pid) == 0)
            keep_perf_map(s.path, help.maps_requested);
    }
    if (help.runtime == "node" && help.maps_requested)
        remove_v8_logs(".", pids, started_realtime_ns, o.command);
    ReportOptions text_options{false, o.text_file, o.top, o.stacks, o.per_process, other_users};
    text_options.all = o.all;
    const ReportOptions json_options{true, o.json_file, o.top, {"", "", "", o.stacks.thread, o.stacks.function},
                                     false, other_users};
    std::vector<Recording> recordings;
    std::vector<SegmentImage> images;  // the same reads, packed, for the recording file (those not in it yet)
    if (files.empty()) {
        spdlog::info("no recording of session {} in {}: {} made no vDSO time call that LD_PRELOAD could see, or "
                     "the shim could not record (then it said why above)",
                     session, shm_dir(), o.command[0]);
        // Scripts get their JSON file even when nothing was recorded: a report with zero calls.
        if (!o.json_file.empty()) report_recordings(recordings, json_options, false);
    } else if (load_session(files, other_users, &collected, &recordings, &images)) {
        // Every call site and sampled frame named now, while the binaries are still there: the
        // recording file carries the names (the unfiltered report asks for all of them).
        // The text report's own build collects them when it is the unfiltered one (a second build
        // of a big session's report cost a few milliseconds of every run's end).
        auto names = std::make_shared<SymbolTable>();
        names->collect = true;
        for (Recording& r : recordings) r.symbols = names;
        if (o.stacks.thread != 0 || !o.stacks.function.empty()) (void)build_report(recordings);
        report_recordings(recordings, text_options, true);
        names->collect = false;
        if (!o.json_file.empty()) report_recordings(recordings, json_options, false);
        bool saved = false;
        if (recording_path == "/dev/null") {
            saved = true;  // `-o /dev/null`: no recording file wanted (as with perf), nothing to say
        } else if (!recording_path.empty()) {
            std::string error;
            uint64_t size = 0;
            saved = stream ? finish_recording_file(stream.get(), images, files, names.get(), &error, &size)
                           : write_recording_file(images, names.get(), recording_path, &error, &size);
            if (saved)
                spdlog::info("recording: {} ({}, {} process{}; `vdsotrace report {}` reads it anywhere)",
                             recording_path, human_size(size), recordings.size(), recordings.size() == 1 ? "" : "es",
                             recording_path);
            else
                spdlog::error("{}; the recordings stay in {}", error, shm_dir());
        }
        if (!o.output_dir.empty()) copy_to_output_dir(files, o.output_dir);
        if (saved && !o.keep_live) remove_segments(files, recordings);
    }
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

Command register_run(CLI::App& vdsotrace) {
    auto run = std::make_shared<RunOptions>();
    auto save_file = std::make_shared<std::string>();
    CLI::App* cmd = vdsotrace.add_subcommand("run", "Run a command with the shim preloaded, then report");
    cmd->add_option("--json", run->json_file, "Also write the JSON report to FILE");
    cmd->add_option("-o,--output", run->recording_file,
                    "Write the recording file here (default: vdsotrace.PROGRAM.SESSION.vdsotrace in the current "
                    "directory)");
    cmd->add_option("--save", *save_file, "The same as -o (its older name)");
    cmd->add_flag("--keep-live", run->keep_live, "Keep the session's recordings in /dev/shm after writing the file");
    cmd->add_option("--text", run->text_file, "Write the text report to FILE instead of stderr");
    cmd->add_option("--top", run->top, "Callers shown in the text report")->check(kAtLeastOne);
    cmd->add_option("--shim", run->shim, "Path of libvdsotrace.so (default: next to vdsotrace, or $VDSOTRACE_SHIM)");
    cmd->add_option("--sample", run->sample, "Take the stack of one call in N per thread (1: every call; 0: none)");
    cmd->add_option("--sample-depth", run->sample_depth, "Frames kept per stack (1..256, default 64)")
        ->check(CLI::Range(1, 256));
    cmd->add_option("--unwind", run->unwind,
                    "How stacks are taken: cfi (default: the unwind tables, libunwind where they fall short), "
                    "libunwind, or fp (frame pointers)")
        ->check(CLI::IsMember({"cfi", "libunwind", "fp"}));
    add_stack_options(cmd, &run->stacks);
    cmd->add_option("--route", run->route,
                    "Send functions elsewhere than the vDSO, e.g. clock_gettime=syscall,gettimeofday=libc "
                    "(targets: vdso, syscall, libc; FUNCTION may be all)");
    cmd->add_option("--session", run->session,
                    "Name the run's session (1 to 40 of A-Z a-z 0-9 . _; default: a fresh random id)");
    cmd->add_option("--wrapper", run->wrappers,
                    "Count calls made through the function(s) GLOB names (e.g. 'myapp::Clock::*') at their "
                    "callers, like std::chrono's now() (repeatable; also VDSOTRACE_WRAPPERS=GLOB,GLOB)")
        ->check([](const std::string& g) {
            if (g.empty()) return std::string("an empty GLOB names no function");
            if (g.find(',') != std::string::npos) return std::string("GLOB must not contain ',' (give --wrapper again)");
            if (g.size() > 255) return std::string("GLOB is longer than 255 characters");
            return std::string();
        });
    cmd->add_flag("--per-process", run->per_process, "Show each process's calls per function and clock");
    cmd->add_flag("--all", run->all, "List every thread and process (by default, beyond 10 they are grouped by "
                                     "name and executable and cut to the busiest 10)");
    cmd->add_flag("--no-follow-exec{false}", run->follow_exec,
                  "Do not trace programs the command (or its children) exec");
    cmd->add_flag("--no-inject{false}", run->inject_static,
                  "For a statically linked CMD, only warn instead of injecting a counting trampoline");
    cmd->add_flag("--no-wait{false}", run->wait_descendants,
                  "Return when CMD ends, without waiting for descendants it left running");
    cmd->add_flag("--no-runtime-help{false}", run->runtime_help,
                  "Leave the environment alone for node, java and python3.12+ (by default perf maps are "
                  "turned on, so that JIT-compiled frames are named)");
    cmd->add_option("--output-dir", run->output_dir, "Keep a copy of each recording in DIR (`report DIR`)");
    cmd->add_option("command", run->command, "The command and its arguments, after --")->required();
    cmd->positionals_at_end();

    return {cmd, [run, save_file] {
                auto outputs = stack_outputs(run->stacks);
                outputs.insert(outputs.end(), {{"--json", &run->json_file},
                                               {"--text", &run->text_file},
                                               {"-o", &run->recording_file},
                                               {"--save", save_file.get()}});
                if (!outputs_writable(outputs, {&run->recording_file, save_file.get()})) return kExitUsage;
                if (!save_file->empty()) {
                    if (!run->recording_file.empty() && run->recording_file != *save_file) {
                        spdlog::error("-o {} and --save {} both name the recording file: choose one",
                                      run->recording_file, *save_file);
                        return kExitUsage;
                    }
                    run->recording_file = *save_file;
                }
                if (!run->output_dir.empty()) {
                    if (const std::string why = output_dir_problem(run->output_dir); !why.empty()) {
                        spdlog::error("--output-dir {}: {}", run->output_dir, why);
                        return kExitUsage;
                    }
                }
                if (!run->session.empty()) {
                    if (const std::string why = session_problem(run->session, getuid()); !why.empty()) {
                        spdlog::error("--session {}: {}", run->session, why);
                        return kExitUsage;
                    }
                }
                if (!run->route.empty()) {
                    if (const std::string why = route_problem(run->route); !why.empty()) {
                        spdlog::error("--route {}: {}", run->route, why);
                        return kExitUsage;
                    }
                }
                return cmd_run(*run);
            }};
}

}  // namespace vdsotrace::tools
