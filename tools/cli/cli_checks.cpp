#include "tools/cli/cli_checks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include <fmt/format.h>

#include "tools/recordings/recording_store.h"
#include "shim/route_spec.h"
#include "tracer/format/segment_format.h"

namespace vdsotrace::tools {

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            // A swap of two neighbours ("reprot") counts as one edit, as people make it.
            diagonal = up;
        }
    }
    return row[b.size()];
}

// Damerau's transposition on top of edit_distance: "reprot" is one swap from "report".
size_t typo_distance(const std::string& a, const std::string& b) {
    size_t best = edit_distance(a, b);
    for (size_t i = 0; i + 1 < a.size(); ++i) {
        std::string swapped = a;
        std::swap(swapped[i], swapped[i + 1]);
        best = std::min(best, 1 + edit_distance(swapped, b));
    }
    return best;
}

std::string parent_dir(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string nearest_name(const std::string& typed, const std::vector<std::string>& names) {
    std::string best;
    size_t best_distance = 3;
    for (const std::string& n : names) {
        const size_t d = n.compare(0, typed.size(), typed) == 0 && !typed.empty() ? 1 : typo_distance(typed, n);
        if (d < best_distance) {
            best_distance = d;
            best = n;
        }
    }
    return best;
}

namespace {

// access() answers for permissions only, and root passes it everywhere, yet nobody can create a
// file in /proc or /sys: a path that does not exist yet is created and removed again at once
// (O_EXCL: never a file that appeared meanwhile), so the answer is the kernel's own.
std::string creation_problem(const std::string& path) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) return errno == EEXIST ? "" : strerror(errno);
    close(fd);
    unlink(path.c_str());
    return "";
}

}  // namespace

std::string output_path_problem(const std::string& path) {
    if (path == "-") return "";
    if (path.empty()) return "empty path";
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) return "is a directory";
        return access(path.c_str(), W_OK) == 0 ? "" : strerror(errno);
    }
    if (errno != ENOENT && errno != ENOTDIR) return strerror(errno);
    const std::string dir = parent_dir(path);
    if (stat(dir.c_str(), &st) != 0) return fmt::format("{} does not exist", dir);
    if (!S_ISDIR(st.st_mode)) return fmt::format("{} is not a directory", dir);
    if (access(dir.c_str(), W_OK | X_OK) != 0) return fmt::format("cannot create files in {}: {}", dir, strerror(errno));
    return creation_problem(path);
}

std::string recording_path_problem(const std::string& path) {
    if (std::string why = output_path_problem(path); !why.empty() || path == "-") return why;
    // A regular (or new) recording file is written as FILE.partial and renamed into place
    // (recording_file.h): that name must be creatable too, even where FILE exists already.
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) return "";  // /dev/null, a FIFO: in place
    const std::string partial = path + ".partial";
    if (lstat(partial.c_str(), &st) == 0)  // a leftover of an earlier run is overwritten; nothing else
        return S_ISREG(st.st_mode) ? "" : fmt::format("{} is in the way (the file is written there first)", partial);
    return creation_problem(partial);
}

std::string output_dir_problem(const std::string& path) {
    if (path.empty()) return "empty path";
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return "not a directory";
        return access(path.c_str(), W_OK | X_OK) == 0 ? "" : strerror(errno);
    }
    // Created at the end (with its parents): the nearest existing ancestor must take new entries.
    std::string dir = path;
    while (stat(dir.c_str(), &st) != 0) {
        if (errno != ENOENT) return strerror(errno);
        const std::string up = parent_dir(dir);
        if (up == dir) return "cannot be created";
        dir = up;
    }
    if (!S_ISDIR(st.st_mode)) return fmt::format("{} is not a directory", dir);
    if (access(dir.c_str(), W_OK | X_OK) != 0) return fmt::format("cannot create it in {}: {}", dir, strerror(errno));
    return "";
}

std::string route_problem(const std::string& spec) {
    uint8_t routes[format::kFunctionCount] = {};
    char problem[512] = {};
    if (shim::parse_route_spec(spec.c_str(), routes, problem, sizeof problem)) return "";
    // The shim's line reads "vdsotrace: ignoring VDSOTRACE_ROUTE=...: expected ...; every call goes
    // to the vDSO": keep what it expected, which is what the user needs.
    std::string why = problem;
    const size_t from = why.find("expected");
    const size_t to = why.find("; every call");
    if (from == std::string::npos) return "malformed";
    return why.substr(from, to == std::string::npos ? std::string::npos : to - from);
}

std::string session_problem(const std::string& name, unsigned uid) {
    if (name.empty() || name.size() > 40 ||
        !std::all_of(name.begin(), name.end(), [](char c) { return isalnum((unsigned char)c) || c == '.' || c == '_'; }))
        return "expected 1 to 40 of A-Z a-z 0-9 . _";
    for (const SegmentName& s : list_segments(uid))
        if (s.session == name)
            return fmt::format("recordings of that session exist already ({}; `vdsotrace clean {}` removes them)",
                               s.path, name);
    return "";
}

int resolve_command(const std::string& command, std::string* exe, std::string* why) {
    // As bash: 127 when nothing of that name exists, 126 when something does but cannot run.
    auto check = [&](const std::string& path) {
        struct stat st {};
        if (stat(path.c_str(), &st) != 0) {
            *why = strerror(errno);
            return errno == ENOENT || errno == ENOTDIR ? 127 : 126;
        }
        if (S_ISDIR(st.st_mode)) {
            *why = "Is a directory";
            return 126;
        }
        if (!S_ISREG(st.st_mode) || access(path.c_str(), X_OK) != 0) {
            *why = strerror(S_ISREG(st.st_mode) ? errno : EACCES);
            return 126;
        }
        *exe = path;
        return 0;
    };
    if (command.empty()) {
        *why = "command not found";
        return 127;
    }
    if (command.find('/') != std::string::npos) return check(command);
    const char* path = getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
    std::string dir, denied;
    while (std::getline(dirs, dir, ':')) {
        const std::string candidate = (dir.empty() ? "." : dir) + "/" + command;
        std::string ignored;
        if (check(candidate) == 0) return 0;
        struct stat st {};
        if (denied.empty() && stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) denied = candidate;
    }
    if (!denied.empty()) {  // execvp's rule: a file found but not executable is EACCES, not ENOENT
        *why = "Permission denied";
        return 126;
    }
    *why = "command not found";
    return 127;
}

}  // namespace vdsotrace::tools
