// The counting half of the trampoline injected into statically linked programs (see
// ../static_inject.h). Runs inside a program that owns %fs (static glibc, the Go runtime), on any
// stack, in any thread, in signal handlers: no libc, no TLS, no globals written, a few words of
// stack. Every call is counted with locked atomics, the way the shim's recorder counts threads
// beyond capacity (tracer/recorder.h count_into<true>): without TLS no per-thread slot can be
// found, so the unlocked single-writer path is out of reach. The slot is that of the CPU the call
// runs on (format::kFlagCpuSlots), so threads on different CPUs do not share a cache line; the
// cost of the `lock` prefix is measured in the README.
#include "../trampoline_abi.h"

namespace {

using vdsotrace::format::CallerEntry;
namespace format = vdsotrace::format;
namespace go = vdsotrace::tracer::go;

inline constexpr unsigned kMaxProbes = 8;  // as tracer::detail::kMaxProbes

using vdsotrace::inject::TrampolineData;

// Walks out of libc's clock wrappers (see WrapperRow): `ret` is a return address and `slot` where
// it is stored on the stack; returns the first return address outside them.
uintptr_t skip_wrappers(const volatile TrampolineData& d, uintptr_t ret, uintptr_t slot) {
    const uint32_t rows = d.wrapper_count < vdsotrace::inject::kMaxWrapperRows ? d.wrapper_count
                                                                               : vdsotrace::inject::kMaxWrapperRows;
    const uint64_t lo = d.wrappers_begin, hi = d.wrappers_end;
    for (unsigned depth = 0; depth < vdsotrace::inject::kMaxWrapperFrames; ++depth) {
        if (ret < lo || ret >= hi) break;
        uint32_t i = 0;
        while (i < rows && !(ret >= d.wrappers[i].begin && ret - d.wrappers[i].begin < d.wrappers[i].length)) ++i;
        if (i == rows) break;
        // The stack pointer after `ret` returns is slot + 8, the CFA lies cfa_offset above it,
        // and the wrapper's own return address 8 below the CFA.
        slot = slot + d.wrappers[i].cfa_offset;
        ret = *reinterpret_cast<const uintptr_t*>(slot);
    }
    return ret;
}

// The CPU this thread runs on (it may have moved by the time the count lands: the counts are
// atomic, so a moved thread only shares a line for that one call).
uint32_t current_cpu(uint32_t mode) {
    uint64_t aux = 0;
    if (mode == vdsotrace::inject::kCpuIdRdpid) {
        asm volatile("rdpid %0" : "=r"(aux));
    } else if (mode == vdsotrace::inject::kCpuIdRdtscp) {
        uint32_t lo, hi, c;
        asm volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(c));
        aux = c;
    }
    return uint32_t(aux & 0xfff);
}

}  // namespace

extern "C" {

extern const volatile vdsotrace::inject::TrampolineData vt_data __attribute__((visibility("hidden")));

// Called by the entries in entries.S: `fn` (format::Function), the first argument of the call
// (the clock id for clock_gettime and clock_getres: an int, whose register's upper half is
// undefined), the return address, the caller's %rbp and where the return address is stored.
__attribute__((visibility("hidden"), used)) void vt_count(unsigned fn, int clock_id, uintptr_t ret, uintptr_t fp,
                                                                uintptr_t ret_slot) {
    auto* slot = reinterpret_cast<unsigned char*>(vt_data.shared_slot);
    if (slot == nullptr) return;
    if (const uint32_t slots = vt_data.cpu_slot_count; slots != 0) {
        uint32_t cpu = current_cpu(vt_data.cpu_id_mode);
        if (cpu >= slots) cpu %= slots;  // CPUs brought online after the start
        slot = reinterpret_cast<unsigned char*>(vt_data.cpu_slots + uint64_t(cpu) * vt_data.slot_size);
    }
    const unsigned counter =
        format::counter_index(int(fn), format::function_takes_clock(int(fn)) ? format::clock_bucket(clock_id) : 0);
    // Go: walk past the runtime's time functions to the Go code that asked (no-op for C).
    const auto& plumbing = const_cast<const go::Plumbing&>(vt_data.plumbing);
    // C: walk out of libc's wrappers (no-op for Go, which has none).
    const uintptr_t caller = skip_wrappers(vt_data, go::attribute_caller(plumbing, ret, fp), ret_slot);
    const uint64_t mask = vt_data.caller_mask;

    auto* callers = reinterpret_cast<CallerEntry*>(slot + format::kSlotCallersOffset);
    const uint64_t key = format::caller_key(counter, caller);
    // The recorder's first_probe(): the reader scans the whole table, any start would do.
    uint64_t i = ((caller >> 1) ^ (caller >> 9) ^ (counter * 0x9E37u)) & mask;
    for (unsigned probe = 0; probe < kMaxProbes; ++probe, i = (i + 1) & mask) {
        CallerEntry& e = callers[i];
        uint64_t seen = __atomic_load_n(&e.key, __ATOMIC_RELAXED);
        if (seen == 0) {
            uint64_t expected = 0;
            seen = __atomic_compare_exchange_n(&e.key, &expected, key, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)
                       ? key
                       : expected;
        }
        if (seen == key) {
            __atomic_fetch_add(&e.count, 1, __ATOMIC_RELAXED);
            return;
        }
    }
    auto* unattributed = reinterpret_cast<uint64_t*>(slot + format::kSlotUnattributedOffset);
    __atomic_fetch_add(&unattributed[counter], 1, __ATOMIC_RELAXED);
}

}  // extern "C"
