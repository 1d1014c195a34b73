#include <algorithm>
#include <map>
#include <csignal>
#include <cstring>
#include <sstream>

#include <fmt/format.h>

#include "tools/recordings/jit_symbols.h"
#include "tools/render/call_tree_text.h"
#include "tools/render/group_digits.h"
#include "tools/render/report_output.h"
#include "tools/render/short_symbol.h"
#include "tools/render/terminal_safe.h"
#include "tracer/common/path_name.h"
#include "tools/render/report_words.h"

namespace vdsotrace::tools {

namespace {

// "1 call", "2 calls", "62,200 calls": a count and its noun, plural when it is not one.
std::string count_of(uint64_t n, const char* noun, const char* plural = nullptr) {
    return fmt::format("{} {}", group_digits(n), n == 1 ? noun : plural ? plural : fmt::format("{}s", noun));
}

// "1 more call site", "3 more call sites".
std::string more_of(uint64_t n, const char* noun) {
    return fmt::format("{} more {}{}", group_digits(n), noun, n == 1 ? "" : "s");
}

std::string percent(uint64_t part, uint64_t whole) {
    return whole ? fmt::format("{:.1f}%", 100.0 * double(part) / double(whole)) : "-";
}

std::string rate(uint64_t calls, double seconds) {
    if (!(seconds > 0)) return "-";
    // A corrupt recording can claim absurd counts in no time: converting a double beyond
    // uint64_t's range is undefined behaviour (found by tests/fuzz).
    const double r = double(calls) / seconds + 0.5;
    return r < 1.8e19 ? group_digits(uint64_t(r)) : fmt::format("{:.3g}", r);
}

std::string duration(double seconds) {
    if (seconds < 1e-3) return fmt::format("{:.0f} us", seconds * 1e6);
    if (seconds < 1) return fmt::format("{:.1f} ms", seconds * 1e3);
    return fmt::format("{:.2f} s", seconds);
}

// How long a process ran: "1.23 s", or for one nobody saw end, "at least 1.23 s (until its last
// recorded activity)".
std::string process_time(const ProcessRow& p) {
    return p.seconds_at_least ? fmt::format("at least {} (until its last recorded activity)", duration(p.seconds))
                              : duration(p.seconds);
}

std::string signal_name(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

// " (reaped by PID n)": the status came from the traced parent that reaped the process.
std::string reaper(const ProcessRow& p) { return p.reaped_by ? fmt::format(" (reaped by PID {})", p.reaped_by) : ""; }

std::string fate_text(const ProcessRow& p) {
    switch (p.fate) {
        case ProcessFate::kRunning: return "still running";
        case ProcessFate::kExited: return fmt::format("exited with code {}{}", p.exit_value, reaper(p));
        case ProcessFate::kSignaled: return fmt::format("killed by {}{}", signal_name(p.exit_value), reaper(p));
        case ProcessFate::kEndedUnknownStatus: return "ended normally (exit code not recorded)";
        case ProcessFate::kVanished:
            // _exit, _Exit, exec and every reap by a traced parent are recorded: what is left is a
            // signal seen only by an untraced reaper, or an exec into an untraced program.
            return "vanished without ending: killed by a signal no traced parent reaped, or exec'd an untraced program";
        case ProcessFate::kExeced: return "replaced by exec (the next image of this pid follows)";
    }
    return "?";
}

// "  via steady_clock::now()", or "  via python3.11+0x605543 (unnamed: no symbols in the module)".
std::string via_text(const CallerRow::Via& v) {
    return v.unnamed_because.empty() ? fmt::format("  via {}", short_symbol(v.name))
                                     : fmt::format("  via {} (unnamed: {})", v.name, v.unnamed_because);
}

std::string caller_name(const CallerRow& c) {
    if (c.python) {  // a Python function: its file and the line of the call
        std::string name = fmt::format("{}  {}:{}", c.symbol, base_name(c.file), c.line);
        if (c.via) name += via_text(*c.via);
        return name;
    }
    std::string where;
    if (c.module == kJitModule)
        where = c.module;  // one row per JIT-compiled method (report_model.cpp)
    else if (!c.module.empty())
        where = fmt::format("{}+{:#x}", base_name(c.module), c.offset);
    else if (c.via && c.address == 0)
        where = "caller not found";
    else
        where = fmt::format("{:#x}", c.address);  // the reason follows: not in any module
    std::string name = c.symbol.empty() ? where : fmt::format("{}  ({})", short_symbol(c.symbol), where);
    if (c.symbol.empty() && !c.unnamed_because.empty()) name += fmt::format("  (unnamed: {})", c.unnamed_because);
    if (!c.inlined.empty()) name += fmt::format("  [inlined: {}]", c.inlined.front());
    if (!c.file.empty()) name += fmt::format("  {}:{}", base_name(c.file), c.line);
    if (c.via) name += via_text(*c.via);
    return name;
}

void write_stacks(const StackReport& s, size_t top, std::ostream& out) {
    out << fmt::format("\nSampled stacks: one call in {} per thread, {}, up to {} frames\n", s.period, s.unwinder,
                       s.max_depth);
    const SampleTotals& t = s.totals;
    out << fmt::format("  {} sampled; {} of them in the {} below\n", count_of(t.sampled, "call"),
                       group_digits(s.stack_calls), count_of(s.stacks.size(), "stack"));
    auto lost = [&](uint64_t n, const char* why) {
        if (n) out << fmt::format("  {} no stack: {}\n", count_of(n, "sampled call has", "sampled calls have"), why);
    };
    lost(t.lost_no_unwinder, s.unwinder_missing ? "libunwind could not be loaded (install libunwind8, or use "
                                                  "VDSOTRACE_UNWIND=fp)"
                                                : "made before the shim's constructor loaded the unwinder");
    lost(t.lost_stacks_full, "the stack table or frame pool was full (raise VDSOTRACE_STACKS)");
    lost(t.lost_counts_full, "a thread's stack-count table was full (raise VDSOTRACE_STACK_COUNTS)");
    lost(t.lost_reentered, "made by a signal handler while its thread was taking a stack");
    lost(t.unreadable, "their stack was being added while this live recording was read");
    if (s.ring_missed)
        out << fmt::format("  {} entries of the recent-samples ring were overwritten while being read\n",
                           group_digits(s.ring_missed));
    if (s.stacks.empty()) return;
    // Frames shown as module+offset: why, once per module (the trees have no room for it).
    std::map<std::string, std::string> unnamed;
    for (const StackRow& row : s.stacks)
        for (const StackFrame& fr : row.frames)
            if (fr.symbol.empty() && !fr.unnamed_because.empty())
                unnamed.emplace(fr.module.empty() ? "addresses in no module" : base_name(fr.module), fr.unnamed_because);
    for (const auto& [module, why] : unnamed) out << fmt::format("  frames unnamed in {}: {}\n", module, why);
    out << "\nHot code paths, top-down (entry point -> clock call)\n";
    write_call_tree(build_call_tree(s.stacks, false), s.stack_calls, top, 0.005, out);
    out << "\nHot code paths, bottom-up (clock call -> entry point)\n";
    write_call_tree(build_call_tree(s.stacks, true), s.stack_calls, top, 0.005, out);
}

}  // namespace

namespace {

void write_text_unfiltered(const Report& r, const TextOptions& options, std::ostream& out);

}  // namespace

// Rendered whole, then every control character but the line breaks escaped: whatever a recording
// holds (thread names, argv, paths, symbols from module files) reaches the terminal as text.
void write_text(const Report& r, const TextOptions& options, std::ostream& out) {
    std::ostringstream text;
    write_text_unfiltered(r, options, text);
    out << terminal_safe(text.str(), true);
}

namespace {

// Many threads: one row per thread name (a pool of 64 "worker" threads is one row), the busiest
// `rows` of them, and how many more.
void write_thread_groups(const Report& r, const TextOptions& options, std::ostream& out) {
    struct Group {
        std::string name;
        size_t threads = 0, exited = 0;
        uint64_t calls = 0;
    };
    std::vector<Group> groups;
    for (const ThreadRow& t : r.threads) {
        const std::string name = t.shared ? "(shared overflow slot)" : t.name;
        auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.name == name; });
        if (it == groups.end()) it = groups.insert(groups.end(), Group{name});
        ++it->threads;
        it->exited += t.exited;
        it->calls += t.calls;
    }
    std::stable_sort(groups.begin(), groups.end(), [](const Group& a, const Group& b) { return a.calls > b.calls; });
    out << fmt::format("  {} threads by name, busiest first (--all lists each)\n", group_digits(r.threads.size()));
    out << fmt::format("  {:<24} {:>9} {:>15}  {}\n", "name", "threads", "calls", "state");
    for (size_t i = 0; i < groups.size() && i < options.rows; ++i) {
        const Group& g = groups[i];
        out << fmt::format("  {:<24} {:>9} {:>15}  {}\n", terminal_safe(g.name), group_digits(g.threads),
                           group_digits(g.calls),
                           g.exited == g.threads ? "exited" : g.exited ? fmt::format("{} exited", group_digits(g.exited)) : "");
    }
    if (groups.size() > options.rows) {
        uint64_t calls = 0;
        for (size_t i = options.rows; i < groups.size(); ++i) calls += groups[i].calls;
        out << fmt::format("  ... {} ({}; --all shows them)\n", more_of(groups.size() - options.rows, "name"),
                           count_of(calls, "call"));
    }
}

// Many processes: one row per executable (a shell script's dozen `bash` processes are one row),
// the busiest `rows` of them, and how many more.
void write_process_groups(const Report& r, const TextOptions& options, std::ostream& out) {
    struct Group {
        std::string exe;
        size_t processes = 0, exited = 0, running = 0, execed = 0;
        uint64_t calls = 0;
    };
    std::vector<Group> groups;
    for (const ProcessRow& p : r.processes) {
        auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return g.exe == p.exe; });
        if (it == groups.end()) it = groups.insert(groups.end(), Group{p.exe});
        ++it->processes;
        it->exited += p.fate == ProcessFate::kExited;
        it->running += p.fate == ProcessFate::kRunning;
        it->execed += p.fate == ProcessFate::kExeced;
        it->calls += p.calls;
    }
    std::stable_sort(groups.begin(), groups.end(), [](const Group& a, const Group& b) { return a.calls > b.calls; });
    out << fmt::format("  {} by executable, busiest first (--all lists each with how it ended)\n",
                       count_of(r.processes.size(), "process", "processes"));
    for (size_t i = 0; i < groups.size() && i < options.rows; ++i) {
        const Group& g = groups[i];
        std::string fates;
        if (g.exited) fates += fmt::format("{} exited", group_digits(g.exited));
        if (g.running) fates += fmt::format("{}{} running", fates.empty() ? "" : ", ", group_digits(g.running));
        if (g.execed) fates += fmt::format("{}{} replaced by exec", fates.empty() ? "" : ", ", group_digits(g.execed));
        if (g.processes > g.exited + g.running + g.execed)
            fates += fmt::format("{}{} ended otherwise", fates.empty() ? "" : ", ",
                                 group_digits(g.processes - g.exited - g.running - g.execed));
        out << fmt::format("  {}: {}, {} ({})\n", terminal_safe(g.exe), count_of(g.processes, "process", "processes"),
                           count_of(g.calls, "call"), fates);
    }
    if (groups.size() > options.rows) {
        uint64_t calls = 0;
        for (size_t i = options.rows; i < groups.size(); ++i) calls += groups[i].calls;
        out << fmt::format("  ... {} ({}; --all shows them)\n",
                           more_of(groups.size() - options.rows, "executable"), count_of(calls, "call"));
    }
    // What needs a reader's attention is never cut: crashes.
    for (const ProcessRow& p : r.processes)
        if (p.crash) {
            out << fmt::format("\n  CRASH in pid {}: ", p.pid);
            for (char ch : crash_text(*p.crash)) {
                out << ch;
                if (ch == '\n') out << "  ";
            }
            out << "\n";
        }
}

void write_text_unfiltered(const Report& r, const TextOptions& options, std::ostream& out) {
    // The program as it was started (argv[0]): Debian's redis-server is a link to redis-check-rdb.
    auto program = [](const ProcessRow& p) {
        return base_name(!p.argv.empty() && !p.argv[0].empty() ? p.argv[0] : p.exe);
    };
    const std::string who = r.processes.size() == 1
                                ? fmt::format("{} (pid {})", program(r.processes[0]), r.processes[0].pid)
                                : fmt::format("{} processes", r.processes.size());
    out << fmt::format("vdsotrace report: {}, session {}\n", who, r.session);
    out << fmt::format("{} in {}{}\n\n", count_of(r.total_calls, "vDSO time call"), r.seconds_at_least ? "at least " : "",
                       duration(r.seconds));

    if (r.total_calls == 0) {
        out << "No calls to clock_gettime, gettimeofday, time, getcpu or clock_getres were seen.\n"
               "A program may read the time where LD_PRELOAD cannot see it: inside libc itself, by a raw\n"
               "syscall or rdtsc, or (Go, static programs) by calling the vDSO directly.\n";
    } else {
        out << fmt::format("{:<15} {:<26} {:>15} {:>7} {:>13}\n", "function", "clock", "calls", "share", "calls/s");
        for (const FunctionRow& fr : r.functions) {
            if (fr.calls == 0) continue;
            bool has_clocks = false;
            for (const ClockRow& c : r.clocks) {
                if (c.function != fr.name) continue;
                has_clocks = true;
                out << fmt::format("{:<15} {:<26} {:>15} {:>7} {:>13}\n", fr.name, c.name, group_digits(c.calls),
                                   percent(c.calls, r.total_calls), rate(c.calls, r.seconds));
            }
            if (!has_clocks)
                out << fmt::format("{:<15} {:<26} {:>15} {:>7} {:>13}\n", fr.name, "", group_digits(fr.calls),
                                   percent(fr.calls, r.total_calls), rate(fr.calls, r.seconds));
        }
        out << fmt::format("{:<15} {:<26} {:>15} {:>7} {:>13}\n", "total", "", group_digits(r.total_calls), "100%",
                           rate(r.total_calls, r.seconds));

        if (!r.fallbacks.rows.empty()) {
            out << fmt::format("\nCalls that entered the kernel instead of the vDSO\n  ({})\n",
                               fallback_basis_text(r.fallbacks.basis));
            for (const FallbackRow& fb : r.fallbacks.rows) {
                out << fmt::format("  {}{}{}: {}", fb.function, fb.clock.empty() ? "" : " " + fb.clock,
                                   fb.clock.empty() ? "" : fmt::format(" ({})", fb.clock_id), count_of(fb.calls, "call"));
                if (fb.ns_per_call > 0)
                    out << fmt::format(", {:.0f} ns each here, {} in all", fb.ns_per_call,
                                       duration(double(fb.calls) * fb.ns_per_call / 1e9));
                out << fmt::format(": {}\n", fallback_reason_text(fb));
                if (const std::string s = fallback_suggestion_text(fb); !s.empty()) out << "    suggestion: " << s << "\n";
            }
        }

        if (!r.headroom.empty()) {
            out << fmt::format("\nCallers that ran the clock low on stack (less than {} KiB left)\n",
                               vdsotrace::format::kHeadroomWatch / 1024);
            for (const HeadroomRow& h : r.headroom) out << (h.warn ? "  WARNING: " : "  ") << headroom_text(h) << "\n";
        }

        out << fmt::format("\nTop callers (call site: function, module+offset, source)\n");
        out << fmt::format("{:>15} {:>7}  {:<15} {:<24} {}\n", "calls", "share", "function", "clock", "caller");
        size_t shown = 0;
        for (const CallerRow& c : r.callers) {
            if (shown++ == options.top_callers) {
                out << fmt::format("{:>15}          ... {} (--top N shows more)\n", "",
                                   more_of(r.callers.size() - options.top_callers, "call site"));
                break;
            }
            out << fmt::format("{:>15} {:>7}  {:<15} {:<24} {}\n", group_digits(c.calls),
                               percent(c.calls, r.total_calls), c.function, c.clock, caller_name(c));
        }
        for (const UnattributedRow& u : r.unattributed)
            out << fmt::format("{:>15} {:>7}  {:<15} {:<24} (not attributed: the thread's caller table was full; "
                               "raise VDSOTRACE_CALLERS)\n",
                               group_digits(u.calls), percent(u.calls, r.total_calls), u.function, u.clock);
    }

    if (r.stacks.enabled) write_stacks(r.stacks, options.top_callers, out);

    out << "\nThreads\n";
    if (!options.all && r.threads.size() > options.rows) {
        write_thread_groups(r, options, out);
    } else {
        out << fmt::format("{:>8} {:>8}  {:<16} {:>15}  {}\n", "pid", "tid", "name", "calls", "state");
        for (const ThreadRow& t : r.threads)
            out << fmt::format("{:>8} {:>8}  {:<16} {:>15}  {}\n", t.pid, t.shared ? "-" : std::to_string(t.tid),
                               terminal_safe(t.name),
                               group_digits(t.calls), t.shared ? "shared overflow slot" : t.exited ? "exited" : "");
    }

    out << "\nProcesses\n";
    if (!options.all && r.processes.size() > options.rows) {
        write_process_groups(r, options, out);
        return;
    }
    for (const ProcessRow& p : r.processes) {
        std::string cmd;
        for (const std::string& a : p.argv) cmd += (cmd.empty() ? "" : " ") + a;
        out << fmt::format("  pid {} (parent {}): {}\n", p.pid, p.ppid, terminal_safe(cmd.empty() ? p.exe : cmd));
        out << fmt::format("    {}, {} over {}\n", fate_text(p), count_of(p.calls, "call"), process_time(p));
        if (options.per_process) {
            out << fmt::format("    executable {}\n", p.exe);
            if (!p.previous_image_id.empty()) out << "    exec'd by the image before it (same pid)\n";
            for (const ClockRow& c : p.counters)
                out << fmt::format("    {:<15} {:<26} {:>15} {:>7}\n", c.function, c.name, group_digits(c.calls),
                                   percent(c.calls, p.calls));
        }
        if (p.vdso_redirect == "redirected")
            out << "    calls straight into the vDSO (Go runtime) counted too: the vDSO's symbols led to vdsotrace\n";
        for (const ProcessNote& n : p.notes) out << "    note: " << process_note_text(n) << "\n";
        if (!p.routes.empty()) {
            std::string routes;
            for (const std::string& rt : p.routes) routes += (routes.empty() ? "" : ", ") + rt;
            out << "    routed away from the vDSO: " << routes << "\n";
        }
        if (p.crash) {
            out << "\n  CRASH: ";
            for (char ch : crash_text(*p.crash)) {
                out << ch;
                if (ch == '\n') out << "  ";
            }
            out << "\n";
        }
    }
}

}  // namespace

}  // namespace vdsotrace::tools
