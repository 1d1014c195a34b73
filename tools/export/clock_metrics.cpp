#include "tools/export/clock_metrics.h"

#include <algorithm>
#include <tuple>

#include "tools/report/report_model.h"

namespace vdsotrace::tools {

namespace f = vdsotrace::format;
using exposition::Family;
using exposition::Labels;
using exposition::Type;

namespace {

enum FamilyIndex : size_t {
    kCalls,
    kKernelCalls,
    kCallerCalls,
    kOverflowCalls,
    kUnattributedCalls,
    kLostSamples,
    kThreadsFull,
    kModulesFull,
    kStartTime,
    kExportRecordings,
    kExportUnreadable,
    kClocksourceFallback,
    kFamilyCount,
};

std::vector<Family> empty_families() {
    std::vector<Family> f(kFamilyCount);
    f[kCalls] = {"vdsotrace_calls_total", "Calls to the clock functions the vDSO serves, per process, function and clock",
                 Type::kCounter, {}};
    f[kKernelCalls] = {"vdsotrace_kernel_calls_total",
                       "Of those calls, the ones that entered the kernel instead of the vDSO, and why", Type::kCounter, {}};
    f[kCallerCalls] = {"vdsotrace_caller_calls_total",
                       "Calls from the busiest call sites of each process (the top N: export --callers)", Type::kCounter, {}};
    f[kOverflowCalls] = {"vdsotrace_overflow_calls_total",
                         "Calls of threads beyond the recording's thread slots (counted together: raise VDSOTRACE_THREADS)",
                         Type::kCounter, {}};
    f[kUnattributedCalls] = {"vdsotrace_unattributed_calls_total",
                             "Calls whose thread's caller table was full (counted, caller unknown: raise VDSOTRACE_CALLERS)",
                             Type::kCounter, {}};
    f[kLostSamples] = {"vdsotrace_lost_samples_total", "Sampled calls whose stack was not kept, by reason",
                       Type::kCounter, {}};
    f[kThreadsFull] = {"vdsotrace_threads_full", "1 when the recording ran out of thread slots", Type::kGauge, {}};
    f[kModulesFull] = {"vdsotrace_modules_full",
                       "1 when the recording's module table filled up (some callers unnamed: raise VDSOTRACE_MODULES)",
                       Type::kGauge, {}};
    f[kStartTime] = {"vdsotrace_process_start_time_seconds", "When the recording started, in seconds since the epoch",
                     Type::kGauge, {}};
    f[kExportRecordings] = {"vdsotrace_export_recordings", "Live recordings in this export", Type::kGauge, {}};
    f[kExportUnreadable] = {"vdsotrace_export_unreadable_recordings",
                            "Recordings listed but not readable for this export (removed or half-written meanwhile)",
                            Type::kGauge, {}};
    f[kClocksourceFallback] = {"vdsotrace_clocksource_kernel_fallback",
                               "1 when this machine's clocksource has no vDSO mode, so every clock call enters the kernel",
                               Type::kGauge, {}};
    return f;
}

std::string clock_label(int fn, int bucket) { return f::function_takes_clock(fn) ? clock_name(bucket) : ""; }

std::string series_key(const std::string& identity, const std::string& family, const Labels& labels) {
    std::string k = identity;
    k += '\x1f';
    k += family;
    for (const auto& [n, v] : labels) {
        k += '\x1f';
        k += n;
        k += '=';
        k += v;
    }
    return k;
}

}  // namespace

ClockMetrics::ClockMetrics(size_t max_callers) : max_callers_(max_callers) {
    namer_ = [this](const Recording& r, uint64_t address) {
        std::string where;
        return caller_namer_.name(r, address, &where);
    };
}

void ClockMetrics::begin(const KernelEntryRules& rules) {
    rules_ = rules;
    families_ = empty_families();
    recordings_ = unreadable_ = 0;
    seen_.clear();
}

void ClockMetrics::counter(size_t family, const std::string& identity, Labels labels, uint64_t value) {
    const std::string key = series_key(identity, families_[family].name, labels);
    uint64_t& floor = floor_[key];
    floor = std::max(floor, value);
    seen_.insert(key);
    families_[family].samples.push_back({std::move(labels), floor});
}

void ClockMetrics::gauge(size_t family, Labels labels, std::variant<uint64_t, double> value) {
    families_[family].samples.push_back({std::move(labels), value});
}

void ClockMetrics::add(const Recording& r, const std::string& identity) {
    ++recordings_;
    const Labels process = {{"exe", r.exe}, {"pid", std::to_string(r.pid)}, {"session", r.session}};
    auto with = [&](std::initializer_list<std::pair<std::string, std::string>> more) {
        Labels l = process;
        l.insert(l.end(), more.begin(), more.end());
        return l;
    };

    // Calls and kernel entries per function and clock.
    const std::vector<uint64_t> totals = r.totals();
    for (unsigned c = 0; c < f::kCounterSlots; ++c) {
        if (totals[c] == 0) continue;
        const int fn = f::counter_function(c);
        const int bucket = f::counter_bucket(c);
        const std::string function = f::kFunctionNames[fn];
        const std::string clock = clock_label(fn, bucket);
        counter(kCalls, identity, with({{"function", function}, {"clock", clock}}), totals[c]);
        const std::string reason = kernel_entry_reason(r.doctor, fn, bucket, rules_);
        if (!reason.empty())
            counter(kKernelCalls, identity, with({{"function", function}, {"clock", clock}, {"reason", reason}}),
                    totals[c]);
    }

    // The busiest call sites, by name: two call sites in one function are one series.
    if (max_callers_ > 0) {
        std::map<std::pair<unsigned, uint64_t>, uint64_t> by_address;
        for (const ThreadInfo& t : r.threads)
            for (const CallerCount& cc : t.callers) by_address[{cc.counter, cc.address}] += cc.calls;
        std::map<std::tuple<std::string, std::string, std::string>, uint64_t> by_name;
        for (const auto& [key, calls] : by_address) {
            const int fn = f::counter_function(key.first);
            by_name[{f::kFunctionNames[fn], clock_label(fn, f::counter_bucket(key.first)), namer_(r, key.second)}] += calls;
        }
        std::vector<std::pair<std::tuple<std::string, std::string, std::string>, uint64_t>> top(by_name.begin(),
                                                                                                 by_name.end());
        std::stable_sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
        if (top.size() > max_callers_) top.resize(max_callers_);
        for (const auto& [key, calls] : top)
            counter(kCallerCalls, identity,
                    with({{"function", std::get<0>(key)}, {"clock", std::get<1>(key)}, {"caller", std::get<2>(key)}}),
                    calls);
    }

    // Health.
    uint64_t overflow = 0, unattributed = 0;
    SampleTotals samples;
    for (const ThreadInfo& t : r.threads) {
        if (t.shared) overflow += t.total();
        for (uint64_t u : t.unattributed) unattributed += u;
        samples.add(t.samples);
    }
    counter(kOverflowCalls, identity, process, overflow);
    counter(kUnattributedCalls, identity, process, unattributed);
    if (r.sampling.enabled) {
        counter(kLostSamples, identity, with({{"reason", "no_unwinder"}}), samples.lost_no_unwinder);
        counter(kLostSamples, identity, with({{"reason", "stacks_full"}}), samples.lost_stacks_full);
        counter(kLostSamples, identity, with({{"reason", "counts_full"}}), samples.lost_counts_full);
        counter(kLostSamples, identity, with({{"reason", "reentered"}}), samples.lost_reentered);
    }
    gauge(kThreadsFull, process, uint64_t((r.flags & f::kFlagThreadsFull) != 0));
    gauge(kModulesFull, process, uint64_t((r.flags & f::kFlagModulesFull) != 0));
    // Whole seconds and the fraction apart: one division of the nanoseconds loses the last digits.
    gauge(kStartTime, process,
          double(r.start_realtime_ns / 1000000000) + double(r.start_realtime_ns % 1000000000) / 1e9);
}

std::vector<Family> ClockMetrics::finish() {
    gauge(kExportRecordings, {}, uint64_t(recordings_));
    gauge(kExportUnreadable, {}, uint64_t(unreadable_));
    if (!rules_.service.method.empty()) gauge(kClocksourceFallback, {}, uint64_t(rules_.clocksource_fallback));
    // Processes gone since the last export are forgotten (their pids may come back as others).
    for (auto it = floor_.begin(); it != floor_.end();)
        it = seen_.count(it->first) ? std::next(it) : floor_.erase(it);
    return std::move(families_);
}

}  // namespace vdsotrace::tools
