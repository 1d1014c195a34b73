// Grows this process's segment as it fills (format 2, segment_format.h "Sized to what it holds").
//
// The whole layout is mapped once; the file backs only what was reserved. Every table that grows
// is reserved as a prefix of its section, entry by entry as entries are claimed: an entry is
// written (and read by the engine) only once its prefix is reserved. Reserving opens the file
// again by name (the shim keeps no descriptor the program could close or see), checks it is the
// file created, checks the file size limit (fallocate past it would raise SIGXFSZ, issue 12), and
// fallocates: the pages exist before they are touched, so a full /dev/shm is a failed reservation,
// never a SIGBUS. A failure sets format::kFlagGrowthFailed and says so once on stderr; each caller
// has somewhere else to count (the exited-threads slot, "no module", the call site itself).
//
// Slow paths only (a new thread, module, call site, stack): a few system calls, async-signal-safe,
// errno preserved, no allocation.
#pragma once

#include <cstdint>

#include "tracer/engine/segment_create.h"

namespace vdsotrace::tracer {

// Reserves the first `bytes` bytes of a growing section that starts at `section` and holds
// `section_bytes`, recording it in `*reserved` (one of the Segment::*_reserved counters). True when
// they are backed (at once when they were already, or when the segment is not growable).
//
// The check is inline and the growth out of line: callers sit on the deepest paths of a thread's
// first clock call and of a sample, where a frame pushed for nothing costs the program stack.
bool grow_prefix(Segment* seg, uint64_t* reserved, const void* section, uint64_t bytes, uint64_t section_bytes);
inline bool reserve_prefix(Segment* seg, uint64_t* reserved, const void* section, uint64_t bytes,
                           uint64_t section_bytes) {
    if (!__atomic_load_n(&seg->growable, __ATOMIC_ACQUIRE) || bytes <= __atomic_load_n(reserved, __ATOMIC_ACQUIRE)) return true;
    return grow_prefix(seg, reserved, section, bytes, section_bytes);
}

// The same for entry `index` (and every entry before it) of a section of `entry_size` entries.
inline bool reserve_entry(Segment* seg, uint64_t* reserved, const void* section, uint64_t index, uint64_t entry_size,
                          uint64_t capacity) {
    return reserve_prefix(seg, reserved, section, (index + 1) * entry_size, capacity * entry_size);
}

// Entries of a section whose prefix is reserved (all of them when the segment is not growable).
// Inline: read in lookups on the hot side of slow paths (is this module known?), where a call
// would push below their whole frame.
inline uint64_t reserved_entries(const Segment& seg, const uint64_t* reserved, uint64_t entry_size, uint64_t capacity) {
    if (!__atomic_load_n(&seg.growable, __ATOMIC_ACQUIRE)) return capacity;
    const uint64_t n = __atomic_load_n(reserved, __ATOMIC_ACQUIRE) / entry_size;
    return n < capacity ? n : capacity;
}

// Reserves [p, p + bytes) once for the segment's life: `*ready` becomes 1 on success.
bool grow_once(Segment* seg, uint32_t* ready, const void* p, uint64_t bytes);
inline bool reserve_once(Segment* seg, uint32_t* ready, const void* p, uint64_t bytes) {
    if (!__atomic_load_n(&seg->growable, __ATOMIC_ACQUIRE) || __atomic_load_n(ready, __ATOMIC_ACQUIRE) != 0) return true;
    return grow_once(seg, ready, p, bytes);
}

// Backs the whole layout at once and stops growing (a seccomp filter is about to be installed:
// growth's system calls may be forbidden from then on). False when it could not (then growth
// goes on as before).
bool reserve_whole(Segment* seg);

}  // namespace vdsotrace::tracer
