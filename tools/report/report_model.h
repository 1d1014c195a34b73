// The report as data: what `report` prints and what --json writes, built from one or more
// recordings (the processes of one session), named by the symbolizer, and from the facts about
// the reading machine its command gathered (machine_facts.h): build_report reads nothing else
// (no /proc, no vDSO, no clock measurement), and holds numbers and names, no sentences (the
// renderers write those, through report_words.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/recordings/recording_store.h"
#include "tools/report/report_crash.h"
#include "tools/report/report_fallback.h"
#include "tools/recordings/segment_reader.h"
#include "tools/report/stack_model.h"
#include "tools/report/machine_facts.h"

namespace vdsotrace::tools {

struct FunctionRow {
    std::string name;
    uint64_t calls = 0;
};

struct ClockRow {
    std::string function;  // clock_gettime or clock_getres
    int id = 0;            // -1: dynamic CPU clocks, -2: invalid ids
    std::string name;
    uint64_t calls = 0;
};

struct CallerRow {
    std::string function;
    std::string clock;     // "" for functions without a clock id
    int clock_id = 0;
    std::string symbol;    // function containing the call site, demangled; "" if unknown
    std::string module;    // path of the module, "" if unknown
    uint64_t offset = 0;   // return address relative to the module (ELF virtual address)
    uint64_t address = 0;  // return address in the process (of the first process seen)
    std::string file;
    int line = 0;
    std::vector<std::string> inlined;  // inline chain at the call site, innermost first
    std::string unnamed_because;       // why `symbol` is empty (symbolizer.h unnamed_because)
    uint64_t calls = 0;
    // The call came through a clock wrapper (std::chrono's now(), _PyTime_*, ...): the fields above
    // name the first call site outside the wrapper chain (symbol and module empty when it could
    // not be found), these the wrapper's own call of the clock function.
    struct Via {
        std::string name;    // the wrapper, demangled when the symbolizer knows it
        std::string module;
        uint64_t offset = 0;
        std::string file;
        int line = 0;
        uint32_t depth = 0;  // wrapper frames stepped out of
        std::string unnamed_because;  // why `name` is only module+offset (address_namer.h)
    };
    std::optional<Via> via;
    bool python = false;  // a Python call site: symbol is the function, file and line the call's
};

// A call site that ran the clock close to the end of its thread's stack.
struct HeadroomRow {
    std::string function;
    std::string caller;         // named call site
    uint64_t min_headroom = 0;  // bytes between the stack pointer and the end of the stack, lowest seen
    uint64_t calls = 0;         // calls seen with less than format::kHeadroomWatch
    uint64_t need = 0;          // what the vDSO function needs (0: unknown)
    bool warn = false;          // less than the need plus a probing vDSO's page
};

struct UnattributedRow {
    std::string function;
    std::string clock;
    uint64_t calls = 0;
};

struct ThreadRow {
    int pid = 0;
    int tid = 0;
    std::string name;
    bool exited = false;
    bool shared = false;
    uint64_t calls = 0;
};

// Something a process's numbers do not say by themselves (a table that filled up, ...).
struct ProcessNote {
    enum Kind {
        kThreadsFull,          // every thread slot was busy: `calls` counted together
        kModulesFull,          // the module table filled up: some callers are bare addresses
        kRetiredFull,          // more call sites of unloaded libraries than their table (`capacity`) holds
        kCpuSlots,             // a static program counted per CPU, not per thread
        kRuntimeUnread,        // a runtime (`name`) whose frames were not read, and why (`reason`)
        kVdsoRedirectRefused,  // the vDSO could not be redirected: direct calls not counted
        kUnnamedJit,           // `calls` from code in no module, unnamed (`perf_map`: the process left one)
        kGrowthFailed,         // the recording could not grow: later threads counted together, names lost
    } kind;
    uint64_t capacity = 0;
    uint64_t calls = 0;
    std::string name, reason;
    bool perf_map = false;
};

struct ProcessRow {
    int pid = 0;
    int ppid = 0;
    std::string exe;
    std::vector<std::string> argv;
    std::string session;
    ProcessFate fate = ProcessFate::kRunning;
    int exit_value = 0;
    int reaped_by = 0;     // the traced parent whose wait() recorded how it ended (0: itself, or `run`)
    double seconds = 0;    // from the first recorded call to the end (or now)
    bool seconds_at_least = false;  // nobody saw it end: `seconds` runs to its last recorded activity
    uint64_t calls = 0;
    std::string source;    // the file read
    std::vector<ProcessNote> notes;  // capacity problems and the like
    std::optional<CrashReport> crash;  // a fault inside the vDSO or the shim
    std::vector<std::string> routes;   // "clock_gettime=syscall", functions not sent to the vDSO
    // "redirected": the vDSO's symbols led to the shim, so calls that bypass libc (Go's runtime)
    // were counted; "refused": the program needed that but the vDSO could not be changed; "".
    std::string vdso_redirect;
    std::vector<ClockRow> counters;  // this process's calls per function and clock, by calls
    std::string segment_id;          // 16 hex digits (the end of the recording's name)
    std::string parent_segment_id;   // the forking parent's recording, "" when not known
    std::string previous_image_id;   // the recording of the image this one replaced by exec
    uint64_t start_monotonic_ns = 0;
};

struct Report {
    std::string session;
    uint64_t total_calls = 0;
    double seconds = 0;                 // wall time the recordings span
    bool seconds_at_least = false;      // they span at least that: the last to end was killed unseen
    std::vector<FunctionRow> functions; // all five, in format order
    std::vector<ClockRow> clocks;       // clock buckets with calls, by calls
    std::vector<CallerRow> callers;     // by calls, descending
    std::vector<UnattributedRow> unattributed;
    std::vector<ThreadRow> threads;
    std::vector<ProcessRow> processes;
    StackReport stacks;                 // sampled stacks (VDSOTRACE_SAMPLE / run --sample)
    FallbackReport fallbacks;           // calls that entered the kernel
    std::vector<HeadroomRow> headroom;  // lowest first
};

std::string clock_name(int bucket);
int clock_id_of_bucket(int bucket);

// Builds the report from the recordings and the facts about the machine reading them (default:
// none known, as for a recording read elsewhere). `filter` applies to the sampled stacks only.
Report build_report(const std::vector<Recording>& recordings, const MachineFacts& machine = {},
                    const StackFilter& filter = {});

}  // namespace vdsotrace::tools
