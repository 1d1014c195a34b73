#include "tools/report/live_rates.h"

#include <algorithm>

#include <fmt/format.h>

#include "tools/report/address_namer.h"
#include "tools/report/report_model.h"
#include "tools/symbols/symbolizer.h"

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

}  // namespace

CallerNamer::CallerNamer() : symbolizer_(std::make_unique<Symbolizer>()) {}
CallerNamer::~CallerNamer() = default;

std::string CallerNamer::name(const Recording& r, uint64_t address, std::string* where) {
    // A Python call site (the interpreter's frame read at the call): its function, file and line.
    if (const PythonSiteInfo* ps = python_site(r, address)) {
        *where = fmt::format("{}:{}", ps->file, ps->line);
        return fmt::format("{}  {}:{}", ps->function, base_name(ps->file), ps->line);
    }
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
        ProcessRate p{r.pid, r.exe, fate_of(r, after.running.count(file) != 0), r.exit_value, 0, 0};
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
            cr.recording = file;
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
        const auto r = after.recordings.find(c.recording);
        if (r != after.recordings.end()) c.name = namer->name(r->second, c.address, &c.where);
    }
    return v;
}

}  // namespace vdsotrace::tools
