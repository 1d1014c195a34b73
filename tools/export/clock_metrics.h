// The export's model: the live recordings of the machine as metric families (exposition.h), one
// recording at a time, so a thousand recordings never sit in memory together.
//
// Series per process (labels exe, pid, session):
//   vdsotrace_calls_total{function,clock}          every counted call
//   vdsotrace_kernel_calls_total{function,clock,reason}  those that entered the kernel (kernel_entry.h)
//   vdsotrace_caller_calls_total{function,clock,caller}  the top N call sites (bounded cardinality)
//   vdsotrace_overflow_calls_total, vdsotrace_unattributed_calls_total,
//   vdsotrace_lost_samples_total{reason}, vdsotrace_threads_full, vdsotrace_modules_full,
//   vdsotrace_process_start_time_seconds             the recording's health and identity
// and for the export itself: vdsotrace_export_recordings, vdsotrace_export_unreadable_recordings,
// vdsotrace_clocksource_kernel_fallback.
//
// Counters are the recording's own u64 counts. A live read may catch an exiting thread's calls
// in both its slot and the exited-threads slot, or in neither, for an instant (tracer/recorder.cpp
// recycle_slot): one ClockMetrics kept across exports (`export --interval`) therefore never lets
// a series go below what it exported before for the same process, so Prometheus never sees a
// counter reset while the process lives.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tools/export/exposition.h"
#include "tools/export/kernel_entry.h"
#include "tools/report/live_rates.h"
#include "tools/recordings/segment_reader.h"

namespace vdsotrace::tools {

class ClockMetrics {
public:
    explicit ClockMetrics(size_t max_callers);

    // Starts an export with this machine's kernel-entry rules.
    void begin(const KernelEntryRules& rules);
    // Adds one live recording. `identity` tells processes apart beyond their labels (pids are
    // reused): the recording's file name, unique per process.
    void add(const Recording& r, const std::string& identity);
    // A recording that could not be read this time (removed or half-written while listed).
    void count_unreadable() { ++unreadable_; }
    // The families of this export, in a fixed order; series of processes gone since the last
    // export are forgotten.
    std::vector<exposition::Family> finish();

    // Names call sites; cached across exports. Replaceable for tests.
    void set_namer(std::function<std::string(const Recording&, uint64_t address)> namer) { namer_ = std::move(namer); }

private:
    void counter(size_t family, const std::string& identity, exposition::Labels labels, uint64_t value);
    void gauge(size_t family, exposition::Labels labels, std::variant<uint64_t, double> value);

    size_t max_callers_;
    KernelEntryRules rules_;
    std::vector<exposition::Family> families_;
    size_t recordings_ = 0;
    size_t unreadable_ = 0;
    std::map<std::string, uint64_t> floor_;  // identity + series -> highest value exported
    std::set<std::string> seen_;             // series keys of this export
    CallerNamer caller_namer_;
    std::function<std::string(const Recording&, uint64_t)> namer_;
};

}  // namespace vdsotrace::tools
