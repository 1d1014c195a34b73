#include <unistd.h>

#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "recording_store.h"
#include "report_output.h"

namespace vdsotrace::tools {

namespace {

std::string fate_word(const Recording& r) {
    switch (fate_of(r)) {
        case ProcessFate::kRunning: return "running";
        case ProcessFate::kExited: return fmt::format("exit {}", r.exit_value);
        case ProcessFate::kSignaled: return fmt::format("signal {}", r.exit_value);
        case ProcessFate::kEndedUnknownStatus: return "ended";
        case ProcessFate::kVanished: return "vanished";
    }
    return "?";
}

}  // namespace

int cmd_ls(bool json) {
    nlohmann::json rows = nlohmann::json::array();
    if (!json)
        std::cout << fmt::format("{:<14} {:>8} {:<10} {:>15}  {:<30} {}\n", "session", "pid", "state", "calls", "program",
                                 "recording");
    for (const SegmentName& s : list_segments(getuid())) {
        std::string error;
        auto r = load_recording(s.path, &error);
        if (!r) {
            if (json)
                rows.push_back({{"recording", s.path}, {"error", error}});
            else
                std::cout << fmt::format("{:<14} {:>8} {:<10} {:>15}  {:<30} {}\n", s.session, s.pid, "unreadable", "-",
                                         error, s.path);
            continue;
        }
        uint64_t calls = 0;
        for (const ThreadInfo& t : r->threads) calls += t.total();
        if (json)
            rows.push_back({{"session", r->session}, {"pid", r->pid}, {"state", fate_word(*r)}, {"calls", calls},
                            {"exe", r->exe}, {"recording", s.path}});
        else
            std::cout << fmt::format("{:<14} {:>8} {:<10} {:>15}  {:<30} {}\n", r->session, r->pid, fate_word(*r),
                                     group_digits(calls), r->exe, s.path);
    }
    if (json) std::cout << json_text(rows) << "\n";
    return kExitOk;
}

}  // namespace vdsotrace::tools
