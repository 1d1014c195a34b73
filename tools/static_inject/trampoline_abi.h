// The contract between the counting trampoline (trampoline/, code copied into a statically linked
// program) and the injector that copies it there and fills its data block (static_inject.cpp).
//
// The trampoline is one flat blob of position-independent code. It starts with this data block;
// the entry points follow. The injector writes the blob into an executable page of the child,
// then fills the fields marked "injector" through /proc/<pid>/mem.
// Freestanding: included by the trampoline, which has no libc.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tools/static_inject/trampoline_layout.h"
#include "tracer/common/go_callers.h"
#include "tracer/format/segment_format.h"

namespace vdsotrace::inject {

inline constexpr uint64_t kTrampolineMagic = 0x31504d4152545456ull;  // "VTTRAMP1"

// A static C program calls the vDSO from libc's own clock_gettime (time, gettimeofday, ...), so
// the return address names libc. The caller worth reporting is that function's return address,
// found through its stack frame: at a return address within [begin, begin + length) of such a
// wrapper, the call frame address (CFA) is the stack pointer + cfa_offset, and the wrapper's
// own return address sits at CFA - 8 (x86_64). The rows come from the program's .eh_frame.
struct WrapperRow {
    uint64_t begin;
    uint32_t length;
    uint32_t cfa_offset;
};
inline constexpr unsigned kMaxWrapperRows = 48;
// The rows are kept in a table of this many entries, each at wrapper_slot() of its address (then
// the next free one): the trampoline finds a row in one or two probes instead of a scan. Rows are
// single return addresses (length 1); an entry of length 0 is free.
inline constexpr unsigned kWrapperSlots = 64;
static_assert((kWrapperSlots & (kWrapperSlots - 1)) == 0 && kWrapperSlots > kMaxWrapperRows);
static_assert(kWrapperSlots == VT_WRAPPER_SLOTS);
// The address's low bits: return addresses differ there, the table resolves what collides, and
// the trampoline's fast path finds a row two instructions after it has the address.
constexpr uint32_t wrapper_slot(uint64_t address) { return uint32_t(address) & (kWrapperSlots - 1); }
// Frames skipped at most (musl: time -> __clock_gettime -> vDSO).
inline constexpr unsigned kMaxWrapperFrames = 3;

// libc functions between a C program and the vDSO (static glibc 2.36, musl 1.2). There is a row
// for the return address of each call they make, so whichever reaches the vDSO is known.
inline constexpr const char* kLibcWrappers[] = {
    "__clock_gettime", "clock_gettime", "__clock_gettime64", "__gettimeofday", "gettimeofday",
    "__gettimeofday64", "time", "__time", "__time64", "__clock_getres", "clock_getres",
    "__clock_getres64", "getcpu", "__getcpu", "sched_getcpu", "cgt_init", "__vdsosym",
};

inline constexpr size_t kTrampolineDataSize = 2048;  // entries.S reserves this much

// A wrapper row kept apart for one function (TrampolineData::usual_wrappers).
struct UsualWrapper {
    uint64_t return_address;
    uint64_t cfa_offset;
};

struct TrampolineData {
    uint64_t magic;                              // kTrampolineMagic (link time)
    uint64_t entries[format::kFunctionCount];    // entry offsets from the blob's start (link time)
    uint64_t shared_slot;                        // injector: the shared thread slot in the child
    uint64_t caller_mask;                        // injector: caller_capacity - 1
    uint64_t original[format::kFunctionCount];   // injector: the vDSO entries to continue to
    tracer::go::Plumbing plumbing;               // injector: Go time plumbing (count 0 for C)
    uint32_t wrapper_count;                      // injector: rows used in wrappers
    uint32_t reserved0;
    WrapperRow wrappers[kWrapperSlots];          // injector: libc's clock wrappers (none for Go), by wrapper_slot()
    // Per-CPU slots (format::kFlagCpuSlots): a call counts in the slot of the CPU it runs on, so
    // threads on different CPUs do not fight over one cache line. 0 slots: the shared slot only.
    uint64_t cpu_slots;                          // injector: address of the first per-CPU slot
    uint64_t slot_size;                          // injector: bytes per thread slot
    uint32_t cpu_slot_count;                     // injector: number of per-CPU slots
    uint32_t cpu_id_mode;                        // injector: CpuIdMode, how to read the CPU number
    // [wrappers_begin, wrappers_end) holds every row: the program's own return addresses, which
    // end every walk, mostly lie outside it and cost one comparison instead of a scan.
    uint64_t wrappers_begin;                     // injector
    uint64_t wrappers_end;                       // injector
    // Static glibc (2.35+) registers a restartable sequence area (rseq) for every thread, at
    // __rseq_offset from the thread pointer once __rseq_size is non-zero; both are set at the
    // program's start, after the exec stop, so the trampoline reads them on each call. Where a
    // thread has one, a call counts in its CPU's slot with a plain add inside a restartable
    // sequence (no `lock`); elsewhere (Go, musl, a stripped program, rseq off) with locked adds.
    uint64_t rseq_offset_at;                     // injector: address of __rseq_offset (0: none)
    uint64_t rseq_size_at;                       // injector: address of __rseq_size
    // The one call to function fn's vDSO entry in libc's wrapper of that name (static glibc's
    // __clock_gettime, __gettimeofday, ...), where nearly every call comes from: the fast path
    // compares its return address with this row's and, when equal, takes the return address the
    // row points to as the caller, with no lookup in `wrappers` and no check that the caller is
    // not another wrapper (the injector sets only wrappers no wrapper calls: choose_usual_wrappers
    // in child_program.h). A return address of 0 (none found) never matches: `wrappers` is searched.
    UsualWrapper usual_wrappers[format::kFunctionCount];  // injector (set_usual_wrapper)
    uint64_t caller_offset_mask;                 // injector (set_caller_mask): caller_mask * sizeof(CallerEntry)
    uint64_t zero;                               // 0: what the fast path reads as __rseq_offset without one
    unsigned char reserved[kTrampolineDataSize - 112 - sizeof(tracer::go::Plumbing) -
                           kWrapperSlots * sizeof(WrapperRow) - 56 - format::kFunctionCount * 16 - 16];
};

// The restartable sequences' descriptors (the kernel's struct rseq_cs) follow the data block in
// the blob, at kTrampolineDataSize (the linker script pins it): the slow path's (trampoline.cpp),
// then one per entry's fast path (entries.S). Their instruction pointers are link-time offsets in
// the blob: the injector adds the blob's address to each before copying it.
struct RseqCs {
    uint32_t version;
    uint32_t flags;
    uint64_t start_ip;
    uint64_t post_commit_offset;
    uint64_t abort_ip;
};
inline constexpr size_t kRseqCsOffset = kTrampolineDataSize;
inline constexpr size_t kRseqCsStride = 32;  // each is aligned to 32 bytes, as the kernel requires
inline constexpr unsigned kRseqCsCount = 1 + format::kFunctionCount;
inline constexpr size_t kRseqOffsetLoadSize = 10;  // movabs moffs64, %rax

// Makes the descriptors of a blob copied to `address` absolute (the injector, and the tests
// that run the blob in their own process).
inline void relocate_rseq_descriptors(unsigned char* blob, size_t size, uint64_t address) {
    for (unsigned i = 0; i < kRseqCsCount; ++i) {
        const size_t at = kRseqCsOffset + i * kRseqCsStride;
        if (at + sizeof(RseqCs) > size) return;
        RseqCs cs;
        __builtin_memcpy(&cs, blob + at, sizeof cs);
        cs.start_ip += address;
        cs.abort_ip += address;
        __builtin_memcpy(blob + at, &cs, sizeof cs);
    }
}

// Each entry's first instruction loads __rseq_offset from an absolute address written into it
// (`movabs ADDRESS, %rax`: REX.W A1 and 8 bytes), one load where reading the address from the data
// block first took two in a row. Points every entry of a blob copied to `address` at
// `rseq_offset_at`, or, for a program without one (0: Go, musl, stripped), at the data block's
// zero word; false when an entry does not start with that instruction (a blob built otherwise).
inline bool point_rseq_offset_loads(unsigned char* blob, size_t size, uint64_t address, uint64_t rseq_offset_at) {
    const uint64_t target = rseq_offset_at != 0 ? rseq_offset_at : address + offsetof(TrampolineData, zero);
    uint64_t entries[format::kFunctionCount];
    __builtin_memcpy(entries, blob + offsetof(TrampolineData, entries), sizeof entries);
    for (uint64_t at : entries) {
        if (at + kRseqOffsetLoadSize > size || blob[at] != 0x48 || blob[at + 1] != 0xa1) return false;
        __builtin_memcpy(blob + at + 2, &target, sizeof target);
    }
    return true;
}

// Everything a copy of the blob at `address` needs before it runs, but the data block's fields.
inline bool place_blob(unsigned char* blob, size_t size, uint64_t address, uint64_t rseq_offset_at) {
    relocate_rseq_descriptors(blob, size, address);
    return point_rseq_offset_loads(blob, size, address, rseq_offset_at);
}

inline void set_caller_mask(TrampolineData& d, uint64_t caller_mask) {
    d.caller_mask = caller_mask;
    d.caller_offset_mask = caller_mask * sizeof(format::CallerEntry);
}

// Function fn's usual wrapper (see TrampolineData::usual_wrappers): `row` must be one of the rows
// given to add_wrapper_row, so that both paths step out of it alike, of a wrapper that no wrapper
// calls (the slow path would walk on from it; the fast path does not look).
inline void set_usual_wrapper(TrampolineData& d, int fn, const WrapperRow& row) {
    d.usual_wrappers[fn] = {row.begin, row.cfa_offset};
}

// How the trampoline learns its CPU: Linux keeps the CPU number in the low 12 bits of TSC_AUX,
// which RDPID reads in a few cycles and RDTSCP along with the clock.
enum CpuIdMode : uint32_t {
    kCpuIdNone = 0,
    kCpuIdRdpid = 1,
    kCpuIdRdtscp = 2,
};
// Fixed where the assembly reads them; the rest is laid out by the compiler for both sides (the
// injector and the trampoline are built from this one header).
static_assert(offsetof(TrampolineData, entries) == 8);
static_assert(offsetof(TrampolineData, shared_slot) == 48);
static_assert(offsetof(TrampolineData, caller_mask) == 56);
static_assert(offsetof(TrampolineData, original) == 64);  // entries.S jumps through these
static_assert(offsetof(TrampolineData, plumbing) == 104);
static_assert(sizeof(tracer::go::Plumbing) % 8 == 0);
static_assert(offsetof(TrampolineData, wrappers) == 112 + sizeof(tracer::go::Plumbing));
static_assert(sizeof(TrampolineData) == kTrampolineDataSize);
// What the assembly fast path reads (trampoline_layout.h).
static_assert(offsetof(TrampolineData, original) == VT_DATA_ORIGINAL);
static_assert(offsetof(TrampolineData, caller_mask) == VT_DATA_CALLER_MASK);
static_assert(offsetof(TrampolineData, plumbing) + offsetof(tracer::go::Plumbing, count) == VT_DATA_PLUMBING_COUNT);
static_assert(offsetof(TrampolineData, wrappers) == VT_DATA_WRAPPERS);
static_assert(sizeof(WrapperRow) == VT_ROW_SIZE && offsetof(WrapperRow, length) == VT_ROW_LENGTH &&
              offsetof(WrapperRow, cfa_offset) == VT_ROW_CFA_OFFSET);
static_assert(offsetof(TrampolineData, cpu_slots) == VT_DATA_CPU_SLOTS);
static_assert(offsetof(TrampolineData, slot_size) == VT_DATA_SLOT_SIZE);
static_assert(offsetof(TrampolineData, cpu_slot_count) == VT_DATA_CPU_SLOT_COUNT);
static_assert(offsetof(TrampolineData, wrappers_begin) == VT_DATA_WRAPPERS_BEGIN);
static_assert(offsetof(TrampolineData, wrappers_end) == VT_DATA_WRAPPERS_END);
static_assert(offsetof(TrampolineData, rseq_offset_at) == VT_DATA_RSEQ_OFFSET_AT);
static_assert(offsetof(TrampolineData, usual_wrappers) == VT_DATA_USUAL_WRAPPERS && sizeof(UsualWrapper) == 16 &&
              offsetof(UsualWrapper, cfa_offset) == VT_USUAL_CFA_OFFSET);
static_assert(offsetof(TrampolineData, caller_offset_mask) == VT_DATA_CALLER_OFFSET_MASK);
static_assert(format::kSlotCallersOffset == VT_SLOT_CALLERS && sizeof(format::CallerEntry) == VT_CALLER_ENTRY_SIZE &&
              offsetof(format::CallerEntry, count) == VT_CALLER_ENTRY_COUNT);
static_assert(format::kClockBuckets == VT_CLOCK_BUCKETS && format::kClockIdBuckets == VT_CLOCK_ID_BUCKETS);
static_assert(format::caller_key(3, ~0ull) == ((uint64_t(4) << 56) | ((uint64_t(1) << VT_CALLER_ADDRESS_BITS) - 1)));
static_assert(format::clock_bucket(VT_CLOCK_ID_BUCKETS - 1) == VT_CLOCK_ID_BUCKETS - 1);

// Puts `row` (length 1) into the table at its slot or the next free one; false when full.
inline bool add_wrapper_row(TrampolineData& d, const WrapperRow& row) {
    if (d.wrapper_count >= kMaxWrapperRows) return false;
    uint32_t i = wrapper_slot(row.begin);
    while (d.wrappers[i].length != 0) i = (i + 1) & (kWrapperSlots - 1);
    d.wrappers[i] = row;
    if (d.wrapper_count == 0 || row.begin < d.wrappers_begin) d.wrappers_begin = row.begin;
    if (d.wrapper_count == 0 || row.begin + row.length > d.wrappers_end) d.wrappers_end = row.begin + row.length;
    ++d.wrapper_count;
    return true;
}

}  // namespace vdsotrace::inject
