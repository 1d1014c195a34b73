#include "tools/render/report_words.h"

#include <time.h>

#include <fmt/format.h>

namespace vdsotrace::tools {

namespace f = vdsotrace::format;

std::string fallback_reason_text(const FallbackRow& row) {
    switch (row.reason) {
        case KernelEntry::kServed: return "";
        case KernelEntry::kRouted: return "routed to the system call (--route / VDSOTRACE_ROUTE)";
        case KernelEntry::kNoVdsoFunction: return "the vDSO has no " + row.function + ": the shim made the system call";
        case KernelEntry::kOtherCpuClock: return "CPU-time clocks of other threads or processes are read by the kernel";
        case KernelEntry::kInvalidClock: return "invalid clock ids go to the kernel, which rejects them (EINVAL)";
        case KernelEntry::kCpuClock: return "CPU-time clocks are always read by the kernel";
        case KernelEntry::kKernelRejects: return "the kernel rejects this clock id (EINVAL) after the vDSO passes it on";
        case KernelEntry::kClocksource:
            return "the clocksource has no vDSO mode here: the vDSO passes every such call to the kernel";
        case KernelEntry::kNotInVdso: return "the vDSO passes this clock to the kernel";
    }
    return "";
}

std::string fallback_suggestion_text(const FallbackRow& row) {
    switch (row.suggestion) {
        case FallbackSuggestion::kNone: return "";
        case FallbackSuggestion::kMonotonicForIntervals: {
            std::string s = "if these calls time intervals rather than CPU use, CLOCK_MONOTONIC is served by the vDSO";
            if (row.monotonic_ns > 0) s += fmt::format(" ({:.0f} ns a call here)", row.monotonic_ns);
            return s + "; if CPU time is what is needed, consider reading it less often";
        }
        case FallbackSuggestion::kOtherClock: {
            std::string s = fmt::format("consider {}", f::kClockNames[row.alternative]);
            if (row.alternative == CLOCK_REALTIME_COARSE || row.alternative == CLOCK_MONOTONIC_COARSE) {
                const double ns = double(row.resolution_ns);
                const std::string res = row.resolution_ns == 0 ? ""
                                        : ns >= 1e6            ? fmt::format("{:g} ms", ns / 1e6)
                                                               : fmt::format("{:g} ns", ns);
                s += fmt::format(" where a resolution of {} is enough", res);
            }
            if (row.vdso_ns > 0) s += fmt::format(" (served by the vDSO: {:.0f} ns a call here)", row.vdso_ns);
            return s;
        }
    }
    return "";
}

std::string fallback_basis_text(FallbackBasis basis) {
    switch (basis) {
        case FallbackBasis::kNone: return "";
        case FallbackBasis::kSeccomp:
            return "which calls enter the kernel was measured on this machine (exactly, with a seccomp filter)";
        case FallbackBasis::kTiming: return "which calls enter the kernel was judged on this machine by timing";
        case FallbackBasis::kOtherVdso:
            return "recorded with another vDSO (another machine or kernel): only calls known to enter the kernel "
                   "everywhere are listed, without costs";
    }
    return "";
}

std::string process_note_text(const ProcessNote& n) {
    switch (n.kind) {
        case ProcessNote::kThreadsFull:
            return fmt::format("threads found all {} thread slots busy; their {} calls are counted "
                               "together (raise VDSOTRACE_THREADS)",
                               n.capacity, n.calls);
        case ProcessNote::kModulesFull:
            return fmt::format("the module table ({} entries) filled up: some callers are shown as "
                               "bare addresses (raise VDSOTRACE_MODULES)",
                               n.capacity);
        case ProcessNote::kRetiredFull:
            return fmt::format("libraries were unloaded after more call sites than the table of "
                               "unloaded libraries' callers holds ({}): the rest of their calls are "
                               "counted without a caller",
                               n.capacity);
        case ProcessNote::kUnnamedJit:
            return fmt::format(
                "{} calls come from code in no module (JIT-compiled or generated, as node's and a JVM's), shown as "
                "bare addresses: {}; "
                "`vdsotrace run` asks node and java for one unless --no-runtime-help (or run node with "
                "--perf-basic-prof, java with -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit)",
                n.calls,
                n.perf_map ? "the process's perf map does not name them" : "the process left no perf map (/tmp/perf-PID.map)");
        case ProcessNote::kCpuSlots:
            return "a statically linked program, counted by the trampoline vdsotrace injected: without "
                   "thread-local storage it cannot tell threads apart, so the Threads rows \"cpu N\" are "
                   "the CPUs the calls ran on";
        case ProcessNote::kRuntimeUnread:
            return fmt::format("{}: its Python frames were not read ({}); its clock calls are counted "
                               "at the interpreter's C call sites instead",
                               n.name, n.reason);
        case ProcessNote::kGrowthFailed:
            return "the recording could not grow (/dev/shm full, or a file size limit): threads started "
                   "after that are counted together, modules and call sites found after that are not "
                   "named; every call is counted";
        case ProcessNote::kVdsoRedirectRefused:
            return "the vDSO could not be made writable, so the calls this program's runtime makes "
                   "straight into it (Go's time.Now, nanotime) are not counted";
    }
    return "";
}

std::string headroom_text(const HeadroomRow& row) {
    std::string text = fmt::format("{} ran {} with {} bytes of stack left at the lowest ({} such calls)", row.caller,
                                   row.function, row.min_headroom, row.calls);
    if (row.need)
        text += row.min_headroom < 2 * row.need
                    ? fmt::format(": dangerously close to the {} bytes this vDSO needs", row.need)
                : row.warn ? fmt::format(": enough for this vDSO ({} bytes) but not for one that probes "
                                         "the stack (about 4 KiB, golang/go#20427)",
                                         row.need)
                           : fmt::format(" (this vDSO needs {} bytes)", row.need);
    return text;
}

std::string crash_text(const CrashReport& c) {
    std::string t;
    if (c.in_vdso)
        t = fmt::format("{} inside the vDSO's {} (+{:#x})", c.signal, c.function.empty() ? "code" : c.function,
                        c.offset);
    else
        t = fmt::format("{} inside vdsotrace's shim (pc {:#x})", c.signal, c.pc);
    t += fmt::format(" in thread {}, at address {:#x}", c.tid, c.fault_address);
    // A fault far from the stack pointer (address 8, a heap or code address) is a bad pointer
    // handed to the function, not a stack overflow: saying "140729884420088 bytes below the stack
    // pointer" would send the reader looking for a stack problem (issue 12).
    const bool near_sp = c.below_sp >= -int64_t(64 * 1024) && c.below_sp <= int64_t(1024 * 1024);
    // (The shim flags any fault outside an accessible mapping as "in a guard": address 8 too.)
    const bool bad_pointer = !near_sp;
    const bool fault_in_guard = c.fault_in_guard && !bad_pointer;
    if (bad_pointer)
        t += fmt::format(": a bad pointer passed to {} (the address is nowhere near the stack)",
                         c.function.empty() || !c.in_vdso ? "the clock function" : c.function);
    else if (c.below_sp >= 0)
        t += fmt::format(", {} bytes below the stack pointer", c.below_sp);
    if (c.stack_left && !bad_pointer) {
        if (*c.stack_left >= 0)
            t += fmt::format(", with {} bytes of stack left", *c.stack_left);
        else
            t += fmt::format(", with the stack pointer already {} bytes past the end of the stack", -*c.stack_left);
    }
    if (!c.caller.empty()) t += fmt::format(".\nCalled from {}", c.caller);
    if (c.caller_room) t += fmt::format(", which had {} bytes of stack below its stack pointer", *c.caller_room);
    t += ".";
    if (c.need) {
        const std::string how = c.need_measured ? "measured on this machine" : "estimated from its code";
        if (c.caller_room && *c.caller_room < int64_t(*c.need) && fault_in_guard)
            t += fmt::format("\nThe caller's stack is too small for this vDSO, whose {} needs {} bytes ({}): {} "
                             "bytes short. Give that code a larger stack, or switch to a larger one before calling "
                             "the vDSO (as Go does since 1.9).",
                             c.function, *c.need, how, int64_t(*c.need) - *c.caller_room);
        else if (fault_in_guard)
            t += fmt::format("\nThe fault hit the end of the stack; this vDSO's {} needs {} bytes below the caller's "
                             "stack pointer ({}).",
                             c.function, *c.need, how);
        else if (!bad_pointer)
            t += fmt::format("\nThe fault address is not at the end of a stack: a bad pointer passed to {} rather "
                             "than a stack too small (it needs {} bytes of stack, {}).",
                             c.function, *c.need, how);
    }
    if (!c.in_vdso && fault_in_guard)
        t += "\nThe fault hit the end of the stack inside vdsotrace's own clock function, which needs stack of its "
             "own on top of the vDSO's: this stack is too small for either (`vdsotrace vdso` shows what the vDSO "
             "alone needs).";
    if (c.probes)
        t += " Its code probes the stack far below the stack pointer (a kernel built with stack probes, as in "
             "golang/go#20427).";
    return t;
}

}  // namespace vdsotrace::tools
