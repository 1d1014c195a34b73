// `vdsotrace ls`: the sessions in /dev/shm and, under each, its processes in the order they
// started, with what became of them: running, exit code, signal, ended, exec'd, or vanished.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "recording_store.h"
#include "report_output.h"
#include "terminal_safe.h"

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

}  // namespace

int cmd_ls(bool json) {
    // Sessions in the order they began; processes in each in the order they started.
    std::map<std::string, std::vector<Row>> sessions;
    std::vector<std::string> order;
    for (const SegmentName& s : list_segments(getuid())) {
        Row row{s, std::nullopt, ""};
        row.recording = load_recording_summary(s.path, &row.error);
        if (!sessions.count(s.session)) order.push_back(s.session);
        sessions[s.session].push_back(std::move(row));
    }
    nlohmann::json rows = nlohmann::json::array();
    if (!json && !order.empty())
        std::cout << fmt::format("  {:>8} {:>8}  {:<10} {:>13}  {}\n", "pid", "parent", "state", "calls", "command");
    for (const std::string& session : order) {
        std::vector<Row>& procs = sessions[session];
        std::stable_sort(procs.begin(), procs.end(), [](const Row& a, const Row& b) {
            const uint64_t ta = a.recording ? a.recording->start_monotonic_ns : 0;
            const uint64_t tb = b.recording ? b.recording->start_monotonic_ns : 0;
            return ta < tb;
        });
        size_t running = 0;
        uint64_t total = 0;
        for (const Row& r : procs) {
            if (!r.recording) continue;
            running += fate_of(*r.recording) == ProcessFate::kRunning;
            for (const ThreadInfo& t : r.recording->threads) total += t.total();
        }
        if (!json)
            std::cout << fmt::format("session {}: {} process(es), {} running, {} calls\n", session, procs.size(), running,
                                     group_digits(total));
        for (const Row& r : procs) {
            if (!r.recording) {
                if (json)
                    rows.push_back({{"session", session}, {"pid", r.name.pid}, {"state", "unreadable"},
                                    {"recording", r.name.path}, {"error", r.error}});
                else
                    std::cout << fmt::format("  {:>8} {:>8}  {:<10} {:>13}  {}\n", r.name.pid, "-", "unreadable", "-",
                                             r.error);
                continue;
            }
            const Recording& rec = *r.recording;
            uint64_t calls = 0;
            for (const ThreadInfo& t : rec.threads) calls += t.total();
            if (json) {
                nlohmann::json row = {{"session", rec.session}, {"pid", rec.pid},      {"ppid", rec.ppid},
                                      {"state", fate_word(rec)}, {"calls", calls},     {"exe", rec.exe},
                                      {"argv", rec.argv},        {"recording", r.name.path},
                                      {"recording_id", fmt::format("{:016x}", rec.segment_id)}};
                if (rec.parent_segment_id)
                    row["parent_recording_id"] = fmt::format("{:016x}", rec.parent_segment_id);
                rows.push_back(std::move(row));
            } else {
                std::cout << fmt::format("  {:>8} {:>8}  {:<10} {:>13}  {}\n", rec.pid, rec.ppid, fate_word(rec),
                                         group_digits(calls), command_line(rec));
            }
        }
    }
    if (json)
        std::cout << json_text(rows) << "\n";
    else if (order.empty())
        std::cout << fmt::format("no recordings in {}\n", shm_dir());
    return kExitOk;
}

}  // namespace vdsotrace::tools
