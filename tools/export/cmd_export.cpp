// `vdsotrace export [--format prometheus|openmetrics] [--callers N] [--textfile DIR | -o FILE|-]
//                   [--interval S] [--clean-older-than AGE] [--all-users] [--session S]...`
// Wires the pieces: list the live recordings, read each (one at a time), build the metric
// families (clock_metrics.h), render them (exposition.h), write them atomically.
#include "tools/export/export_command.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tools/export/clock_metrics.h"
#include "tools/export/live_read.h"
#include "tools/commands/commands.h"
#include "tools/commands/command.h"
#include "tools/recordings/recording_store.h"
#include "tracer/format/segment_format.h"
#include "tools/recordings/segment_reader.h"

namespace vdsotrace::tools {

namespace {

volatile sig_atomic_t g_stop = 0;

void on_stop_signal(int) { g_stop = 1; }

int64_t now_realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

bool parse_unsigned(const std::string& text, size_t max, size_t* out) {
    if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos) return false;
    *out = std::stoul(text);
    return *out <= max;
}

bool writable_directory(const std::string& dir) {
    struct stat st {};
    return stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && access(dir.c_str(), W_OK | X_OK) == 0;
}

std::string directory_of(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// The recordings to export: the caller's own, or (--all-users) every user's whose file that user
// owns (a file planted under another user's name is skipped).
std::vector<SegmentName> segments_to_read(bool all_users) {
    if (!all_users) return list_segments(getuid());
    std::set<uint32_t> uids;
    if (DIR* d = opendir(shm_dir().c_str())) {
        while (dirent* e = readdir(d))
            if (auto s = parse_segment_name(e->d_name)) uids.insert(s->uid);
        closedir(d);
    }
    std::vector<SegmentName> out;
    for (uint32_t uid : uids)
        for (SegmentName& s : list_segments(uid, true)) {
            struct stat st {};
            if (lstat(s.path.c_str(), &st) == 0 && st.st_uid == uid) out.push_back(std::move(s));
        }
    return out;
}

// Writes `text` to `path` the way node_exporter's textfile collector needs: into a temporary file
// of the same directory (not named *.prom, so never read half-written), then renamed over `path`.
// Readable by all: node_exporter usually runs as another user.
bool write_atomically(const std::string& path, const std::string& text, std::string* error) {
    const std::string tmp = fmt::format("{}/.{}.{}.tmp", directory_of(path), path.substr(path.rfind('/') + 1), getpid());
    const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        *error = fmt::format("cannot create {}: {}", tmp, strerror(errno));
        return false;
    }
    bool ok = fchmod(fd, 0644) == 0;
    for (size_t done = 0; ok && done < text.size();) {
        const ssize_t n = write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) done += size_t(n);
    }
    const int saved = errno;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
        *error = fmt::format("cannot write {}: {}", path, strerror(ok ? errno : saved));
        unlink(tmp.c_str());
        return false;
    }
    return true;
}

// A recording's life cycle from its header alone: most of /dev/shm on a busy machine is ended
// recordings, some tens of MB, and only live ones are worth reading whole.
std::optional<Recording> glance(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return std::nullopt;
    format::Header h{};
    const bool whole = pread(fd, &h, sizeof h, 0) == ssize_t(sizeof h);
    close(fd);
    if (!whole || memcmp(h.magic, format::kMagic, sizeof h.magic) != 0 || h.byte_order != format::kByteOrderMark)
        return std::nullopt;
    Recording r;
    r.pid = h.pid;
    r.state = h.state;
    r.proc_start_ticks = h.proc_start_ticks;
    r.end_realtime_ns = h.end_realtime_ns;
    return r;
}

// One export: every live recording, read one at a time. Ended ones are cleaned when asked.
// Only a process's current image is exported: the images it exec'd from are finished parts of
// the same pid, and their series would carry the same pid and session.
std::string export_once(const ExportOptions& o, ClockMetrics* metrics, LiveReader* reader,
                        size_t* removed) {
    const std::vector<SegmentName> segments = segments_to_read(o.all_users);
    metrics->begin(measure_kernel_entry());
    const int64_t now = now_realtime_ns();
    for (const SegmentName& s : segments) {
        if (!o.sessions.empty() && std::find(o.sessions.begin(), o.sessions.end(), s.session) == o.sessions.end())
            continue;
        const std::optional<Recording> header = glance(s.path);
        if (!header) {
            metrics->count_unreadable();
            continue;
        }
        if (fate_of(*header) == ProcessFate::kRunning) {
            std::string error;
            std::optional<Recording> r;
            if (const std::vector<unsigned char>* bytes = reader->read(s.path, &error, o.all_users))
                r = parse_recording(*bytes, s.path, &error);
            if (!r)
                metrics->count_unreadable();
            else if (fate_of(*r) == ProcessFate::kRunning)
                metrics->add(*r, s.path);
        } else if (o.clean_older_than >= 0 && !still_running(*header) &&
                   ended_long_enough(*header, s.mtime_ns, o.clean_older_than, now)) {
            if (std::remove(s.path.c_str()) == 0) ++*removed;
        }
    }
    return exposition::render(metrics->finish(),
                              o.openmetrics ? exposition::Format::kOpenMetrics : exposition::Format::kPrometheus);
}

// Sleeps `seconds`, waking early when asked to stop.
void pause_for(double seconds) {
    const int64_t end = now_realtime_ns() + int64_t(seconds * 1e9);
    while (!g_stop) {
        const int64_t left = end - now_realtime_ns();
        if (left <= 0) return;
        const int64_t step = std::min<int64_t>(left, 100000000);
        timespec ts{step / 1000000000, step % 1000000000};
        nanosleep(&ts, nullptr);
    }
}

}  // namespace

bool validate_export_options(const ExportOptionsText& t, ExportOptions* o, std::string* error) {
    *o = ExportOptions{};
    if (t.format != "prometheus" && t.format != "openmetrics") {
        *error = fmt::format("--format {}: say prometheus or openmetrics", t.format);
        return false;
    }
    o->openmetrics = t.format == "openmetrics";
    if (!parse_unsigned(t.callers, 100, &o->callers)) {
        *error = fmt::format("--callers {}: a number of call sites per process, 0 to 100", t.callers);
        return false;
    }
    if (!t.textfile.empty() && !t.output.empty()) {
        *error = "--textfile and --output both say where to write: choose one";
        return false;
    }
    if (!t.textfile.empty()) {
        if (o->openmetrics) {
            *error = "--textfile: node_exporter's textfile collector reads the Prometheus text format, not OpenMetrics "
                     "(drop --format openmetrics)";
            return false;
        }
        if (!writable_directory(t.textfile)) {
            *error = fmt::format("--textfile {}: not a directory this user can write to", t.textfile);
            return false;
        }
        o->textfile = t.textfile;
    }
    if (!t.output.empty() && t.output != "-") {
        if (!writable_directory(directory_of(t.output))) {
            *error = fmt::format("--output {}: its directory does not exist or is not writable", t.output);
            return false;
        }
        o->output = t.output;
    }
    if (!t.interval.empty()) {
        size_t used = 0;
        double v = -1;
        try {
            v = std::stod(t.interval, &used);
        } catch (...) {
            used = 0;
        }
        if (used != t.interval.size() || !std::isfinite(v) || v < 0.1 || v > 86400) {
            *error = fmt::format("--interval {}: seconds between refreshes, 0.1 to 86400", t.interval);
            return false;
        }
        o->interval = v;
    }
    if (!t.clean_older_than.empty() && (o->clean_older_than = parse_duration(t.clean_older_than)) < 0) {
        *error = fmt::format("--clean-older-than {}: not a duration (like 90s, 15m, 2h, 3d)", t.clean_older_than);
        return false;
    }
    for (const std::string& session : t.sessions) {
        if (session.empty() || session.size() > 40 ||
            session.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._") !=
                std::string::npos) {
            *error = fmt::format("--session {}: not a session id (letters, digits, '.' and '_', up to 40)", session);
            return false;
        }
    }
    o->sessions = t.sessions;
    o->all_users = t.all_users;
    return true;
}

int cmd_export(const ExportOptionsText& text) {
    ExportOptions o;
    std::string error;
    if (!validate_export_options(text, &o, &error)) {
        spdlog::error("{}", error);
        return kExitUsage;
    }
    if (o.interval > 0) {
        struct sigaction sa {};
        sa.sa_handler = on_stop_signal;
        sigaction(SIGINT, &sa, nullptr);
        sigaction(SIGTERM, &sa, nullptr);
    }
    const std::string target = !o.textfile.empty() ? o.textfile + "/" + kTextfileName : o.output;
    ClockMetrics metrics(o.callers);
    LiveReader reader;  // one recording at a time, in one buffer
    bool warned = false;
    do {
        size_t removed = 0;
        const std::string body = export_once(o, &metrics, &reader, &removed);
        if (removed) spdlog::info("removed {} ended recording(s) older than {}", removed, text.clean_older_than);
        if (target.empty()) {
            std::cout << body << std::flush;
        } else if (!write_atomically(target, body, &error)) {
            if (o.interval <= 0) {
                spdlog::error("{}", error);
                return kExitBadInput;
            }
            if (!warned) spdlog::warn("{} (retrying every interval)", error);
            warned = true;
        } else {
            warned = false;
        }
        if (o.interval > 0) pause_for(o.interval);
    } while (o.interval > 0 && !g_stop);
    return kExitOk;
}

Command register_export(CLI::App& vdsotrace) {
    auto exp = std::make_shared<ExportOptionsText>();
    CLI::App* cmd = vdsotrace.add_subcommand("export", "Every live recording as Prometheus/OpenMetrics counters "
                                                       "(stdout, a file, or node_exporter's textfile directory)");
    cmd->add_option("--format", exp->format, "prometheus (default; what node_exporter's textfile collector reads) "
                                             "or openmetrics");
    cmd->add_option("--callers", exp->callers, "Busiest call sites exported per process, 0 to 100 (default 5)");
    cmd->add_option("--textfile", exp->textfile, "Write DIR/vdsotrace.prom atomically, for node_exporter's "
                                                 "--collector.textfile.directory");
    cmd->add_option("-o,--output", exp->output, "Write to FILE (atomically) instead of stdout (-)");
    cmd->add_option("--interval", exp->interval, "Refresh every S seconds until SIGTERM/SIGINT");
    cmd->add_option("--clean-older-than", exp->clean_older_than,
                    "Also remove recordings of processes that ended longer ago than DURATION (90s, 15m, 2h, 3d)");
    cmd->add_flag("--all-users", exp->all_users, "Every user's recordings (root exporting services' recordings)");
    cmd->add_option("--session", exp->sessions, "Only this session's recordings (repeat for more)");
    return {cmd, [exp] { return cmd_export(*exp); }};
}

}  // namespace vdsotrace::tools
