// The counting half of the trampoline injected into statically linked programs (see
// ../static_inject.h). Runs inside a program that owns %fs (static glibc, the Go runtime), on any
// stack, in any thread, in signal handlers: no libc, no TLS of its own, no globals written, a few
// words of stack. Without TLS no per-thread slot can be found, so calls count in the slot of the
// CPU they run on (format::kFlagCpuSlots): threads on different CPUs do not share a cache line.
// Where the thread has an rseq area (static glibc 2.35+), the count is a plain add inside a
// restartable sequence that the kernel restarts if the thread is preempted, migrated or
// signalled before it (librseq's per-CPU counter); elsewhere a locked add, the way the shim's
// recorder counts threads beyond capacity (tracer/engine/recorder.h count_into<true>). Caller
// entries are found and claimed by the routine the engine uses too (tracer/format/caller_table.h), with
// a locked cmpxchg (once per call site and CPU).
#include "tools/static_inject/trampoline_abi.h"
#include "tracer/format/caller_table.h"

namespace {

using vdsotrace::format::CallerEntry;
namespace format = vdsotrace::format;
namespace go = vdsotrace::tracer::go;

using vdsotrace::inject::TrampolineData;

// Walks out of libc's clock wrappers (see WrapperRow): `ret` is a return address and `slot` where
// it is stored on the stack; returns the first return address outside them.
uintptr_t skip_wrappers(const volatile TrampolineData& d, uintptr_t ret, uintptr_t slot) {
    using vdsotrace::inject::kWrapperSlots;
    const uint64_t lo = d.wrappers_begin, hi = d.wrappers_end;
    for (unsigned depth = 0; depth < vdsotrace::inject::kMaxWrapperFrames; ++depth) {
        if (ret < lo || ret >= hi) break;
        uint32_t i = vdsotrace::inject::wrapper_slot(ret);
        unsigned probe = 0;
        for (; probe < kWrapperSlots && d.wrappers[i].length != 0 && d.wrappers[i].begin != ret; ++probe)
            i = (i + 1) & (kWrapperSlots - 1);
        if (probe == kWrapperSlots || d.wrappers[i].length == 0) break;
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

// The kernel's struct rseq, as far as the trampoline reads and writes it.
struct RseqArea {
    uint32_t cpu_id_start;
    int32_t cpu_id;  // negative: not registered (-1) or registration failed (-2)
    uint64_t rseq_cs;
};

// This thread's rseq area, or null when the program has none (not static glibc 2.35+, rseq
// turned off by GLIBC_TUNABLES, or called before glibc registered it: both variables are 0
// until then, and so is the thread pointer, which is not read before).
RseqArea* rseq_area(const volatile vdsotrace::inject::TrampolineData& d) {
    const uint64_t offset_at = d.rseq_offset_at;
    if (offset_at == 0) return nullptr;
    const uint32_t size = *reinterpret_cast<const volatile uint32_t*>(d.rseq_size_at);
    const int64_t offset = *reinterpret_cast<const volatile int64_t*>(offset_at);
    if (size == 0 || offset == 0) return nullptr;
    uintptr_t tp;  // x86_64 TCB: its first word points to itself
    asm volatile("mov %%fs:0, %0" : "=r"(tp));
    return reinterpret_cast<RseqArea*>(tp + uint64_t(offset));
}

// Adds 1 to `*count`, the counter in the slot of CPU `cpu`, with a plain `incq` that commits a
// restartable sequence; true when it did. False, having added nothing, when the thread no longer
// runs on `cpu` or the kernel aborted the sequence (preemption, migration, a signal): the caller
// picks the slot again. It must not add to this slot with `lock` instead: that add would run on
// another CPU, at the same time as a plain add on this one, and one of the two would be lost (the
// flaky CountsPerCpuInARestartableSequenceExactly lost one call in 4 million that way). One call
// site only: its labels are global (the descriptor after the data block names them; see
// trampoline.ld).
__attribute__((always_inline)) inline bool count_in_sequence(RseqArea* rs, int32_t cpu, uint64_t* count) {
    asm goto(
        "lea vt_rseq_cs(%%rip), %%rax\n\t"
        "mov %%rax, 8(%[rs])\n\t"  // rs->rseq_cs = &descriptor: the sequence begins
        ".globl vt_rseq_start\n\t.hidden vt_rseq_start\n"
        "vt_rseq_start:\n\t"
        "cmpl %[cpu], 4(%[rs])\n\t"  // still on the CPU whose slot holds `count`?
        "jne %l[aborted]\n\t"
        "incq (%[count])\n"  // the commit: the sequence's last instruction
        ".globl vt_rseq_commit\n\t.hidden vt_rseq_commit\n"
        "vt_rseq_commit:\n\t"
        // Done: the kernel must not read the descriptor again (a test unmaps it; so might a
        // program that unmaps our page, e.g. closing every mapping it does not know).
        "movq $0, 8(%[rs])\n\t"
        ".pushsection .text.vt_rseq_abort, \"ax\"\n\t"
        // The abort handler must follow the signature glibc registered (RSEQ_SIG, 0x53053053),
        // here inside a harmless ud1 instruction, as librseq does.
        ".byte 0x0f, 0xb9, 0x3d\n\t.long 0x53053053\n"
        ".globl vt_rseq_abort\n\t.hidden vt_rseq_abort\n"
        "vt_rseq_abort:\n\t"
        "jmp %l[aborted]\n\t"
        ".popsection\n\t"
        ".pushsection .tramp.rseq, \"a\"\n\t"
        ".balign 32\n"
        ".globl vt_rseq_cs\n\t.hidden vt_rseq_cs\n"
        "vt_rseq_cs:\n\t"
        ".long 0, 0\n\t"
        ".quad vt_rseq_start, vt_rseq_commit - vt_rseq_start, vt_rseq_abort\n\t"
        ".popsection"
        :
        : [rs] "r"(rs), [cpu] "r"(cpu), [count] "r"(count)
        : "rax", "memory", "cc"
        : aborted);
    return true;
aborted:
    // Left by the CPU check the descriptor is still set (the kernel clears it when it aborts).
    __atomic_store_n(&rs->rseq_cs, 0, __ATOMIC_RELAXED);
    return false;
}

// The counter of (counter, caller) in `slot`: its caller entry, found or claimed (with a locked
// cmpxchg, the first time) by the format's routine, or the slot's unattributed counter when the
// probes find no room. Inlined: a call per count costs static programs several ns.
__attribute__((always_inline)) inline uint64_t* counter_in(unsigned char* slot, unsigned counter, uintptr_t caller,
                                                          uint64_t mask) {
    auto* callers = reinterpret_cast<CallerEntry*>(slot + format::kSlotCallersOffset);
    const uint64_t key = format::caller_key(counter, caller);
    const format::CallerMatch found = format::find_caller_entry(
        callers, mask, format::caller_first_probe(counter, caller, mask), key, key,
        [](uint64_t* p, uint64_t expected, uint64_t desired) {
            __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
            return expected;
        },
        [key] { return key; }, [] {});
    if (found.entry != nullptr) return &found.entry->count;
    return reinterpret_cast<uint64_t*>(slot + format::kSlotUnattributedOffset) + counter;
}

// Sequences aborted in a row before a call gives up on its CPU's slot and counts in the shared
// one (each abort needs a preemption, migration or signal inside a few instructions).
inline constexpr unsigned kMaxRestarts = 16;

}  // namespace

extern "C" {

extern const volatile vdsotrace::inject::TrampolineData vt_data __attribute__((visibility("hidden")));

// Called by the entries in entries.S: `fn` (format::Function), the first argument of the call
// (the clock id for clock_gettime and clock_getres: an int, whose register's upper half is
// undefined), the return address, the caller's %rbp and where the return address is stored.
__attribute__((visibility("hidden"), used)) void vt_count(unsigned fn, int clock_id, uintptr_t ret, uintptr_t fp,
                                                                uintptr_t ret_slot) {
    auto* const shared = reinterpret_cast<unsigned char*>(vt_data.shared_slot);
    if (shared == nullptr) return;
    const unsigned counter =
        format::counter_index(int(fn), format::function_takes_clock(int(fn)) ? format::clock_bucket(clock_id) : 0);
    // Go: walk past the runtime's time functions to the Go code that asked (no-op for C).
    const auto& plumbing = const_cast<const go::Plumbing&>(vt_data.plumbing);
    // C: walk out of libc's wrappers (no-op for Go, which has none).
    const uintptr_t caller = skip_wrappers(vt_data, go::attribute_caller(plumbing, ret, fp), ret_slot);
    const uint64_t mask = vt_data.caller_mask;

    const uint32_t slots = vt_data.cpu_slot_count;
    if (slots == 0) {
        __atomic_fetch_add(counter_in(shared, counter, caller, mask), 1, __ATOMIC_RELAXED);
        return;
    }
    // Where the program registered rseq, a CPU's slot is written only by sequences committed on
    // that CPU (plain adds); any other add, made from whichever CPU, would race with them, so a
    // thread that cannot use a sequence counts in the shared slot, with `lock`. Elsewhere (Go,
    // musl, rseq off) every add is locked and the CPU read by RDPID/RDTSCP picks the slot.
    if (RseqArea* rs = rseq_area(vt_data)) {
        for (unsigned restart = 0; restart < kMaxRestarts; ++restart) {
            const int32_t cpu = __atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED);
            if (cpu < 0 || uint32_t(cpu) >= slots) break;  // not registered, or a CPU brought online later
            auto* slot = reinterpret_cast<unsigned char*>(vt_data.cpu_slots + uint64_t(cpu) * vt_data.slot_size);
            if (count_in_sequence(rs, cpu, counter_in(slot, counter, caller, mask))) return;
        }
        __atomic_fetch_add(counter_in(shared, counter, caller, mask), 1, __ATOMIC_RELAXED);
        return;
    }
    uint32_t cpu = current_cpu(vt_data.cpu_id_mode);
    if (cpu >= slots) cpu %= slots;  // CPUs brought online after the start
    auto* slot = reinterpret_cast<unsigned char*>(vt_data.cpu_slots + uint64_t(cpu) * vt_data.slot_size);
    __atomic_fetch_add(counter_in(slot, counter, caller, mask), 1, __ATOMIC_RELAXED);
}

}  // extern "C"
