// Finding or claiming a call site's entry in a thread slot's caller table, for every writer: the
// engine's cold paths (tracer/engine/recorder.cpp) and the trampoline injected into statically
// linked programs (tools/static_inject/trampoline/) call find_caller_entry; the engine's hot path
// (recorder.h count_into) writes the same walk out over caller_first_probe and kCallerMaxProbes,
// because through the routine GCC 12 gives every interposed call 16 bytes more frame. So where an
// entry lives and how far a writer looks for it cannot differ between writers. Readers scan the
// whole table.
//
// Header-only and freestanding (no libc, no globals, no TLS): the trampoline is built with
// -ffreestanding -nostdlib and runs inside programs that own %fs.
#pragma once

#include <cstdint>

#include "tracer/format/segment_format.h"

namespace vdsotrace::format {

// Entries probed before a call is given up on for attribution (it is still counted, as
// unattributed: format::kSlotUnattributedOffset).
inline constexpr unsigned kCallerMaxProbes = 8;

// Where the probe for (counter, caller) starts. Return addresses of distinct call sites differ in
// their low bits; two shifts and xors mix them well enough for a table this small, in a third of
// a multiply-and-shift's latency. `mask`: the table's capacity - 1 (a power of two).
__attribute__((always_inline)) inline uint32_t caller_first_probe(unsigned counter, uint64_t caller, uint64_t mask) {
    return uint32_t(((caller >> 1) ^ (caller >> 9) ^ (counter * 0x9E37u)) & mask);
}

// Where find_caller_entry stopped: `entry` null when the table had no room for the site, else
// the entry and the key it holds (the call's key, or the mark).
struct CallerMatch {
    CallerEntry* entry;
    uint64_t key;
};

// Walks the probe sequence from entry `start` (caller_first_probe on the hot path; any start is
// correct, since readers scan the whole table) in `table`: the first entry whose key is `key` or
// `mark` is the match; an empty entry met on the way is claimed for `claim_key()` with
// `cas(&entry.key, 0, desired)` (returning the key seen before), and `on_claimed()` runs when
// this call's claim won. No entry after kCallerMaxProbes entries: the table has no room for the site.
// `mark` is a second key the writer may store for the site (the engine's wrapper mark); pass
// `key` when there is none.
template <typename Cas, typename ClaimKey, typename OnClaimed>
__attribute__((always_inline)) inline CallerMatch find_caller_entry(CallerEntry* table, uint64_t mask, uint64_t start,
                                                                     uint64_t key, uint64_t mark, Cas cas,
                                                                     ClaimKey claim_key, OnClaimed on_claimed) {
    uint64_t i = start & mask;
    for (unsigned probe = 0; probe < kCallerMaxProbes; ++probe, i = (i + 1) & mask) {
        CallerEntry& e = table[i];
        uint64_t seen = __atomic_load_n(&e.key, __ATOMIC_RELAXED);
        if (seen == 0) {
            const uint64_t claim = claim_key();
            seen = cas(&e.key, uint64_t(0), claim);
            if (seen == 0) {
                on_claimed();
                seen = claim;
            }
        }
        if (seen == key || seen == mark) return {&e, seen};
    }
    return {nullptr, 0};
}

}  // namespace vdsotrace::format
