// Reads a recording (a live segment in /dev/shm or a saved copy) into plain values, after
// checking everything: magic, version, byte order, every size and offset against the file.
// A file this reader does not understand is refused with a message naming what is wrong; it is
// never trusted enough to crash the reader.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "segment_format.h"

namespace vdsotrace::tools {

struct ModuleInfo {
    std::string path;
    uint64_t load_bias = 0;
    uint64_t start = 0;
    uint64_t end = 0;
    std::string build_id;  // lower-case hex
    bool main_program = false;
    bool vdso = false;
};

struct CallerCount {
    unsigned counter = 0;   // format::counter_index
    uint64_t address = 0;   // return address in the traced process
    uint64_t calls = 0;
};

struct ThreadInfo {
    int tid = 0;            // 0 for the shared overflow slot
    std::string name;
    bool exited = false;
    bool shared = false;    // the overflow slot of threads beyond capacity
    std::vector<uint64_t> counts;        // kCounterSlots entries: callers + unattributed
    std::vector<uint64_t> unattributed;  // kCounterSlots entries: calls the caller table had no room for
    std::vector<CallerCount> callers;
    uint64_t total() const;
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
    uint32_t thread_capacity = 0;
    uint32_t caller_capacity = 0;
    uint32_t module_capacity = 0;
    uint64_t threads_claimed = 0;
    uint64_t modules_claimed = 0;
    std::string session;
    std::string exe;
    std::vector<std::string> argv;
    std::vector<ModuleInfo> modules;
    std::vector<ThreadInfo> threads;     // claimed slots, then the shared slot if used
    std::vector<unsigned char> vdso_image;

    std::vector<uint64_t> totals() const;  // per counter, summed over threads
};

// Parses a segment image. Returns the recording, or nullopt with a message in *error.
std::optional<Recording> parse_recording(const std::vector<unsigned char>& bytes, const std::string& source,
                                         std::string* error);

// Reads the file (at most format::kMaxSegmentSize) and parses it. A file owned by another user is
// refused unless `allow_other_users` (root reading a service's recording, on purpose): whoever
// owns it chose its contents. The owner is checked on the opened descriptor, not the path.
std::optional<Recording> load_recording(const std::string& path, std::string* error, bool allow_other_users = false);

}  // namespace vdsotrace::tools
