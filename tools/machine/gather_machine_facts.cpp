#include "tools/machine/gather_machine_facts.h"

#include <time.h>

#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "tools/machine/measure_clock_facts.h"
#include "tools/recordings/recording_store.h"
#include "tools/vdso_doctor/vdso_inspect.h"
#include "tracer/common/clock_now.h"
#include "tracer/common/vdso_image.h"

namespace vdsotrace::tools {

namespace f = vdsotrace::format;

namespace {

std::string live_thread_name(int pid, int tid) {
    std::ifstream comm(fmt::format("/proc/{}/task/{}/comm", pid, tid));
    std::string name;
    return std::getline(comm, name) ? name : "";
}

// The cheaper clock a report may suggest for calls of clock `bucket` that entered the kernel.
bool may_suggest(int clock_id) {
    return clock_id == CLOCK_REALTIME_COARSE || clock_id == CLOCK_MONOTONIC_COARSE || clock_id == CLOCK_REALTIME ||
           clock_id == CLOCK_BOOTTIME || clock_id == CLOCK_MONOTONIC;
}

// This process's [vDSO] mapping, copied whole (as the doctor's inspect_vdso does, without its
// /proc/self/smaps read, which walks the page tables of every mapping: a few ms of every report).
bool own_vdso_image(std::vector<unsigned char>* image) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        if (line.size() < 6 || line.compare(line.size() - 6, 6, "[vdso]") != 0) continue;
        unsigned long long start = 0, end = 0;
        if (sscanf(line.c_str(), "%llx-%llx", &start, &end) != 2 || end <= start) return false;
        const auto* p = reinterpret_cast<const unsigned char*>(uintptr_t(start));
        image->assign(p, p + (end - start));
        return true;
    }
    return false;
}

}  // namespace

MachineFacts gather_machine_facts(const std::vector<Recording>& recordings) {
    MachineFacts facts;
    facts.now_monotonic_ns = now_ns(CLOCK_MONOTONIC);
    bool stack_questions = false;
    for (const Recording& r : recordings) {
        stack_questions = stack_questions || r.crash || !r.headroom.empty();
        if (fate_of(r) != ProcessFate::kRunning) continue;
        facts.running.insert(r.source);
        for (const ThreadInfo& t : r.threads)
            if (!t.exited && !t.shared && !t.recycled)
                if (std::string name = live_thread_name(r.pid, t.tid); !name.empty())
                    facts.thread_names[{r.pid, t.tid}] = name;
    }
    for (int id : {CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE}) {
        timespec res{};
        if (clock_getres(id, &res) == 0) facts.resolution_ns[id] = timespec_ns(res);
    }
    if (recordings.empty()) return facts;
    if (!own_vdso_image(&facts.vdso_image)) return facts;
    vdso::Image live;
    if (vdso::parse_live(&live) == vdso::ParseError::kNone) facts.vdso_base = uint64_t(reinterpret_cast<uintptr_t>(live.base));

    // The fallback section classifies the first recording's calls with this machine's clocks.
    const Recording& first = recordings.front();
    if (facts.same_vdso(first)) {
        std::vector<std::pair<int, int>> called;  // (function, bucket) with calls, over all recordings
        for (unsigned c = 0; c < f::kCounterSlots; ++c) {
            uint64_t n = 0;
            for (const Recording& r : recordings)
                for (const ThreadInfo& t : r.threads) n += t.counts[c];
            if (n) called.push_back({f::counter_function(c), f::counter_bucket(c)});
        }
        if (!called.empty())
            // Costs are timed only for the calls that entered the kernel, and for the clocks the
            // report may suggest instead: a report of calls the vDSO served costs no timing at all.
            facts.clocks = measure_clock_facts([&](const doctor::ServiceRow& row, const ClockFacts& probed) {
                bool any_kernel = false;
                for (const auto& [fn, bucket] : called) {
                    const KernelEntry why = kernel_entry(first.doctor, fn, bucket, &probed);
                    if (why == KernelEntry::kServed) continue;
                    any_kernel = true;
                    const bool clocked = f::function_takes_clock(fn);
                    if (f::kFunctionNames[fn] == row.function && (!clocked || bucket == row.clock_id)) return true;
                }
                return any_kernel && row.function == "clock_gettime" && may_suggest(row.clock_id);
            });
    }
    bool any_same = false;
    for (const Recording& r : recordings) any_same = any_same || facts.same_vdso(r);
    if (stack_questions && any_same) {
        std::string error;
        if (auto self = doctor::inspect_vdso(0, &error)) facts.vdso_needs = doctor::vdso_needs(*self, true);
    }
    return facts;
}

}  // namespace vdsotrace::tools
