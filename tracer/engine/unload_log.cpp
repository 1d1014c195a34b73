#include "tracer/engine/unload_log.h"

#include "tracer/common/bulk_table.h"

namespace vdsotrace::tracer {

namespace detail {
VDSOTRACE_BULK_TABLE UnloadLogEntry g_unload_log[kUnloadLogEntries];
uint64_t g_unload_log_count;
}  // namespace detail

namespace {
uint32_t g_last_generation;  // written by log_unload only (its callers serialize)
}

uint32_t log_unload(uint32_t module, uintptr_t start, uintptr_t end) {
    using detail::g_unload_log;
    const uint32_t generation = ++g_last_generation;
    const uint64_t count = detail::g_unload_log_count;
    if (count != 0) {
        detail::UnloadLogEntry& last = g_unload_log[(count - 1) % kUnloadLogEntries];
        if (last.event.module == module && last.event.start == start && last.event.end == end) {
            __atomic_store_n(&last.last_generation, generation, __ATOMIC_RELEASE);
            return generation;
        }
    }
    detail::UnloadLogEntry& e = g_unload_log[count % kUnloadLogEntries];
    __atomic_store_n(&e.seq, 2 * count + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&e.first_generation, generation, __ATOMIC_RELAXED);
    __atomic_store_n(&e.last_generation, generation, __ATOMIC_RELAXED);
    __atomic_store_n(&e.event.module, module, __ATOMIC_RELAXED);
    __atomic_store_n(&e.event.start, start, __ATOMIC_RELAXED);
    __atomic_store_n(&e.event.end, end, __ATOMIC_RELAXED);
    __atomic_store_n(&e.seq, 2 * count + 2, __ATOMIC_RELEASE);
    __atomic_store_n(&detail::g_unload_log_count, count + 1, __ATOMIC_RELEASE);
    return generation;
}

}  // namespace vdsotrace::tracer
