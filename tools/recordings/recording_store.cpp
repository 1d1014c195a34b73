#include "tools/recordings/recording_store.h"
#include "tracer/common/clock_now.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <map>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "tracer/common/process_info.h"

namespace vdsotrace::tools {

std::string shm_dir() { return "/dev/shm"; }  // where glibc's shm_open puts the shim's segments

namespace {

bool all_digits(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::optional<SegmentName> parse_segment_name(const std::string& name) {
    const std::string prefix = format::kShmPrefix;
    if (name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    std::vector<std::string> parts;
    size_t start = prefix.size();
    for (size_t i = start; i <= name.size(); ++i) {
        if (i == name.size() || name[i] == '-') {
            parts.push_back(name.substr(start, i - start));
            start = i + 1;
        }
    }
    if (parts.size() != 4 || !all_digits(parts[0]) || parts[1].empty() || !all_digits(parts[2]) ||
        parts[3].size() != 16 || parts[0].size() > 10 || parts[2].size() > 9)
        return std::nullopt;
    SegmentName s;
    s.uid = uint32_t(std::stoul(parts[0]));
    s.session = parts[1];
    s.pid = std::stoi(parts[2]);
    return s;
}

std::optional<SegmentName> segment_named(const std::string& file_name, uint32_t uid, bool allow_other_users,
                                         const std::function<bool(const SegmentName&)>& wanted) {
    auto s = parse_segment_name(file_name);
    // Other users' names too when asked: a root server's children that setuid record under
    // the uid they run as (issue 12).
    if (!s || (s->uid != uid && !allow_other_users)) return std::nullopt;
    s->path = shm_dir() + "/" + file_name;
    if (wanted && !wanted(*s)) return std::nullopt;
    struct stat st {};
    if (lstat(s->path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    if (st.st_uid != uid && !allow_other_users) return std::nullopt;
    s->mtime_ns = int64_t(timespec_ns(st.st_mtim));
    return s;
}

std::vector<SegmentName> list_segments(uint32_t uid, bool allow_other_users,
                                       const std::function<bool(const SegmentName&)>& wanted) {
    std::vector<SegmentName> out;
    DIR* d = opendir(shm_dir().c_str());
    if (d == nullptr) return out;
    while (dirent* e = readdir(d)) {
        if (auto s = segment_named(e->d_name, uid, allow_other_users, wanted)) out.push_back(std::move(*s));
    }
    closedir(d);
    std::sort(out.begin(), out.end(), [](const SegmentName& a, const SegmentName& b) {
        return a.mtime_ns != b.mtime_ns ? a.mtime_ns < b.mtime_ns : a.path < b.path;
    });
    return out;
}

bool process_alive(const Recording& r) {
    if (r.pid <= 0) return false;
    // A short process does not read its own start time (process_info.h): then the process now at
    // that pid is the one that recorded if the recording began after it started.
    return tracer::recorded_by(r.proc_start_ticks, r.start_monotonic_ns, tracer::read_start_ticks(r.pid),
                               now_ns(CLOCK_BOOTTIME) - now_ns(CLOCK_MONOTONIC), sysconf(_SC_CLK_TCK));
}

ProcessFate fate_of(const Recording& r) {
    const ProcessFate recorded = fate_of(r, false);
    return recorded == ProcessFate::kVanished && process_alive(r) ? ProcessFate::kRunning : recorded;
}

ProcessFate fate_of(const Recording& r, bool alive) {
    switch (r.state) {
        case format::kStateExited: return ProcessFate::kExited;
        case format::kStateSignaled: return ProcessFate::kSignaled;
        case format::kStateEnded: return ProcessFate::kEndedUnknownStatus;
        case format::kStateExeced: return ProcessFate::kExeced;
        default: return alive ? ProcessFate::kRunning : ProcessFate::kVanished;
    }
}

ProcessSpan process_span(const Recording& r, ProcessFate fate, uint64_t now_monotonic_ns) {
    ProcessSpan span;
    uint64_t end = r.end_monotonic_ns;
    if (end == 0 && fate == ProcessFate::kExeced) end = r.exec_monotonic_ns;
    if (end == 0 && fate != ProcessFate::kRunning && r.last_activity_monotonic_ns > r.start_monotonic_ns) {
        end = r.last_activity_monotonic_ns;
        span.at_least = true;
    }
    if (end == 0) end = fate == ProcessFate::kRunning ? now_monotonic_ns : r.start_monotonic_ns;
    span.end_monotonic_ns = end;
    span.seconds = end > r.start_monotonic_ns ? double(end - r.start_monotonic_ns) / 1e9 : 0;
    return span;
}

std::string fate_word(const Recording& r) { return fate_word(fate_of(r), r.exit_value); }

std::string fate_word(ProcessFate fate, int exit_value) {
    switch (fate) {
        case ProcessFate::kRunning: return "running";
        case ProcessFate::kExited: return fmt::format("exit {}", exit_value);
        case ProcessFate::kSignaled: return fmt::format("signal {}", exit_value);
        case ProcessFate::kEndedUnknownStatus: return "ended";
        case ProcessFate::kVanished: return "vanished";
        case ProcessFate::kExeced: return "exec'd";
    }
    return "?";
}

namespace {

// The header alone (4 KiB), enough to tell when a recording began and what it ran: choosing a
// session must not read every recording in full (a busy /dev/shm holds gigabytes).
std::optional<format::Header> read_header(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return std::nullopt;
    format::Header h;
    const bool ok = pread(fd, &h, sizeof h, 0) == ssize_t(sizeof h) && memcmp(h.magic, format::kMagic, sizeof h.magic) == 0;
    close(fd);
    if (!ok) return std::nullopt;
    return h;
}

}  // namespace

std::string newest_session(uint32_t uid, std::string* note) {
    const std::vector<SegmentName> all = list_segments(uid);
    if (all.empty()) return "";
    // The newest session is the one whose first recording began last (mtimes change while a
    // long session runs, start times do not).
    std::map<std::string, std::pair<uint64_t, std::string>> first;  // session -> start, first file
    for (const SegmentName& s : all) {
        const std::optional<format::Header> h = read_header(s.path);
        const uint64_t start = h ? h->start_realtime_ns : uint64_t(s.mtime_ns);
        auto [it, added] = first.try_emplace(s.session, start, s.path);
        if (!added && start < it->second.first) it->second = {start, s.path};
    }
    auto newest = first.begin();
    for (auto it = first.begin(); it != first.end(); ++it)
        if (it->second.first > newest->second.first) newest = it;
    std::string what;
    if (const std::optional<format::Header> h = read_header(newest->second.second)) {
        std::string cmd;
        const size_t n = std::min<size_t>(h->cmdline_size, sizeof h->cmdline);
        for (size_t i = 0; i < n; ++i) cmd += h->cmdline[i] == '\0' ? (i + 1 < n ? ' ' : '\0') : h->cmdline[i];
        while (!cmd.empty() && cmd.back() == '\0') cmd.pop_back();
        const time_t t = time_t(h->start_realtime_ns / 1000000000ull);
        tm local{};
        localtime_r(&t, &local);
        char when[16];
        strftime(when, sizeof when, "%H:%M:%S", &local);
        what = fmt::format(" (started {}: {})", when, cmd.empty() ? std::string(h->exe, strnlen(h->exe, sizeof h->exe)) : cmd);
    }
    *note = fmt::format("reading session {}{}, the newest of {} in {}; `vdsotrace ls` lists them", newest->first, what,
                        first.size(), shm_dir());
    return newest->first;
}

std::string newest_recording_file(const std::string& dir, uint32_t uid, std::string* note) {
    std::string newest;
    int64_t newest_mtime = 0;
    size_t count = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        const std::string ext = ".vdsotrace";
        if (name.rfind("vdsotrace.", 0) != 0 || name.size() <= ext.size() + 10 ||
            name.compare(name.size() - ext.size(), ext.size(), ext) != 0)
            continue;
        struct stat st {};
        if (lstat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != uid) continue;
        ++count;
        const int64_t mtime = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
        if (newest.empty() || mtime > newest_mtime) {
            newest = dir == "." ? name : e.path().string();
            newest_mtime = mtime;
        }
    }
    if (newest.empty()) return newest;
    const time_t t = time_t(newest_mtime / 1000000000);
    tm local{};
    localtime_r(&t, &local);
    char when[16];
    strftime(when, sizeof when, "%H:%M:%S", &local);
    *note = count == 1 ? fmt::format("reading {} (written {}), the recording file in the current directory", newest, when)
                       : fmt::format("reading {} (written {}), the newest of {} recording files in the current directory",
                                     newest, when, count);
    return newest;
}

std::vector<std::string> resolve_target(const std::string& target, uint32_t uid, std::string* error,
                                        bool allow_other_users) {
    std::vector<std::string> files;
    if (!target.empty() && std::filesystem::is_directory(target)) {
        // A directory of saved copies (`run --output-dir`): its segment files and archives.
        for (const auto& e : std::filesystem::directory_iterator(target)) {
            const std::string name = e.path().filename().string();
            if (e.is_regular_file() && (parse_segment_name(name) || e.path().extension() == ".vdsotrace"))
                files.push_back(e.path().string());
        }
        std::sort(files.begin(), files.end());
        if (files.empty()) *error = fmt::format("{} holds no recordings", target);
        return files;
    }
    if (!target.empty() && (target.find('/') != std::string::npos || std::filesystem::exists(target))) {
        files.push_back(target);
        return files;
    }
    const std::vector<SegmentName> all = list_segments(uid, allow_other_users);
    if (target.empty()) {
        if (all.empty()) {
            *error = fmt::format("no recording file (vdsotrace.*.vdsotrace) here and no recordings in {}: trace "
                                 "something with `vdsotrace run -- CMD` first, or name a file",
                                 shm_dir());
            return files;
        }
        const std::string& newest = all.back().session;
        for (const SegmentName& s : all)
            if (s.session == newest) files.push_back(s.path);
        return files;
    }
    // A pid names its newest session's recordings of that pid (an exec chain): pids are reused.
    std::string pid_session;
    if (all_digits(target))
        for (const SegmentName& s : all)
            if (s.pid == std::atoi(target.c_str())) pid_session = s.session;
    for (const SegmentName& s : all)
        if ((!pid_session.empty() && s.session == pid_session && s.pid == std::atoi(target.c_str())) ||
            s.session == target)
            files.push_back(s.path);
    if (files.empty())
        *error = fmt::format("no recording matches '{}' (not a file, nor a pid or session in {}; see `vdsotrace ls`)",
                             target, shm_dir());
    return files;
}

}  // namespace vdsotrace::tools
