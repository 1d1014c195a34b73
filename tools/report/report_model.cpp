#include "tools/report/report_model.h"

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>

#include <fmt/format.h>

#include "tools/recordings/jit_symbols.h"
#include "tools/symbols/symbolizer.h"
#include "tools/report/address_namer.h"

namespace vdsotrace::tools {

namespace f = vdsotrace::format;

std::string clock_name(int bucket) {
    if (bucket >= 0 && bucket < f::kClockIdBuckets) {
        const char* n = f::kClockNames[bucket];
        return *n ? n : fmt::format("clock id {}", bucket);
    }
    return bucket == f::kBucketDynamicCpu ? "dynamic CPU clock" : "invalid clock id";
}

int clock_id_of_bucket(int bucket) {
    return bucket < f::kClockIdBuckets ? bucket : bucket == f::kBucketDynamicCpu ? -1 : -2;
}

namespace {

std::string segment_id_text(uint64_t id) { return id ? fmt::format("{:016x}", id) : ""; }

// Calls per function and clock bucket, as rows (clock fields empty for functions without one).
std::vector<ClockRow> counter_rows(const std::vector<uint64_t>& totals) {
    std::vector<ClockRow> rows;
    for (unsigned c = 0; c < totals.size(); ++c) {
        if (!totals[c]) continue;
        const int fn = f::counter_function(c);
        const int bucket = f::counter_bucket(c);
        const bool clocked = f::function_takes_clock(fn);
        rows.push_back({f::kFunctionNames[fn], clocked ? clock_id_of_bucket(bucket) : 0,
                        clocked ? clock_name(bucket) : "", totals[c]});
    }
    std::stable_sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.calls > b.calls; });
    return rows;
}

}  // namespace

Report build_report(const std::vector<Recording>& recordings, const MachineFacts& machine, const StackFilter& filter) {
    Report rep;
    std::vector<uint64_t> totals(f::kCounterSlots, 0);
    std::vector<uint64_t> unattributed(f::kCounterSlots, 0);
    uint64_t first_start = UINT64_MAX, last_end = 0;
    bool last_end_is_bound = false;  // the latest end is a killed process's last activity

    // Callers merge across threads and processes by (counter, module, offset): the same call site
    // in two processes of one executable is one code path.
    // Calls through a wrapper also by the wrapper's call site (module, offset).
    using CallerKey = std::tuple<unsigned, std::string, uint64_t, std::string, uint64_t>;
    std::map<CallerKey, CallerRow> callers;
    Symbolizer symbolizer;
    for (const Recording& r : recordings) symbolizer.use_table(r.symbols);
    bool vdso_added = false;

    // Processes in the order they started: a tree reads top-down, an exec chain in order.
    std::vector<const Recording*> ordered;
    for (const Recording& r : recordings) ordered.push_back(&r);
    std::stable_sort(ordered.begin(), ordered.end(), [](const Recording* a, const Recording* b) {
        return a->start_monotonic_ns < b->start_monotonic_ns;
    });
    for (const Recording* rp : ordered) {
        const Recording& r = *rp;
        if (r.session.size() && rep.session.empty()) rep.session = r.session;
        ProcessRow p;
        p.pid = r.pid;
        p.ppid = r.ppid;
        p.exe = r.exe;
        p.argv = r.argv;
        p.session = r.session;
        p.fate = fate_of(r, machine.running.count(r.source) != 0);
        p.exit_value = r.exit_value;
        if (p.fate == ProcessFate::kExited || p.fate == ProcessFate::kSignaled) p.reaped_by = r.reaped_by;
        p.source = r.source;
        p.segment_id = segment_id_text(r.segment_id);
        p.parent_segment_id = segment_id_text(r.parent_segment_id);
        p.previous_image_id = segment_id_text(r.previous_image_id);
        p.start_monotonic_ns = r.start_monotonic_ns;
        p.counters = counter_rows(r.totals());
        // Nobody saw it end (killed, or gone without a word): it ran at least until the last
        // activity its recording proves.
        const ProcessSpan span = process_span(r, p.fate, machine.now_monotonic_ns);
        const uint64_t end = span.end_monotonic_ns;
        p.seconds_at_least = span.at_least;
        p.seconds = span.seconds;
        first_start = std::min(first_start, r.start_monotonic_ns);
        if (end > last_end || (end == last_end && !p.seconds_at_least)) last_end_is_bound = p.seconds_at_least;
        last_end = std::max(last_end, end);

        if (!vdso_added && !r.vdso_image.empty()) {
            symbolizer.add_image("[vdso]", r.vdso_image);
            vdso_added = true;
        }
        uint64_t shared_calls = 0, recycled_calls = 0;
        uint64_t unnamed_jit_calls = 0;  // callers in no module that no perf map names
        for (const ThreadInfo& t : r.threads) {
            const uint64_t calls = t.total();
            p.calls += calls;
            if (t.shared) shared_calls = calls;
            // The recycled slot is shown as the exited threads of the log below.
            if (t.recycled)
                recycled_calls += calls;
            else {
                // A live thread's current name (set after its first call, it may differ).
                const auto live = machine.thread_names.find({r.pid, t.tid});
                rep.threads.push_back({r.pid, t.tid,
                                       p.fate == ProcessFate::kRunning && !t.exited && !t.shared &&
                                               live != machine.thread_names.end()
                                           ? live->second
                                           : t.name,
                                       t.exited, t.shared, calls});
            }
            for (unsigned c = 0; c < f::kCounterSlots; ++c) {
                totals[c] += t.counts[c];
                unattributed[c] += t.unattributed[c];
            }
            for (const CallerCount& cc : t.callers) {
                const bool python = cc.via != 0 && (cc.address & f::kPythonSiteTag);
                const PythonSiteInfo* ps = python ? python_site(r, cc.address) : nullptr;
                // Calls made in a library since unloaded name that library, not the one there now.
                const ModuleInfo* m = cc.address == 0 || python ? nullptr
                                      : cc.module >= 0 && size_t(cc.module) < r.modules.size()
                                          ? &r.modules[size_t(cc.module)]
                                          : module_of(r, cc.address);
                // Python sites merge by function, file and line (keyed as a module path and offset).
                std::string path = ps ? fmt::format("python:{}:{}", ps->file, ps->function) : m ? module_path(r, *m) : "";
                uint64_t offset = ps ? uint64_t(ps->line) : m ? cc.address - m->load_bias : cc.address;
                // A call site in JIT-compiled code, named by the process's perf map.
                const std::string* jit_name = nullptr;
                if (m == nullptr && !python && cc.address != 0 &&
                    (jit_name = jit_symbol(r, cc.address - 1, &offset)) != nullptr) {
                    // One row per JIT-compiled method: an offset in generated code names nothing a
                    // user can look up, and one loop unrolled or compiled again by another tier
                    // (java's C1 and C2) would be a dozen rows of one method.
                    offset = 0;
                    path = std::string(kJitModule) + " " + *jit_name;
                } else if (m == nullptr && !python && cc.address != 0) {
                    unnamed_jit_calls += cc.calls;
                }
                const WrapperSiteInfo* site = cc.via != 0 && cc.via <= r.wrapper_sites.size() &&
                                                      r.wrapper_sites[cc.via - 1].address != 0
                                                  ? &r.wrapper_sites[cc.via - 1]
                                                  : nullptr;
                const ModuleInfo* wm = site ? module_of(r, site->address) : nullptr;
                const std::string via_path = wm ? module_path(r, *wm) : site ? site->name : "";
                const uint64_t via_offset = wm ? site->address - wm->load_bias : site ? site->address : 0;
                CallerRow& row = callers[{cc.counter, path, offset, via_path, via_offset}];
                if (row.calls == 0 && site) {
                    CallerRow::Via v;
                    v.name = site->name;
                    v.module = wm ? via_path : "";
                    v.offset = via_offset;
                    v.depth = site->depth;
                    if (wm) {
                        const CallSite s = locate_call_site(r, site->address, symbolizer);
                        // The wrapper's own name from the recording stays when the module has none.
                        if (!s.symbol.symbol.empty()) v.name = s.symbol.symbol;
                        v.file = s.symbol.file;
                        v.line = s.symbol.line;
                        if (v.name.empty()) {
                            v.name = module_offset_text(via_path, via_offset);
                            v.unnamed_because = s.unnamed_because;
                        }
                    }
                    row.via = std::move(v);
                }
                if (row.calls == 0 && ps) {
                    row.python = true;
                    row.symbol = ps->function;
                    row.file = ps->file;
                    row.line = ps->line;
                    row.address = cc.address;
                }
                if (row.calls == 0) {
                    const int fn = f::counter_function(cc.counter);
                    const int bucket = f::counter_bucket(cc.counter);
                    row.function = f::kFunctionNames[fn];
                    if (f::function_takes_clock(fn)) {
                        row.clock = clock_name(bucket);
                        row.clock_id = clock_id_of_bucket(bucket);
                    }
                    if (!row.python) {
                        row.module = jit_name ? kJitModule : path;
                        row.offset = offset;
                        row.address = cc.address;
                        if (jit_name) row.symbol = *jit_name;
                        else if (m == nullptr && cc.address != 0) row.unnamed_because = kNotMapped;
                    }
                    if (m) {
                        // The return address follows the call: name the call instruction.
                        const CallSite s = locate_call_site(r, *m, cc.address, symbolizer);
                        row.symbol = s.symbol.symbol;
                        row.file = s.symbol.file;
                        row.line = s.symbol.line;
                        row.unnamed_because = s.unnamed_because;
                        for (const InlineFrame& fr : s.symbol.inlined) row.inlined.push_back(fr.function);
                    }
                }
                row.calls += cc.calls;
            }
        }
        uint64_t logged_calls = 0;
        for (const ExitedThread& e : r.exited_threads) {
            rep.threads.push_back({r.pid, e.tid, e.name, true, false, e.calls});
            logged_calls += e.calls;
        }
        if (recycled_calls > logged_calls)  // the log was full (or could not grow): names lost, calls kept
            rep.threads.push_back({r.pid, 0,
                                   (r.flags & f::kFlagGrowthFailed)
                                       ? std::string("(threads the recording had no room for, and exited ones)")
                                       : fmt::format("({} more exited threads)", r.threads_logged - r.exited_threads.size()),
                                   true, true, recycled_calls - logged_calls});
        if (r.flags & f::kFlagGrowthFailed)
            p.notes.push_back({ProcessNote::kGrowthFailed, 0, 0, "", ""});
        if (r.flags & f::kFlagThreadsFull)
            p.notes.push_back({ProcessNote::kThreadsFull, r.thread_capacity, shared_calls, "", ""});
        if (r.flags & f::kFlagModulesFull)
            p.notes.push_back({ProcessNote::kModulesFull, r.module_capacity, 0, "", ""});
        if (r.flags & f::kFlagRetiredFull)
            p.notes.push_back({ProcessNote::kRetiredFull, f::kRetiredCallerCapacity, 0, "", ""});
        if (r.flags & f::kFlagCpuSlots) p.notes.push_back({ProcessNote::kCpuSlots, 0, 0, "", ""});
        for (const RuntimeInfo& rt : r.runtimes)
            if (!rt.readable) p.notes.push_back({ProcessNote::kRuntimeUnread, 0, 0, rt.name, rt.reason});
        // JIT-compiled callers (node, java) without names: say which and why, once.
        if (unnamed_jit_calls != 0 && !(r.flags & f::kFlagModulesFull)) {
            ProcessNote n{ProcessNote::kUnnamedJit, 0, unnamed_jit_calls, "", ""};
            n.perf_map = r.perf_map != nullptr;
            p.notes.push_back(n);
        }
        if (r.flags & f::kFlagVdsoRedirected) p.vdso_redirect = "redirected";
        if (r.flags & f::kFlagVdsoRedirectRefused) {
            p.vdso_redirect = "refused";
            p.notes.push_back({ProcessNote::kVdsoRedirectRefused, 0, 0, "", ""});
        }
        if (r.crash) p.crash = explain_crash(r, *r.crash, symbolizer, machine);
        for (const HeadroomInfo& hi : r.headroom) {
            HeadroomRow row;
            row.function = f::kFunctionNames[f::counter_function(hi.counter)];
            row.caller = describe_call_site(r, hi.address, symbolizer);
            row.min_headroom = hi.min_headroom;
            row.calls = hi.calls;
            row.need = vdso_stack_need(r, row.function, machine);
            // A vDSO built with stack probes touches about a page below the stack pointer.
            row.warn = row.need > 0 && row.min_headroom < row.need + 4096;
            rep.headroom.push_back(std::move(row));
        }
        static constexpr const char* kRouteNames[] = {"vdso", "syscall", "libc"};
        for (int fn = 0; fn < f::kFunctionCount; ++fn) {
            const uint8_t route = r.doctor.routes[fn];
            if (route != f::kRouteVdso && route <= f::kRouteLibc)
                p.routes.push_back(fmt::format("{}={}", f::kFunctionNames[fn], kRouteNames[route]));
        }
        rep.total_calls += p.calls;
        rep.processes.push_back(std::move(p));
    }
    rep.seconds = last_end > first_start && first_start != UINT64_MAX ? double(last_end - first_start) / 1e9 : 0;
    rep.seconds_at_least = last_end_is_bound && rep.seconds > 0;

    for (int fn = 0; fn < f::kCountedFunctions; ++fn) {
        FunctionRow row{f::kFunctionNames[fn], 0};
        const int buckets = fn < f::kFunctionCount ? f::kClockBuckets : 1;  // getrandom has one counter
        for (int b = 0; b < buckets; ++b) row.calls += totals[f::counter_index(fn, b)];
        rep.functions.push_back(row);
        if (!f::function_takes_clock(fn)) continue;
        for (int b = 0; b < f::kClockBuckets; ++b) {
            const uint64_t n = totals[f::counter_index(fn, b)];
            if (n) rep.clocks.push_back({f::kFunctionNames[fn], clock_id_of_bucket(b), clock_name(b), n});
        }
    }
    std::stable_sort(rep.clocks.begin(), rep.clocks.end(), [](auto& a, auto& b) { return a.calls > b.calls; });

    for (unsigned c = 0; c < f::kCounterSlots; ++c) {
        if (!unattributed[c]) continue;
        const int fn = f::counter_function(c);
        rep.unattributed.push_back({f::kFunctionNames[fn],
                                    f::function_takes_clock(fn) ? clock_name(f::counter_bucket(c)) : "",
                                    unattributed[c]});
    }
    rep.stacks = build_stack_report(recordings, filter, symbolizer);
    if (!recordings.empty()) {
        std::vector<ClockCount> counts;
        for (unsigned c = 0; c < f::kCounterSlots; ++c)
            if (totals[c]) counts.push_back({f::counter_function(c), f::counter_bucket(c), totals[c]});
        rep.fallbacks = find_fallbacks(counts, recordings.front(), machine);
    }
    std::stable_sort(rep.headroom.begin(), rep.headroom.end(),
                     [](auto& a, auto& b) { return a.min_headroom < b.min_headroom; });
    for (auto& [key, row] : callers) rep.callers.push_back(std::move(row));
    std::stable_sort(rep.callers.begin(), rep.callers.end(), [](auto& a, auto& b) { return a.calls > b.calls; });
    return rep;
}

}  // namespace vdsotrace::tools
