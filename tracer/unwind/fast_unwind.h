// The sampler's default unwinder: a walk by call frame information at about the cost of a
// frame-pointer walk, for programs built without frame pointers (issue 16).
//
// The rule for each code address (eh_frame_rules.h: CFA = SP or FP + offset, the return address
// at CFA - 8, the caller's FP unchanged or saved at CFA + offset) is worked out once per process,
// the first time the address is met, and kept in a lock-free table; a step is then one lookup and
// one or two loads from the stack. Modules are found with _dl_find_object (lock-free, no system
// call), once per module change along a stack, which also keeps a rule from outliving its module
// (rules are kept per module, by offset). Signal frames are recognised by the kernel's sigreturn
// trampoline (`mov $15, %rax; syscall`, glibc's and musl's __restore_rt) and stepped through with
// the registers the kernel saved. Every stack read stays within the range the caller gives (the
// thread's stack from the first frame up), and each frame must lie above the previous one.
//
// What it cannot express (code without unwind tables, such as JIT-compiled code; a CFA rule that
// is a DWARF expression, as in stack-realigning functions and PLT stubs interrupted by a signal;
// a stack it would have to leave) makes it return kNeedsLibunwind: the sampler then takes the
// stack with libunwind, the reference, so the result is the same either way.
//
// A thread's walks may keep a cache (WalkCache, below): its rules by return address, and its last
// walk, given again while its start and every stack word it read are unchanged.
//
// Allocation-free, lock-free and without system calls once prepare() has run: safe on the shim's
// slow path from any context, signal handlers included.
#pragma once

#include <cstdint>

namespace vdsotrace::tracer::unwind {

// Maps the rule table. Start-up only (the sampler's start, before any sample). False when it
// could not be mapped: backtrace() then always returns kNeedsLibunwind.
bool prepare();

struct StartFrame {
    uintptr_t pc;  // a return address (the clock call's caller)
    uintptr_t sp;  // the stack pointer once returned to pc (the callee's CFA)
    uintptr_t fp;  // the frame pointer register at pc
};

inline constexpr int kNeedsLibunwind = -1;

// What a thread's last walk looked up first, kept by the caller from one walk to the next (the
// sampler keeps it in the thread's state): a loop's samples all start at one call site and go
// up the same frames, whose modules and rules are then known without _dl_find_object or the rule
// table (the first frame's lookup was a fifth of a 15-frame sample, perf; the next one, ~75
// instructions of a recursion's ~460, callgrind). Entry k: the walk's k-th lookup (a frame whose
// return address differs from the one below it). Used only while `epoch` is the caller's current
// one (the engine's unload generation: a module closed since may have been replaced at the same
// addresses). All zero: none.
struct WalkHint {
    uintptr_t address;  // the lookup address (a return address - 1)
    uint64_t step;      // its rule (fast_unwind.cpp's Step)
    uint32_t module;    // its module's index + 1
    uint32_t epoch;
};
inline constexpr unsigned kWalkHints = 4;

// What a thread's walks learnt, kept by the caller from one walk to the next in memory the thread
// owns (the sampler: the top of its own sample stack, sample_stack.h; not TLS, whose initial-exec
// size attaching to a running process cannot grow). Valid under `epoch` (as WalkHint): a walk
// under another empties it first. All zero: empty.
//
// Rules by lookup address, direct-mapped: a real program's stack is many different functions,
// each frame a rule lookup in the process's table (~8 ns a frame in its probe and decode, perf: a
// fifth of a 15-frame sample); a thread samples the same few call chains again and again, whose
// frames are then one load and compare each. An entry is used only when its key is the lookup's
// own (address and exact, in full), so addresses that share a slot just replace each other.
//
// The last walk: where it started, every stack word it read (address and value) and the frames
// it found. A walk is a function of its start, bounds, depth, rules and the words it reads, so
// when a walk starts where the last one did and each of those words still holds its value, its
// frames are the last walk's: given without a step, by loads that do not wait for each other (a
// step's loads do: the next frame's address is in the last one's words). A loop's samples all
// take one stack.
struct WalkCache {
    static constexpr unsigned kSlots = 256;  // 4 KiB
    struct Entry {
        uint64_t key;   // lookup address << 1 | exact (a signal frame's interrupted pc); 0: empty
        uint64_t step;  // its rule (fast_unwind.cpp's Step)
    };
    static constexpr unsigned kLastReads = 128;  // a longer walk is not kept
    static constexpr unsigned kLastFrames = 64;
    struct Read {
        uintptr_t at;
        uintptr_t value;
    };
    struct Last {
        uintptr_t pc, sp, fp, stack_low, stack_high;
        uint32_t depth;
        uint32_t frames;  // 0: none kept
        uint32_t reads;
        uint32_t start_fp_used;  // 0: the frames do not depend on fp (see fast_unwind.cpp's walk)
        Read read[kLastReads];
        uintptr_t frame[kLastFrames];
    };
    uint32_t epoch;
    uint32_t unused[3];
    Entry entries[kSlots];
    Last last;

    static uint64_t key(uintptr_t address, bool exact) { return uint64_t(address) << 1 | uint64_t(exact); }
    // The low bits, where nearby return addresses differ, folded with the next ones.
    static unsigned slot(uintptr_t address) { return unsigned(address ^ address >> 8 ^ address >> 16) % kSlots; }
};

// Fills out[0..] with the return addresses of the stack that starts at `start` (out[0] is
// start.pc), at most `depth`; every stack read within [stack_low, stack_high). Returns the number
// of frames, or kNeedsLibunwind. `start` by reference: passed by value (24 bytes, on the stack),
// its fields were stored one by one and read back as one 16-byte load, which stalled on store
// forwarding for most of the sampler's call (perf).
// `hint` (may be null): kWalkHints entries, read and updated, valid under `epoch` (see WalkHint).
// `cache` (may be null): read and updated, valid under `epoch` (see WalkCache); a walk given one
// needs no hint. The same call with the same stack words gives the same frames, with or without.
int backtrace(const StartFrame& start, uintptr_t stack_low, uintptr_t stack_high, uintptr_t* out, uint32_t depth,
              WalkHint* hint = nullptr, uint32_t epoch = 0, WalkCache* cache = nullptr);

}  // namespace vdsotrace::tracer::unwind
