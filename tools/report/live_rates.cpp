#include "tools/report/live_rates.h"
#include "tracer/common/clock_now.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "tools/recordings/recording_store.h"
#include "tools/report/report_model.h"
#include "tools/report/group_digits.h"
#include "tools/symbols/symbolizer.h"
#include "tools/report/address_namer.h"

namespace vdsotrace::tools {

namespace f = vdsotrace::format;

namespace {

// Per caller (counter, address) calls of one recording.
std::map<std::pair<unsigned, uint64_t>, uint64_t> caller_counts(const Recording& r) {
    std::map<std::pair<unsigned, uint64_t>, uint64_t> m;
    for (const ThreadInfo& t : r.threads)
        for (const CallerCount& c : t.callers) m[{c.counter, c.address}] += c.calls;
    return m;
}

double per_second(uint64_t delta, double seconds) { return seconds > 0 ? double(delta) / seconds : 0; }

std::string clock_of(unsigned counter) {
    const int fn = f::counter_function(counter);
    return f::function_takes_clock(fn) ? clock_name(f::counter_bucket(counter)) : "";
}

std::string fit(const std::string& s, size_t width) { return s.size() <= width ? s : s.substr(0, width); }

std::string rate_text(double r) { return group_digits(uint64_t(r + 0.5)); }

}  // namespace

bool take_reading(const std::string& target, Reading* out, std::string* error) {
    out->recordings.clear();
    out->monotonic_ns = now_ns(CLOCK_MONOTONIC);
    const std::vector<std::string> files = resolve_target(target, getuid(), error);
    for (const std::string& file : files) {
        std::string why;
        if (auto r = load_recording_summary(file, &why)) out->recordings.emplace(file, std::move(*r));
        // A recording removed or half-written between listing and reading is skipped this round.
    }
    if (out->recordings.empty() && error->empty()) *error = "no readable recording";
    return !out->recordings.empty();
}

CallerNamer::CallerNamer() : symbolizer_(std::make_unique<Symbolizer>()) {}
CallerNamer::~CallerNamer() = default;

std::string CallerNamer::name(const Recording& r, uint64_t address, std::string* where) {
    const ModuleInfo* m = module_of(r, address);
    if (m == nullptr) {
        *where = fmt::format("{:#x}", address);
        return fmt::format("{} (unnamed: {})", *where, kNotMapped);
    }
    const std::string path = module_path(r, *m);
    const uint64_t offset = address - m->load_bias;
    auto it = cache_.find({path, offset});
    if (it == cache_.end()) {
        const CallSite s = locate_call_site(r, address, *symbolizer_);
        std::string w = module_offset_text(path, offset);
        std::string n = s.symbol.symbol.empty() ? fmt::format("{} (unnamed: {})", w, s.unnamed_because) : s.symbol.symbol;
        if (!s.symbol.file.empty()) n += fmt::format(" {}:{}", base_name(s.symbol.file), s.symbol.line);
        it = cache_.emplace(std::make_pair(path, offset), std::make_pair(n, w)).first;
    }
    *where = it->second.second;
    return it->second.first;
}

LiveView compute_view(const Reading& before, const Reading& after, SortKey key, size_t max_callers, CallerNamer* namer) {
    LiveView v;
    v.seconds = after.monotonic_ns > before.monotonic_ns ? double(after.monotonic_ns - before.monotonic_ns) / 1e9 : 0;
    std::vector<uint64_t> totals(f::kCounterSlots, 0), deltas(f::kCounterSlots, 0);
    uint64_t total_delta = 0;
    for (const auto& [file, r] : after.recordings) {
        auto old = before.recordings.find(file);
        const std::vector<uint64_t> now = r.totals();
        const std::vector<uint64_t> then = old != before.recordings.end() ? old->second.totals()
                                                                           : std::vector<uint64_t>(f::kCounterSlots, 0);
        ProcessRate p{r.pid, r.exe, fate_word(r), 0, 0};
        uint64_t pdelta = 0;
        for (unsigned c = 0; c < f::kCounterSlots; ++c) {
            const uint64_t d = now[c] >= then[c] ? now[c] - then[c] : 0;
            totals[c] += now[c];
            deltas[c] += d;
            pdelta += d;
            p.calls += now[c];
        }
        p.rate = per_second(pdelta, v.seconds);
        total_delta += pdelta;
        v.total_calls += p.calls;
        v.processes.push_back(p);

        const auto now_callers = caller_counts(r);
        const auto then_callers = old != before.recordings.end() ? caller_counts(old->second)
                                                                 : decltype(now_callers){};
        for (const auto& [k, calls] : now_callers) {
            auto t = then_callers.find(k);
            const uint64_t d = calls - std::min(calls, t != then_callers.end() ? t->second : 0);
            CallerRate cr;
            cr.function = f::kFunctionNames[f::counter_function(k.first)];
            cr.clock = clock_of(k.first);
            cr.pid = r.pid;
            cr.rate = per_second(d, v.seconds);
            cr.calls = calls;
            cr.address = k.second;  // named below, for the rows shown only
            v.callers.push_back(cr);
        }
    }
    v.total_rate = per_second(total_delta, v.seconds);
    for (unsigned c = 0; c < f::kCounterSlots; ++c)
        if (totals[c])
            v.clocks.push_back({f::kFunctionNames[f::counter_function(c)], clock_of(c), per_second(deltas[c], v.seconds),
                                totals[c]});

    auto by = [key](const auto& a, const auto& b, const std::string& an, const std::string& bn) {
        if (key == SortKey::kTotal) return a.calls > b.calls;
        if (key == SortKey::kName) return an < bn;
        return a.rate != b.rate ? a.rate > b.rate : a.calls > b.calls;
    };
    std::stable_sort(v.clocks.begin(), v.clocks.end(),
                     [&](const RateRow& a, const RateRow& b) { return by(a, b, a.function + a.clock, b.function + b.clock); });
    std::stable_sort(v.processes.begin(), v.processes.end(),
                     [&](const ProcessRate& a, const ProcessRate& b) { return by(a, b, base_name(a.exe), base_name(b.exe)); });
    // Callers: by rate (or total) first, then only the rows shown are named.
    std::stable_sort(v.callers.begin(), v.callers.end(), [&](const CallerRate& a, const CallerRate& b) {
        return by(a, b, a.function, b.function);
    });
    if (v.callers.size() > max_callers) v.callers.resize(max_callers);
    for (CallerRate& c : v.callers) {
        for (const auto& [file, r] : after.recordings)
            if (r.pid == c.pid) {
                c.name = namer->name(r, c.address, &c.where);
                break;
            }
    }
    return v;
}

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
        j["processes"].push_back({{"pid", p.pid}, {"exe", p.exe}, {"state", p.state}, {"rate", p.rate},
                                  {"calls", p.calls}});
    return j;
}

std::vector<std::string> view_lines(const LiveView& v, const std::string& title, size_t width) {
    std::vector<std::string> lines;
    auto add = [&](const std::string& s) { lines.push_back(fit(s, width)); };
    add(title);
    add(fmt::format("{} calls/s, {} calls in all, {} process(es)", rate_text(v.total_rate), group_digits(v.total_calls),
                    v.processes.size()));
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
                   : fmt::format("{:>13} {:>8}  {:<10} {:>15}  {}", rate_text(p.rate), p.pid, p.state,
                                 group_digits(p.calls), p.exe));
    return lines;
}

}  // namespace vdsotrace::tools
