// Libraries unloaded while recording (issue 12, scenario 9), as a numbered log each thread catches
// up with on its own.
//
// A library unloaded by dlclose may be followed by another loaded at the same addresses; a
// thread's caller entries at those addresses must then be retired (their counts moved to the
// retired-callers table under the module they were counted in) before it counts a call of the new
// library there. Only the slot's own thread may do that: its counters are bumped with plain
// increments, and the engine that rewrote other threads' entries from the thread calling dlclose
// lost calls of a thread that had reloaded the library meanwhile. So dlclose appends the unloaded
// module to this log and raises the generation; every thread compares its own generation with it
// on each call (one load and a compare) and, when behind, retires its own entries at the ranges
// logged since, in order, on its slow path.
//
// Consecutive unloads of the same module at the same range (a plugin opened and closed in a
// loop) share one entry: between them no other object was at that range, so retiring once is the
// same as retiring each time. The log keeps the last kUnloadLogEntries entries; a thread further
// behind is told so and retires by the module table instead (unload_log.cpp's caller).
#pragma once

#include <cstdint>

namespace vdsotrace::tracer {

struct UnloadEvent {
    uint32_t module;  // index in the segment's module table
    uintptr_t start;
    uintptr_t end;
};

inline constexpr uint32_t kUnloadLogEntries = 256;

// Appends an unload of `module` covering [start, end) and returns the generation it makes (to be
// published after every unload of one dlclose is logged). Callers serialize (one at a time);
// readers never wait.
uint32_t log_unload(uint32_t module, uintptr_t start, uintptr_t end);

// Calls `fn(const UnloadEvent&)` for every unload logged with a generation above `since`, oldest
// first. False when some of them were overwritten since (the caller fell too far behind) or the
// log changed under the walk: the caller must then retire without the log. No system call, no lock.
template <class Fn>
bool for_each_unload_since(uint32_t since, Fn fn);

namespace detail {
struct UnloadLogEntry {
    uint64_t seq;  // 2 * index + 2 once written; odd while being written
    uint32_t first_generation;
    uint32_t last_generation;  // raised when the same module is unloaded again at the same range
    UnloadEvent event;
};
extern UnloadLogEntry g_unload_log[kUnloadLogEntries];
extern uint64_t g_unload_log_count;  // entries ever appended

// Copies entry `index` if it is still there, complete.
inline bool read_unload_entry(uint64_t index, UnloadLogEntry* out) {
    const UnloadLogEntry& e = g_unload_log[index % kUnloadLogEntries];
    const uint64_t seq = __atomic_load_n(&e.seq, __ATOMIC_ACQUIRE);
    if (seq != 2 * index + 2) return false;
    out->first_generation = __atomic_load_n(&e.first_generation, __ATOMIC_RELAXED);
    out->last_generation = __atomic_load_n(&e.last_generation, __ATOMIC_ACQUIRE);
    out->event.module = __atomic_load_n(&e.event.module, __ATOMIC_RELAXED);
    out->event.start = __atomic_load_n(&e.event.start, __ATOMIC_RELAXED);
    out->event.end = __atomic_load_n(&e.event.end, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(&e.seq, __ATOMIC_RELAXED) == seq;
}
}  // namespace detail

template <class Fn>
bool for_each_unload_since(uint32_t since, Fn fn) {
    const uint64_t count = __atomic_load_n(&detail::g_unload_log_count, __ATOMIC_ACQUIRE);
    const uint64_t oldest = count > kUnloadLogEntries ? count - kUnloadLogEntries : 0;
    // Back from the newest to the first entry this thread has not seen all of.
    uint64_t first = count;
    detail::UnloadLogEntry e{};
    while (first > oldest) {
        if (!detail::read_unload_entry(first - 1, &e)) return false;
        if (e.last_generation <= since) break;
        --first;
    }
    // Entries are numbered in generation order: those before the oldest kept end before its first
    // generation, so they were all seen if that one begins right after `since`.
    if (first == oldest && oldest != 0 && e.first_generation > since + 1) return false;
    for (uint64_t i = first; i < count; ++i) {
        if (!detail::read_unload_entry(i, &e)) return false;
        fn(e.event);
    }
    return true;
}

}  // namespace vdsotrace::tracer
