#include "tools/render/live_view_text.h"

#include <map>
#include <utility>

#include <fmt/format.h>

#include "tools/recordings/recording_store.h"
#include "tools/render/group_digits.h"
#include "tracer/common/path_name.h"

namespace vdsotrace::tools {

namespace {

std::string fit(const std::string& s, size_t width) { return s.size() <= width ? s : s.substr(0, width); }

std::string rate_text(double r) { return group_digits(uint64_t(r + 0.5)); }

}  // namespace

nlohmann::json view_json(const LiveView& v) {
    using nlohmann::json;
    json j = {{"format", "vdsotrace-top"}, {"version", 1}, {"seconds", v.seconds}, {"total_calls", v.total_calls},
              {"total_rate", v.total_rate}};
    j["clocks"] = json::array();
    for (const RateRow& r : v.clocks) {
        json row = {{"function", r.function}, {"rate", r.rate}, {"calls", r.calls}};
        if (!r.clock.empty()) row["clock"] = r.clock;
        j["clocks"].push_back(row);
    }
    // Per function, summed over clocks: what a script asks first.
    std::map<std::string, std::pair<double, uint64_t>> functions;
    for (const RateRow& r : v.clocks) {
        functions[r.function].first += r.rate;
        functions[r.function].second += r.calls;
    }
    j["functions"] = json::array();
    for (auto& [name, fn] : functions)
        j["functions"].push_back({{"function", name}, {"rate", fn.first}, {"calls", fn.second}});
    j["callers"] = json::array();
    for (const CallerRate& c : v.callers) {
        json row = {{"function", c.function}, {"caller", c.name}, {"where", c.where}, {"pid", c.pid},
                    {"rate", c.rate}, {"calls", c.calls}};
        if (!c.clock.empty()) row["clock"] = c.clock;
        j["callers"].push_back(row);
    }
    j["processes"] = json::array();
    for (const ProcessRate& p : v.processes)
        j["processes"].push_back({{"pid", p.pid}, {"exe", p.exe}, {"state", fate_word(p.fate, p.exit_value)},
                                  {"rate", p.rate}, {"calls", p.calls}});
    return j;
}

std::vector<std::string> view_lines(const LiveView& v, const std::string& title, size_t width) {
    std::vector<std::string> lines;
    auto add = [&](const std::string& s) { lines.push_back(fit(s, width)); };
    add(title);
    add(fmt::format("{} calls/s, {} calls in all, {} process{}", rate_text(v.total_rate), group_digits(v.total_calls),
                    v.processes.size(), v.processes.size() == 1 ? "" : "es"));
    add("");
    // Narrow terminals drop the clock column's padding first; numbers keep their place on the left.
    const bool narrow = width < 70;
    add(narrow ? fmt::format("{:>12} {:>13}  {}", "calls/s", "calls", "function clock")
               : fmt::format("{:>13} {:>15}  {:<15} {}", "calls/s", "calls", "function", "clock"));
    for (const RateRow& r : v.clocks)
        add(narrow ? fmt::format("{:>12} {:>13}  {} {}", rate_text(r.rate), group_digits(r.calls), r.function, r.clock)
                   : fmt::format("{:>13} {:>15}  {:<15} {}", rate_text(r.rate), group_digits(r.calls), r.function,
                                 r.clock));
    add("");
    add(narrow ? fmt::format("{:>12} {:>7}  {}", "calls/s", "pid", "top callers")
               : fmt::format("{:>13} {:>8}  {:<15} {:<24} {}", "calls/s", "pid", "function", "clock", "caller"));
    for (const CallerRate& c : v.callers)
        add(narrow ? fmt::format("{:>12} {:>7}  {}", rate_text(c.rate), c.pid, c.name)
                   : fmt::format("{:>13} {:>8}  {:<15} {:<24} {}", rate_text(c.rate), c.pid, c.function, c.clock,
                                 c.name));
    add("");
    add(narrow ? fmt::format("{:>12} {:>7}  {}", "calls/s", "pid", "process")
               : fmt::format("{:>13} {:>8}  {:<10} {:>15}  {}", "calls/s", "pid", "state", "calls", "process"));
    for (const ProcessRate& p : v.processes)
        add(narrow ? fmt::format("{:>12} {:>7}  {}", rate_text(p.rate), p.pid, base_name(p.exe))
                   : fmt::format("{:>13} {:>8}  {:<10} {:>15}  {}", rate_text(p.rate), p.pid,
                                 fate_word(p.fate, p.exit_value), group_digits(p.calls), p.exe));
    return lines;
}

}  // namespace vdsotrace::tools
