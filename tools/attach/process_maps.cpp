#include "tools/attach/process_maps.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <set>

#include <fmt/format.h>

namespace vdsotrace::attach {
namespace {

// The whole file in one buffer (a few read calls: the kernel hands out a page or so at a time).
bool slurp(const std::string& path, std::string* out) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    out->clear();
    char buf[65536];
    for (;;) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            close(fd);
            return false;
        }
        if (n == 0) break;
        out->append(buf, size_t(n));
    }
    close(fd);
    return true;
}

}  // namespace

bool read_process_maps(pid_t pid, ProcessMaps* out) {
    std::string text;
    if (!slurp(fmt::format("/proc/{}/maps", pid), &text)) return false;
    out->modules.clear();
    out->recordings.clear();
    std::set<std::string_view> seen;
    // Each line: start-end perms offset dev inode [path]
    for (size_t at = 0; at < text.size();) {
        size_t eol = text.find('\n', at);
        if (eol == std::string::npos) eol = text.size();
        const char* line = text.data() + at;
        const char* end = text.data() + eol;
        at = eol + 1;
        char* p = nullptr;
        const uint64_t start = strtoull(line, &p, 16);
        if (p >= end || *p != '-') continue;
        const uint64_t stop = strtoull(p + 1, &p, 16);
        // Skip perms, then read the offset, then skip dev and inode.
        while (p < end && *p == ' ') ++p;
        while (p < end && *p != ' ') ++p;
        const uint64_t offset = strtoull(p, &p, 16);
        for (int field = 0; field < 2; ++field) {
            while (p < end && *p == ' ') ++p;
            while (p < end && *p != ' ') ++p;
        }
        while (p < end && *p == ' ') ++p;
        if (p >= end || *p != '/') continue;
        std::string_view path(p, size_t(end - p));
        if (path.rfind("/dev/shm/vdsotrace-", 0) == 0) {
            RecordingMapping r;
            r.start = start;
            r.end = stop;
            constexpr std::string_view kDeleted = " (deleted)";
            r.deleted = path.size() > kDeleted.size() && path.substr(path.size() - kDeleted.size()) == kDeleted;
            if (r.deleted) path.remove_suffix(kDeleted.size());
            r.path = std::string(path);
            out->recordings.push_back(std::move(r));
            continue;
        }
        if (offset != 0 || !seen.insert(path).second) continue;
        out->modules.push_back({start, std::string(path)});
    }
    return true;
}

}  // namespace vdsotrace::attach
