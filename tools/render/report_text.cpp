#include <algorithm>
#include <csignal>
#include <cstring>
#include <sstream>

#include <fmt/format.h>

#include "tools/report/call_tree.h"
#include "tools/render/report_output.h"
#include "tools/render/terminal_safe.h"

namespace vdsotrace::tools {

std::string group_digits(uint64_t v) {
    const std::string digits = std::to_string(v);
    std::string s;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) s += ',';
        s += digits[i];
    }
    return s;
}

namespace {

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

std::string basename(const std::string& p) {
    size_t s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

std::string duration(double seconds) {
    if (seconds < 1e-3) return fmt::format("{:.0f} us", seconds * 1e6);
    if (seconds < 1) return fmt::format("{:.1f} ms", seconds * 1e3);
    return fmt::format("{:.2f} s", seconds);
}

std::string signal_name(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

std::string fate_text(const ProcessRow& p) {
    switch (p.fate) {
        case ProcessFate::kRunning: return "still running";
        case ProcessFate::kExited: return fmt::format("exited with code {}", p.exit_value);
        case ProcessFate::kSignaled: return fmt::format("killed by {}", signal_name(p.exit_value));
        case ProcessFate::kEndedUnknownStatus: return "ended normally (exit code not recorded)";
        case ProcessFate::kVanished:
            return "vanished without ending: killed by a signal, or left through _exit/exec";
        case ProcessFate::kExeced: return "replaced by exec (the next image of this pid follows)";
    }
    return "?";
}

std::string caller_name(const CallerRow& c) {
    if (c.python) {  // a Python function: its file and the line of the call
        std::string name = fmt::format("{}  {}:{}", c.symbol, basename(c.file), c.line);
        if (c.via) name += fmt::format("  via {}", c.via->name);
        return name;
    }
    std::string where;
    if (!c.module.empty())
        where = fmt::format("{}+{:#x}", basename(c.module), c.offset);
    else if (c.via && c.address == 0)
        where = "caller not found";
    else
        where = fmt::format("{:#x} (in no known module)", c.address);
    std::string name = c.symbol.empty() ? where : fmt::format("{}  ({})", c.symbol, where);
    if (!c.inlined.empty()) name += fmt::format("  [inlined: {}]", c.inlined.front());
    if (!c.file.empty()) name += fmt::format("  {}:{}", basename(c.file), c.line);
    if (c.via) name += fmt::format("  via {}", c.via->name);
    return name;
}

void write_stacks(const StackReport& s, size_t top, std::ostream& out) {
    out << fmt::format("\nSampled stacks: one call in {} per thread, {}, up to {} frames\n", s.period, s.unwinder,
                       s.max_depth);
    const SampleTotals& t = s.totals;
    out << fmt::format("  {} calls sampled; {} of them in the {} stacks below\n", group_digits(t.sampled),
                       group_digits(s.stack_calls), group_digits(s.stacks.size()));
    auto lost = [&](uint64_t n, const char* why) {
        if (n) out << fmt::format("  {} sampled calls have no stack: {}\n", group_digits(n), why);
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

void write_text_unfiltered(const Report& r, const TextOptions& options, std::ostream& out) {
    const std::string who = r.processes.size() == 1
                                ? fmt::format("{} (pid {})", basename(r.processes[0].exe), r.processes[0].pid)
                                : fmt::format("{} processes", r.processes.size());
    out << fmt::format("vdsotrace report: {}, session {}\n", who, r.session);
    out << fmt::format("{} vDSO time calls in {}\n\n", group_digits(r.total_calls), duration(r.seconds));

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
            out << fmt::format("\nCalls that entered the kernel instead of the vDSO\n  ({})\n", r.fallbacks.note);
            for (const FallbackRow& fb : r.fallbacks.rows) {
                out << fmt::format("  {}{}{}: {} calls", fb.function, fb.clock.empty() ? "" : " " + fb.clock,
                                   fb.clock.empty() ? "" : fmt::format(" ({})", fb.clock_id), group_digits(fb.calls));
                if (fb.ns_per_call > 0)
                    out << fmt::format(", {:.0f} ns each here, {} in all", fb.ns_per_call,
                                       duration(double(fb.calls) * fb.ns_per_call / 1e9));
                out << fmt::format(": {}\n", fb.reason);
                if (!fb.suggestion.empty()) out << "    suggestion: " << fb.suggestion << "\n";
            }
        }

        if (!r.headroom.empty()) {
            out << fmt::format("\nCallers that ran the clock low on stack (less than {} KiB left)\n",
                               vdsotrace::format::kHeadroomWatch / 1024);
            for (const HeadroomRow& h : r.headroom) out << (h.warn ? "  WARNING: " : "  ") << h.text << "\n";
        }

        out << fmt::format("\nTop callers (call site: function, module+offset, source)\n");
        out << fmt::format("{:>15} {:>7}  {:<15} {:<24} {}\n", "calls", "share", "function", "clock", "caller");
        size_t shown = 0;
        for (const CallerRow& c : r.callers) {
            if (shown++ == options.top_callers) {
                out << fmt::format("{:>15}          ... {} more call sites (--top N shows more)\n", "",
                                   r.callers.size() - options.top_callers);
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
    out << fmt::format("{:>8} {:>8}  {:<16} {:>15}  {}\n", "pid", "tid", "name", "calls", "state");
    for (const ThreadRow& t : r.threads)
        out << fmt::format("{:>8} {:>8}  {:<16} {:>15}  {}\n", t.pid, t.shared ? "-" : std::to_string(t.tid),
                           terminal_safe(t.name),
                           group_digits(t.calls), t.shared ? "shared overflow slot" : t.exited ? "exited" : "");

    out << "\nProcesses\n";
    for (const ProcessRow& p : r.processes) {
        std::string cmd;
        for (const std::string& a : p.argv) cmd += (cmd.empty() ? "" : " ") + a;
        out << fmt::format("  pid {} (parent {}): {}\n", p.pid, p.ppid, terminal_safe(cmd.empty() ? p.exe : cmd));
        out << fmt::format("    {}, {} calls over {}\n", fate_text(p), group_digits(p.calls), duration(p.seconds));
        if (options.per_process) {
            out << fmt::format("    executable {}\n", p.exe);
            if (!p.previous_image_id.empty()) out << "    exec'd by the image before it (same pid)\n";
            for (const ClockRow& c : p.counters)
                out << fmt::format("    {:<15} {:<26} {:>15} {:>7}\n", c.function, c.name, group_digits(c.calls),
                                   percent(c.calls, p.calls));
        }
        if (p.vdso_redirect == "redirected")
            out << "    calls straight into the vDSO (Go runtime) counted too: the vDSO's symbols led to vdsotrace\n";
        for (const std::string& n : p.notes) out << "    note: " << n << "\n";
        if (!p.routes.empty()) {
            std::string routes;
            for (const std::string& rt : p.routes) routes += (routes.empty() ? "" : ", ") + rt;
            out << "    routed away from the vDSO: " << routes << "\n";
        }
        if (p.crash) {
            out << "\n  CRASH: ";
            for (char ch : p.crash->text) {
                out << ch;
                if (ch == '\n') out << "  ";
            }
            out << "\n";
        }
    }
}

}  // namespace

}  // namespace vdsotrace::tools
