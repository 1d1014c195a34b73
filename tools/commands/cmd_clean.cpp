// `vdsotrace clean [--all | SESSION] [--older-than DURATION]`: removes the recordings of processes
// that have ended. A recording whose process still runs (or whose process image was replaced by
// exec and still runs) is never removed; nor is a file this reader cannot read.
#include <cmath>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "tools/commands/commands.h"
#include "tools/commands/command.h"
#include "tools/recordings/jit_symbols.h"
#include "tools/recordings/recording_store.h"
#include "tracer/common/clock_now.h"

namespace vdsotrace::tools {

namespace {

int64_t now_realtime_ns() { return int64_t(now_ns(CLOCK_REALTIME)); }

}  // namespace

bool still_running(const Recording& r) {
    const ProcessFate fate = fate_of(r);
    return fate == ProcessFate::kRunning || (fate == ProcessFate::kExeced && process_alive(r));
}

bool ended_long_enough(const Recording& r, int64_t file_mtime_ns, double older_than_seconds, int64_t now_realtime_ns) {
    if (older_than_seconds < 0) return true;
    const int64_t ended = r.end_realtime_ns ? int64_t(r.end_realtime_ns) : file_mtime_ns;
    return double(now_realtime_ns - ended) / 1e9 >= older_than_seconds;
}

int cmd_clean(const CleanOptions& o) {
    if (!o.all && o.session.empty() && o.older_than_seconds < 0) {
        spdlog::error("say what to remove: --all, a SESSION, or --older-than DURATION");
        return kExitUsage;
    }
    size_t removed = 0, kept_running = 0;
    const int64_t now = now_realtime_ns();
    for (const SegmentName& s : list_segments(getuid())) {
        if (!o.session.empty() && s.session != o.session) continue;
        std::string error;
        auto r = load_recording(s.path, &error);
        if (!r) {
            spdlog::warn("left alone: {}", error);
            continue;
        }
        if (still_running(*r)) {
            ++kept_running;
            continue;
        }
        if (!ended_long_enough(*r, s.mtime_ns, o.older_than_seconds, now)) continue;
        if (std::remove(s.path.c_str()) == 0) {
            ++removed;
            std::remove(kept_perf_map_path(s.path).c_str());  // its perf map goes with it
        }
        else
            spdlog::warn("cannot remove {}", s.path);
    }
    std::cout << fmt::format("removed {} recording(s){}\n", removed,
                             kept_running ? fmt::format("; kept {} of running processes", kept_running) : "");
    return kExitOk;
}

// Parses "90", "90s", "15m", "2h", "3d" into seconds; negative on anything else.
double parse_duration(const std::string& text) {
    if (text.empty()) return -1;
    size_t used = 0;
    double v = 0;
    try {
        v = std::stod(text, &used);
    } catch (...) {
        return -1;
    }
    // "nan" and "inf" parse as numbers: nan compares false with every age, so it removed fresh
    // recordings (issue 12). Only a finite, non-negative amount is a duration.
    if (!std::isfinite(v) || v < 0) return -1;
    const std::string unit = text.substr(used);
    if (unit.empty() || unit == "s") return v;
    if (unit == "m") return v * 60;
    if (unit == "h") return v * 3600;
    if (unit == "d") return v * 86400;
    return -1;
}

Command register_clean(CLI::App& vdsotrace) {
    auto clean = std::make_shared<CleanOptions>();
    auto older_than = std::make_shared<std::string>();
    CLI::App* cmd = vdsotrace.add_subcommand("clean", "Remove recordings of ended processes (never of running ones)");
    cmd->add_flag("--all", clean->all, "Every ended recording");
    cmd->add_option("--older-than", *older_than, "Only those that ended longer ago than DURATION (90s, 15m, 2h, 3d)");
    cmd->add_option("session", clean->session, "Only this session's recordings");
    return {cmd, [clean, older_than] {
                if (!older_than->empty() && (clean->older_than_seconds = parse_duration(*older_than)) < 0) {
                    spdlog::error("--older-than {}: not a duration (like 90s, 15m, 2h, 3d)", *older_than);
                    return kExitUsage;
                }
                return cmd_clean(*clean);
            }};
}

}  // namespace vdsotrace::tools
