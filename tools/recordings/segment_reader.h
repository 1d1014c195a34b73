// Reads a recording (a live segment in /dev/shm or a saved copy) into plain values, after
// checking everything: magic, version, byte order, every size and offset against the file.
// A file this reader does not understand is refused with a message naming what is wrong; it is
// never trusted enough to crash the reader.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tools/recordings/shared_bytes.h"

#include "tracer/format/segment_format.h"

namespace vdsotrace::tools {

class PerfMap;      // perf_map.h
class SymbolTable;  // symbols/symbol_table.h

struct ModuleInfo {
    std::string path;
    uint64_t load_bias = 0;
    uint64_t start = 0;
    uint64_t end = 0;
    std::string build_id;  // lower-case hex
    bool main_program = false;
    bool vdso = false;
    // Unloaded (dlclose) while recording: its range may hold another module. Unloaded modules come
    // last in Recording::modules, so a lookup by address finds the module loaded there now first.
    bool unloaded = false;
};

struct CallerCount {
    unsigned counter = 0;   // format::counter_index
    uint64_t address = 0;   // return address in the traced process (0: not found, through a wrapper)
    uint64_t calls = 0;
    unsigned via = 0;       // 0: a direct call; else 1 + index in Recording::wrapper_sites
    // Index in Recording::modules of the module these calls were made in, for calls made in a
    // library since unloaded (format::RetiredCallerEntry); -1: the module holding `address`.
    int module = -1;
};

// A call site inside a clock wrapper (format::WrapperSiteEntry).
// A Python call site (format::PythonSiteEntry).
struct PythonSiteInfo {
    bool ready = false;
    std::string function;
    std::string file;
    int line = 0;
    int first_line = 0;
};

// An interpreter the shim found (format::RuntimeEntry).
struct RuntimeInfo {
    std::string name;
    uint32_t version = 0;
    bool readable = false;
    std::string reason;  // when not readable
};

struct WrapperSiteInfo {
    uint64_t address = 0;  // return address of the wrapper's call of the clock function
    uint32_t depth = 0;    // wrapper frames stepped out of
    std::string name;      // the wrapper as the shim matched it
};

// Calls of one (function+clock counter, stack) sampled on one thread.
struct StackCountInfo {
    unsigned counter = 0;   // format::counter_index
    uint32_t stack = 0;     // index into SamplingInfo::stacks
    uint64_t calls = 0;
};

// One entry of a thread's ring of recent samples.
struct RingSample {
    uint64_t monotonic_ns = 0;
    int tid = 0;
    unsigned counter = 0;
    uint32_t stack = 0;
};

// What a sample slot says besides its counts: samples by outcome.
struct SampleTotals {
    uint64_t sampled = 0;           // calls whose turn to be sampled came
    uint64_t lost_no_unwinder = 0;  // before the unwinder was loaded, or without one
    uint64_t lost_stacks_full = 0;  // the stack table or frame pool was full
    uint64_t lost_counts_full = 0;  // the thread's stack-count table was full
    uint64_t lost_reentered = 0;    // arrived while the thread was taking a stack (signal handler)
    uint64_t unreadable = 0;        // counted against a stack this reader could not see (live read)
    void add(const SampleTotals& o);
};

struct ThreadInfo {
    uint64_t slot_index = 0; // index of its slot in the thread section
    int tid = 0;            // 0 for the shared overflow slot
    std::string name;
    bool exited = false;
    bool shared = false;    // the overflow slot of threads beyond capacity
    bool recycled = false;  // the calls of exited threads whose slots were reused (ExitedThread)
    std::vector<uint64_t> counts;        // kCounterSlots entries: callers + unattributed
    std::vector<uint64_t> unattributed;  // kCounterSlots entries: calls the caller table had no room for
    std::vector<CallerCount> callers;
    std::vector<StackCountInfo> stack_counts;  // sampled calls per stack (sampling on)
    SampleTotals samples;
    std::vector<RingSample> ring;              // the most recent samples, oldest first
    uint64_t ring_written = 0;                 // samples the thread ever logged in its ring
    uint64_t ring_missed = 0;                  // ring entries found torn or overwritten while read
    uint64_t total() const;
};

struct SamplingInfo {
    bool enabled = false;
    uint32_t period = 0;
    uint32_t max_depth = 0;
    uint32_t unwinder = 0;  // format::Unwinder
    uint32_t flags = 0;     // format::SamplingFlags
    uint32_t stack_capacity = 0;
    uint32_t stacks_claimed = 0;
    uint32_t frame_capacity = 0;
    uint32_t frames_claimed = 0;
    // Indexed by stack id; return addresses, leaf first. Empty for ids not (yet) written.
    std::vector<std::vector<uint64_t>> stacks;
};

// A fault inside the vDSO or the shim, as the shim's handler recorded it (segment_format.h).
struct CrashInfo {
    int signal = 0;
    int code = 0;
    int tid = 0;
    bool in_vdso = false;      // else inside the shim
    uint64_t fault_address = 0;
    uint64_t pc = 0;
    uint64_t sp = 0;
    uint64_t vdso_base = 0;
    bool stack_known = false;
    bool fault_in_guard = false;
    uint64_t stack_start = 0;
    uint64_t stack_end = 0;
    uint64_t monotonic_ns = 0;
    std::vector<uint64_t> returns;       // code addresses above sp, nearest first
    std::vector<uint64_t> return_slots;  // where each was found
    std::vector<uint64_t> stack_words;   // from sp upward
};

// An exited thread whose slot was reused: its name and total; its calls are in the recycled slot.
struct ExitedThread {
    int tid = 0;
    std::string name;
    uint64_t calls = 0;
};

// A caller that ran the clock with little stack left (format::HeadroomEntry).
struct HeadroomInfo {
    unsigned counter = 0;
    uint64_t address = 0;       // return address
    uint64_t min_headroom = 0;  // bytes
    uint64_t calls = 0;
};

struct Recording {
    std::string source;     // the file it came from
    uint16_t minor = 0;
    int pid = 0;
    int ppid = 0;
    uint32_t uid = 0;
    uint32_t flags = 0;
    uint64_t proc_start_ticks = 0;
    uint64_t start_realtime_ns = 0;
    uint64_t start_monotonic_ns = 0;
    uint32_t state = 0;
    int exit_value = 0;
    uint64_t end_monotonic_ns = 0;
    uint64_t end_realtime_ns = 0;
    int reaped_by = 0;                        // the traced parent whose wait() wrote the status
    uint64_t last_activity_monotonic_ns = 0;  // the latest moment the recording proves it alive
    uint32_t thread_capacity = 0;
    uint32_t caller_capacity = 0;
    uint32_t module_capacity = 0;
    uint64_t threads_claimed = 0;
    uint64_t modules_claimed = 0;
    // Process tree (format::ProcessTree): segment ids link the recordings of one session.
    uint64_t segment_id = 0;
    uint64_t parent_segment_id = 0;
    int parent_pid = 0;
    uint32_t tree_flags = 0;
    uint64_t parent_start_ticks = 0;
    uint64_t previous_image_id = 0;
    uint64_t exec_monotonic_ns = 0;
    std::string session;
    std::string exe;
    std::vector<std::string> argv;
    std::vector<ModuleInfo> modules;
    std::vector<ThreadInfo> threads;     // claimed slots, the shared slot if used, the recycled one
    std::vector<ExitedThread> exited_threads;  // the thread log (names of recycled threads)
    uint64_t threads_logged = 0;         // exited threads logged (more than the log's entries: names lost)
    uint64_t thread_log_capacity = 0;
    SharedBytes vdso_image;  // one copy for the recordings of the same vDSO
    SamplingInfo sampling;
    std::optional<CrashInfo> crash;
    std::vector<HeadroomInfo> headroom;
    std::vector<WrapperSiteInfo> wrapper_sites;
    std::vector<PythonSiteInfo> python_sites;    // CallerCount addresses tagged format::kPythonSiteTag
    std::vector<RuntimeInfo> runtimes;           // interpreters found (CPython), readable or not  // indexed by CallerCount::via - 1 (empty names: unused)
    format::DoctorHeader doctor{};       // routes, vDSO functions, crash handlers
    // Names of the JIT-compiled code the process listed in its perf map (jit_symbols.h): the copy
    // kept with the recording, else the live /tmp/perf-PID.map; null when there is none.
    std::shared_ptr<const PerfMap> perf_map;
    // Names of its call sites and sampled frames resolved at the end of `run` (a recording file
    // carries them, recording_file.h), used before the module files; null when there are none.
    std::shared_ptr<SymbolTable> symbols;

    std::vector<uint64_t> totals() const;  // per counter, summed over threads
};

// Parses a segment image. Returns the recording, or nullopt with a message in *error.
std::optional<Recording> parse_recording(const std::vector<unsigned char>& bytes, const std::string& source,
                                         std::string* error);

// Reads a whole regular file of at most format::kMaxSegmentSize (a segment or an archive of them)
// with pread. A file owned by another user is refused unless `allow_other_users` (root reading a
// service's recording, on purpose): whoever owns it chose its contents. The owner is checked on
// the opened descriptor, not the path.
bool read_recording_file(const std::string& path, std::vector<unsigned char>* bytes, std::string* error,
                         bool allow_other_users = false);

// Reads the file and parses it (same limits and ownership rule).
std::optional<Recording> load_recording(const std::string& path, std::string* error, bool allow_other_users = false);

// The same without the sampled stacks (no stacks, frames or sample slots are read, and the
// Recording has none), for listings: those sections can be nearly all of a recording (270 of
// 282 MB with 256 threads at the largest count tables), which `ls` and `top` never show.
std::optional<Recording> load_recording_summary(const std::string& path, std::string* error);

}  // namespace vdsotrace::tools
