#include "tools/recordings/jit_symbols.h"
#include "tracer/common/clock_now.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace vdsotrace::tools {

namespace {

// Far more than any runtime writes (node with --perf-basic-prof: a few MiB for a large program).
constexpr off_t kMaxMapSize = off_t(512) << 20;

// Boot time in ns since the epoch, from /proc/stat (whole seconds); 0 when unknown.
uint64_t boot_realtime_ns() {
    std::ifstream in("/proc/stat");
    std::string key;
    uint64_t value = 0;
    while (in >> key) {
        if (key == "btime" && in >> value) return value * 1000000000ull;
        in.ignore(1 << 20, '\n');
    }
    return 0;
}

// Reads a regular file (not a link, not another user's) of at most kMaxMapSize; false if not.
bool read_map_file(const std::string& path, uint32_t owner, std::string* text) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return false;
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > kMaxMapSize ||
        (st.st_uid != owner && st.st_uid != getuid())) {
        close(fd);
        return false;
    }
    text->resize(size_t(st.st_size));
    size_t got = 0;
    while (got < text->size()) {
        const ssize_t n = pread(fd, text->data() + got, text->size() - got, off_t(got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += size_t(n);
    }
    close(fd);
    text->resize(got);
    return true;
}

}  // namespace

std::string kept_perf_map_path(const std::string& recording_path) { return recording_path + ".perf-map"; }

std::string live_perf_map_path(const Recording& r) {
    if (r.pid <= 0) return "";
    const std::string path = fmt::format("/tmp/perf-{}.map", r.pid);
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
    // /tmp is everybody's: a map planted by another user names nothing of ours.
    if (st.st_uid != r.uid && st.st_uid != getuid()) return "";
    // Written after the process started (a map left by an earlier process of that pid is older;
    // /proc/stat's boot time is whole seconds, hence the second of slack) and, once it ended, not
    // long after (a later process of that pid rewrites it).
    const uint64_t written = timespec_ns(st.st_mtim);
    uint64_t started = r.start_realtime_ns;
    const long ticks_per_s = sysconf(_SC_CLK_TCK);
    if (const uint64_t boot = boot_realtime_ns(); boot != 0 && r.proc_start_ticks != 0 && ticks_per_s > 0)
        started = boot + r.proc_start_ticks * (1000000000ull / uint64_t(ticks_per_s));
    if (written + 1000000000ull < started) return "";
    if (r.end_realtime_ns != 0 && written > r.end_realtime_ns + 10 * 1000000000ull) return "";
    return path;
}

bool keep_perf_map(const std::string& recording_path, bool remove_live) {
    std::string error;
    auto r = load_recording(recording_path, &error);
    if (!r) return false;
    const std::string live = live_perf_map_path(*r);
    std::string text;
    if (live.empty() || !read_map_file(live, r->uid, &text)) return false;
    // Written beside the recording under a temporary name and renamed: a reader sees all or nothing.
    const std::string kept = kept_perf_map_path(recording_path);
    const std::string tmp = kept + ".partial";
    const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return false;
    size_t put = 0;
    while (put < text.size()) {
        const ssize_t n = write(fd, text.data() + put, text.size() - put);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        put += size_t(n);
    }
    const bool ok = close(fd) == 0 && put == text.size() && std::rename(tmp.c_str(), kept.c_str()) == 0;
    if (!ok) {
        std::remove(tmp.c_str());
        return false;
    }
    if (remove_live) std::remove(live.c_str());
    return true;
}

std::shared_ptr<const PerfMap> perf_map_from_text(const std::string& text) {
    auto map = std::make_shared<PerfMap>(PerfMap::parse(text));
    if (map->empty()) return nullptr;
    return map;
}

std::shared_ptr<const PerfMap> load_perf_map(const Recording& r) {
    std::string text;
    if (read_map_file(kept_perf_map_path(r.source), r.uid, &text)) return perf_map_from_text(text);
    const std::string live = live_perf_map_path(r);
    if (!live.empty() && read_map_file(live, r.uid, &text)) return perf_map_from_text(text);
    return nullptr;
}

const std::string* jit_symbol(const Recording& r, uint64_t address, uint64_t* offset) {
    return r.perf_map ? r.perf_map->find(address, offset) : nullptr;
}

}  // namespace vdsotrace::tools
