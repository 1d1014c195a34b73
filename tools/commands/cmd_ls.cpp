// `vdsotrace ls`: the sessions in /dev/shm, newest first, each with when it started, how long it
// lasted and its command; under each, its processes in the order they started, with what became
// of them (running, exit code, signal, ended, exec'd, or vanished) and how long they ran ("≥ 1.2 s"
// for one killed unseen: until its last recorded activity).
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/commands/commands.h"
#include "tools/commands/command.h"
#include "tools/recordings/recording_store.h"
#include "tools/render/report_output.h"
#include "tools/render/group_digits.h"
#include "tools/render/terminal_safe.h"
#include "tracer/common/clock_now.h"

namespace vdsotrace::tools {

namespace {

std::string command_line(const Recording& r) {
    std::string cmd;
    for (const std::string& a : r.argv) cmd += (cmd.empty() ? "" : " ") + a;
    return terminal_safe(cmd.empty() ? r.exe : cmd);  // argv may hold terminal escapes
}

struct Row {
    SegmentName name;
    std::optional<Recording> recording;
    std::string error;
};

uint64_t realtime_now_ns() { return now_ns(CLOCK_REALTIME); }

// "2026-11-29 21:47:48", local time.
std::string wall_time(uint64_t realtime_ns) {
    const time_t t = time_t(realtime_ns / 1000000000ull);
    tm local{};
    localtime_r(&t, &local);
    char text[32];
    strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
    return text;
}

std::string span(double seconds) {
    if (seconds < 1e-3) return fmt::format("{:.0f} us", seconds * 1e6);
    if (seconds < 1) return fmt::format("{:.1f} ms", seconds * 1e3);
    if (seconds < 120) return fmt::format("{:.2f} s", seconds);
    return fmt::format("{:.0f} min", seconds / 60);
}

// When a session began and ended (or now, while it runs), and the command that began it.
struct SessionSummary {
    uint64_t start_realtime_ns = UINT64_MAX;
    uint64_t end_realtime_ns = 0;
    bool end_at_least = false;  // the last to end was killed unseen: it lasted at least that
    size_t running = 0;
    uint64_t calls = 0;
    std::string command;
};

SessionSummary summarize(const std::vector<Row>& procs) {
    SessionSummary s;
    for (const Row& r : procs) {
        if (!r.recording) continue;
        const Recording& rec = *r.recording;
        if (rec.start_realtime_ns < s.start_realtime_ns) {
            s.start_realtime_ns = rec.start_realtime_ns;
            s.command = command_line(rec);
        }
        const ProcessFate fate = fate_of(rec);
        const bool running = fate == ProcessFate::kRunning;
        s.running += running;
        // The end on the wall clock: its start plus how long it ran (a killed process recorded no
        // end; its last activity stands for it).
        const ProcessSpan lived = process_span(rec, fate, now_ns(CLOCK_MONOTONIC));
        const uint64_t end = running ? realtime_now_ns()
                                     : rec.start_realtime_ns + (lived.end_monotonic_ns - rec.start_monotonic_ns);
        if (end > s.end_realtime_ns || (end == s.end_realtime_ns && lived.at_least)) s.end_at_least = lived.at_least;
        s.end_realtime_ns = std::max(s.end_realtime_ns, end);
        for (const ThreadInfo& t : rec.threads) s.calls += t.total();
    }
    if (s.start_realtime_ns == UINT64_MAX) s.start_realtime_ns = 0;
    return s;
}

}  // namespace

int cmd_ls(bool json) {
    // Sessions newest first (what you just ran is on top); processes in each in the order they started.
    std::map<std::string, std::vector<Row>> sessions;
    std::vector<std::string> order;
    for (const SegmentName& s : list_segments(getuid())) {
        Row row{s, std::nullopt, ""};
        row.recording = load_recording_summary(s.path, &row.error);
        if (!sessions.count(s.session)) order.push_back(s.session);
        sessions[s.session].push_back(std::move(row));
    }
    std::map<std::string, SessionSummary> summaries;
    for (const std::string& session : order) summaries[session] = summarize(sessions[session]);
    std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
        return summaries[a].start_realtime_ns > summaries[b].start_realtime_ns;
    });
    nlohmann::json rows = nlohmann::json::array();
    if (!json && !order.empty())
        std::cout << fmt::format("  {:>8} {:>8}  {:<10} {:>13} {:>10}  {}\n", "pid", "parent", "state", "calls", "lasted",
                                 "command");
    for (const std::string& session : order) {
        std::vector<Row>& procs = sessions[session];
        std::stable_sort(procs.begin(), procs.end(), [](const Row& a, const Row& b) {
            const uint64_t ta = a.recording ? a.recording->start_monotonic_ns : 0;
            const uint64_t tb = b.recording ? b.recording->start_monotonic_ns : 0;
            return ta < tb;
        });
        const SessionSummary& sum = summaries[session];
        if (!json) {
            const double seconds = sum.end_realtime_ns > sum.start_realtime_ns
                                       ? double(sum.end_realtime_ns - sum.start_realtime_ns) / 1e9
                                       : 0.0;
            std::cout << fmt::format("session {}  started {}, {} {}: {}\n", session, wall_time(sum.start_realtime_ns),
                                     sum.running ? "running for" : sum.end_at_least ? "lasted at least" : "lasted",
                                     span(seconds), sum.command);
            std::cout << fmt::format("  {} {}, {} running, {} {}\n", procs.size(),
                                     procs.size() == 1 ? "process" : "processes", sum.running,
                                     group_digits(sum.calls), sum.calls == 1 ? "call" : "calls");
        }
        for (const Row& r : procs) {
            if (!r.recording) {
                if (json)
                    rows.push_back({{"session", session}, {"pid", r.name.pid}, {"state", "unreadable"},
                                    {"recording", r.name.path}, {"error", r.error}});
                else
                    std::cout << fmt::format("  {:>8} {:>8}  {:<10} {:>13} {:>10}  {}\n", r.name.pid, "-", "unreadable", "-",
                                             "-", r.error);
                continue;
            }
            const Recording& rec = *r.recording;
            uint64_t calls = 0;
            for (const ThreadInfo& t : rec.threads) calls += t.total();
            const ProcessSpan lived = process_span(rec, fate_of(rec), now_ns(CLOCK_MONOTONIC));
            if (json) {
                nlohmann::json row = {{"session", rec.session}, {"pid", rec.pid},      {"ppid", rec.ppid},
                                      {"start_realtime_ns", rec.start_realtime_ns},
                                      {"state", fate_word(rec)}, {"calls", calls},     {"exe", rec.exe},
                                      {"argv", rec.argv},        {"recording", r.name.path},
                                      {"recording_id", fmt::format("{:016x}", rec.segment_id)}};
                row["seconds"] = lived.seconds;
                if (lived.at_least) row["seconds_at_least"] = true;
                if (rec.parent_segment_id)
                    row["parent_recording_id"] = fmt::format("{:016x}", rec.parent_segment_id);
                rows.push_back(std::move(row));
            } else {
                // "≥ 1.20 s": killed or vanished, it ran at least until its last recorded activity.
                const std::string lasted = lived.at_least ? "\u2265 " + span(lived.seconds) : span(lived.seconds);
                std::cout << fmt::format("  {:>8} {:>8}  {:<10} {:>13} {:>{}}  {}\n", rec.pid, rec.ppid, fate_word(rec),
                                         group_digits(calls), lasted, lived.at_least ? 12 : 10, command_line(rec));
            }
        }
    }
    if (json)
        std::cout << json_text(rows) << "\n";
    else if (order.empty())
        std::cout << fmt::format("no recordings in {}\n", shm_dir());
    return kExitOk;
}

Command register_ls(CLI::App& vdsotrace) {
    auto json = std::make_shared<bool>(false);
    CLI::App* cmd = vdsotrace.add_subcommand("ls", "List recordings, running or ended");
    cmd->add_flag("--json", *json, "Write JSON");
    return {cmd, [json] { return cmd_ls(*json); }};
}

}  // namespace vdsotrace::tools
