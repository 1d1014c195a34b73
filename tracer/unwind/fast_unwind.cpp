// See fast_unwind.h.
#include "tracer/unwind/fast_unwind.h"

#include <dlfcn.h>
#include <sys/mman.h>

#include <cstring>

#include "tracer/common/bulk_table.h"
#include "tracer/unwind/eh_frame_rules.h"

namespace vdsotrace::tracer::unwind {

#if defined(__x86_64__)
namespace {

// Modules, by identity (mapping range and unwind table): a rule is kept under its module's index
// and its offset in the module, so a library closed and another loaded at its address never meet
// each other's rules. Indices are never reused: a program that loads more than this many distinct
// modules gets the rules of the rest computed on every use (slower, still right).
struct Module {
    uintptr_t start;
    uintptr_t end;
    const void* eh_frame_hdr;
    uint32_t state;  // kFree, kWriting, kReady
};
enum : uint32_t { kFree = 0, kWriting = 1, kReady = 2 };
constexpr unsigned kModuleSlots = 255;  // index + 1 fits the 8 bits a rule entry has for it
constexpr unsigned kModuleProbes = 16;
constexpr uint32_t kNoIndex = ~0u;
VDSOTRACE_BULK_TABLE Module g_modules[kModuleSlots];

// Rules: one 64-bit word each, so that a walk touches few cache lines and pages (a 16-byte entry
// in a 512 KiB table cost ~8 ns a frame in cache and TLB misses): the key (module index + 1: 8
// bits, offset in the module: 32 bits, exact: 1 bit) above the packed rule (23 bits: kind, CFA
// offset / 8, saved frame pointer's offset / 8 + 128, or 0 when not saved). Written once with a
// compare-and-swap from 0; a rule that does not fit is worked out on every use instead.
constexpr unsigned kRuleBits = 13;  // 8192 return addresses, 64 KiB
constexpr uint64_t kRuleMask = (uint64_t(1) << kRuleBits) - 1;
constexpr unsigned kRuleProbes = 8;
constexpr unsigned kValueBits = 23;
uint64_t* g_rules;

enum Kind : uint32_t { kCannot = 0, kFromSp = 1, kFromFp = 2, kSignal = 3, kOutermost = 4 };

struct Rule {
    Kind kind;
    int32_t cfa_offset;
    int32_t fp_saved_at;
};

// The 23-bit form of `r`, or false when it does not fit.
bool pack(const Rule& r, uint64_t* out) {
    uint64_t v = r.kind;
    if (r.kind == kFromSp || r.kind == kFromFp) {
        if (r.cfa_offset % 8 != 0 || r.cfa_offset < 0 || r.cfa_offset / 8 > 0xfff) return false;
        v |= uint64_t(r.cfa_offset / 8) << 3;
        if (r.fp_saved_at != kFpNotSaved) {
            if (r.fp_saved_at % 8 != 0 || r.fp_saved_at / 8 < -127 || r.fp_saved_at / 8 > 127) return false;
            v |= uint64_t(r.fp_saved_at / 8 + 128) << 15;
        }
    }
    *out = v;
    return true;
}

Rule unpack(uint64_t v) {
    const uint32_t fp = uint32_t(v >> 15) & 0xff;
    return {Kind(v & 7), int32_t((v >> 3) & 0xfff) * 8, fp == 0 ? kFpNotSaved : (int32_t(fp) - 128) * 8};
}

// A rule as the walk uses it, in one register: kind (bits 0-2), whether the caller's frame pointer
// is saved (bit 3), where (bits 4-31, signed), the CFA offset (bits 32-63, signed). The 12-byte
// Rule came back from rule_for() through the stack, and reading it stalled on store forwarding:
// half of every lookup's time (perf). A saved-frame-pointer offset beyond 2^27 (none seen) is
// left to libunwind.
using Step = uint64_t;

Step to_step(const Rule& r) {
    const bool saved = r.fp_saved_at != kFpNotSaved;
    if (saved && (r.fp_saved_at < -(1 << 27) || r.fp_saved_at >= (1 << 27))) return kCannot;
    uint64_t v = uint64_t(r.kind) | uint64_t(uint32_t(r.cfa_offset)) << 32;
    if (saved) v |= 8 | (uint64_t(uint32_t(r.fp_saved_at) << 4) & 0xfffffff0u);
    return v;
}
inline Kind step_kind(Step s) { return Kind(s & 7); }
inline intptr_t step_cfa_offset(Step s) { return intptr_t(int64_t(s) >> 32); }
inline bool step_saves_fp(Step s) { return (s & 8) != 0; }
inline intptr_t step_fp_saved_at(Step s) { return intptr_t(int32_t(uint32_t(s)) >> 4); }

// Where the walk is: the module holding the current address.
struct Current {
    uintptr_t start = 0, end = 0;
    const void* eh_frame_hdr = nullptr;
    uint32_t index = kNoIndex;
};

uint32_t module_index(uintptr_t start, uintptr_t end, const void* hdr) {
    uint32_t i = (uint32_t((start >> 12) * 0x9E3779B1u) >> 16) % kModuleSlots;
    for (unsigned probe = 0; probe < kModuleProbes; ++probe, i = (i + 1) % kModuleSlots) {
        Module& m = g_modules[i];
        uint32_t state = __atomic_load_n(&m.state, __ATOMIC_ACQUIRE);
        if (state == kFree) {
            if (!__atomic_compare_exchange_n(&m.state, &state, kWriting, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                if (state != kReady) return kNoIndex;  // another thread is writing it: no caching this time
            } else {
                m.start = start;
                m.end = end;
                m.eh_frame_hdr = hdr;
                __atomic_store_n(&m.state, kReady, __ATOMIC_RELEASE);
                return i;
            }
        }
        if (state != kReady) return kNoIndex;
        if (m.start == start && m.end == end && m.eh_frame_hdr == hdr) return i;
    }
    return kNoIndex;
}

// Out of line (as rule_for): the walk's loop then keeps its state in registers (inlined, their
// frames made it spill its stack bounds, frame pointer and rule to memory on every frame).
__attribute__((noinline)) bool enter_module(uintptr_t address, Current* m) {
    dl_find_object found;
    if (_dl_find_object(reinterpret_cast<void*>(address), &found) != 0 || found.dlfo_eh_frame == nullptr) return false;
    m->start = reinterpret_cast<uintptr_t>(found.dlfo_map_start);
    m->end = reinterpret_cast<uintptr_t>(found.dlfo_map_end);
    m->eh_frame_hdr = found.dlfo_eh_frame;
    m->index = module_index(m->start, m->end, m->eh_frame_hdr);
    return true;
}

// The kernel's return path from a signal handler on x86_64 (glibc's and musl's __restore_rt):
// mov $15, %rax; syscall.
constexpr unsigned char kSigreturn[] = {0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05};

Rule compute(const Current& m, uintptr_t address, uintptr_t pc) {
    FrameRule r;
    if (!frame_rule_at(m.eh_frame_hdr, address, &r)) return {kCannot, 0, 0};
    if (r.signal_frame) {
        // The FDE covers the trampoline's code (from the byte before it, for return-address
        // lookups), so these bytes are mapped.
        const bool sigreturn = pc >= m.start && pc + sizeof kSigreturn <= m.end &&
                               memcmp(reinterpret_cast<const void*>(pc), kSigreturn, sizeof kSigreturn) == 0;
        return {sigreturn ? kSignal : kCannot, 0, 0};
    }
    if (r.outermost) return {kOutermost, 0, 0};
    if (!r.ra_known || !r.fp_known) return {kCannot, 0, 0};
    return {r.cfa_from_fp ? kFromFp : kFromSp, r.cfa_offset, r.fp_saved_at};
}

// The rule for `address` (pc, or pc - 1 for a return address) in module `m`.
__attribute__((noinline)) Step rule_for(const Current& m, uintptr_t address, uintptr_t pc, bool exact) {
    uint64_t* rules = __atomic_load_n(&g_rules, __ATOMIC_ACQUIRE);
    const uint64_t offset = address - m.start;
    if (rules == nullptr || m.index == kNoIndex || offset >> 32 != 0) return to_step(compute(m, address, pc));
    const uint64_t key = (uint64_t(m.index) + 1) << 33 | offset << 1 | uint64_t(exact);
    // Shifts and xors, not a multiply: this lookup is on every frame's critical path.
    uint64_t i = ((key >> 1) ^ (key >> 12) ^ (key >> 33)) & kRuleMask;
    for (unsigned probe = 0; probe < kRuleProbes; ++probe, i = (i + 1) & kRuleMask) {
        uint64_t seen = __atomic_load_n(&rules[i], __ATOMIC_RELAXED);
        if (seen >> kValueBits == key) return to_step(unpack(seen));
        if (seen == 0) {
            const Rule r = compute(m, address, pc);
            uint64_t packed;
            // Taken by another thread meanwhile (perhaps with this very key): the next call looks again.
            if (pack(r, &packed)) __atomic_compare_exchange_n(&rules[i], &seen, key << kValueBits | packed, false,
                                                              __ATOMIC_RELAXED, __ATOMIC_RELAXED);
            return to_step(r);
        }
    }
    return to_step(compute(m, address, pc));
}

// A word of the stack being walked: another frame's memory, which the walk reads by design (as any
// unwinder), within bounds it checked itself. Not instrumented under AddressSanitizer, whose
// redzones around other frames' locals are no concern of a walker's (a misleading rule, as a test
// gives on purpose, reads one).
__attribute__((no_sanitize_address)) inline uintptr_t read_stack_word(uintptr_t at) {
    return *reinterpret_cast<const uintptr_t*>(at);
}

// Offsets in the kernel's ucontext_t (x86_64): uc_mcontext.gregs[REG_RBP], [REG_RSP], [REG_RIP].
constexpr uintptr_t kUcRbp = 40 + 10 * 8, kUcRsp = 40 + 15 * 8, kUcRip = 40 + 16 * 8;
// A frame bigger than this is not believed (as in the clock wrappers' stepping).
constexpr uintptr_t kMaxFrame = uintptr_t(1) << 20;

}  // namespace

bool prepare() {
    if (__atomic_load_n(&g_rules, __ATOMIC_ACQUIRE) != nullptr) return true;
    void* p = mmap(nullptr, sizeof(uint64_t) << kRuleBits, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) return false;
    __atomic_store_n(&g_rules, static_cast<uint64_t*>(p), __ATOMIC_RELEASE);
    return true;
}

namespace {

// The last walk's frames when this one starts where it did and every word it read still holds
// its value (see WalkCache): their number, or -1. Each word lies in [stack_low, stack_high), as
// the walk that read it checked.
int replay(const WalkCache::Last& last, const StartFrame& start, uintptr_t stack_low, uintptr_t stack_high,
           uint32_t depth, uintptr_t* out) {
    if (last.frames == 0 || last.pc != start.pc || last.sp != start.sp ||
        (last.start_fp_used && last.fp != start.fp) || last.stack_low != stack_low || last.stack_high != stack_high ||
        last.depth != depth)
        return -1;
    uintptr_t changed = 0;  // one branch at the end: the loads are all independent
    for (uint32_t i = 0; i < last.reads; ++i) changed |= read_stack_word(last.read[i].at) ^ last.read[i].value;
    if (changed != 0) return -1;
    memcpy(out, last.frame, last.frames * sizeof(uintptr_t));
    return int(last.frames);
}

// What a walk kept for the next one's replay (see walk<true>).
struct Kept {
    uint32_t reads;      // every stack word read (logged up to kLastReads)
    bool start_fp_used;  // whether the frame pointer it started with took part
};

// The walk (see backtrace). kKeep: every stack word read is logged in cache->last.read for the
// next walk's replay, and whether the start's frame pointer took part: code without frame
// pointers keeps anything in %rbp (a loop's counter), and a walk that reloads it from a frame
// before any rule reads it gives the same frames whatever it held.
template <bool kKeep>
int walk(const StartFrame& start, uintptr_t stack_low, uintptr_t stack_high, uintptr_t* out, uint32_t depth,
         WalkHint* hint, uint32_t epoch, WalkCache* cache, Kept* keep) {
    // A word at `at` lies in [stack_low, stack_high): one subtraction and one unsigned compare.
    const uintptr_t span = stack_high - 8 - stack_low;
    auto on_stack = [stack_low, span](uintptr_t at) { return at - stack_low <= span; };
    uint32_t kept = 0;
    bool fp_is_start = true, start_fp_used = false;
    auto load = [&](uintptr_t at) {
        const uintptr_t value = read_stack_word(at);
        if (kKeep) {
            if (kept < WalkCache::kLastReads) cache->last.read[kept] = {at, value};
            ++kept;
        }
        return value;
    };
    uintptr_t pc = start.pc, sp = start.sp, fp = start.fp;
    // Where the rule is looked up: the call before a return address (pc - 1) or, after a signal
    // frame, the interrupted instruction itself (`exact`, keyed apart in the rule table).
    uintptr_t address = pc - 1;
    bool exact = false;
    Current m;
    uintptr_t module_start = 0, module_size = 0;  // m's range, in registers
    // The address the rule in force was looked up for (0: none, or an exact one). A recursion
    // returns to one address frame after frame: its module and rule are the ones just used, and
    // a frame then costs the loads its rule names and three compares.
    uintptr_t last_address = 0;
    // The rule in force, decoded: CFA = (from_fp ? fp : sp) + cfa_offset; the caller's frame
    // pointer saved at CFA + fp_saved_at (0: not saved, unchanged).
    bool from_fp = false;
    intptr_t cfa_offset = 0, fp_saved_at = 0;
    // The rule in force keeps every read of a frame inside the frame by itself: the CFA from SP
    // (so the frame's size is the rule's, checked once here) and the caller's frame pointer, if
    // saved, between SP and the return address. Such a frame needs one bound check, CFA against
    // the stack's end (see the recursion loop below).
    bool self_bounded = false;
    // Takes `step` as the rule in force when it is a plain step (CFA from SP or FP); false else.
    auto decode = [&](Step step) {
        const Kind kind = step_kind(step);
        if (kind != kFromSp && kind != kFromFp) return false;
        from_fp = kind == kFromFp;
        cfa_offset = step_cfa_offset(step);
        fp_saved_at = step_saves_fp(step) ? step_fp_saved_at(step) : 0;
        self_bounded = !from_fp && cfa_offset >= 8 && uintptr_t(cfa_offset) - 8 < kMaxFrame &&
                       (fp_saved_at == 0 || (fp_saved_at <= -8 && -fp_saved_at <= cfa_offset));
        // Saved at the CFA itself (the caller's frame, not this one): no compiler does that;
        // left to libunwind, as 0 means "not saved" here.
        return !(step_saves_fp(step) && fp_saved_at == 0);
    };
    // The k-th lookup's module and rule as the last walk found them, when it looked up the same
    // address (see WalkHint). A module entry never changes once ready (indices are not reused).
    unsigned lookups = 0;
    auto hinted = [&](Step* rule) {
        if (hint == nullptr || lookups >= kWalkHints || exact) return false;
        const WalkHint& h = hint[lookups];
        if (h.address != address || h.epoch != epoch || h.module - 1 >= kModuleSlots) return false;
        if (h.module - 1 != m.index) {  // (the module the walk is in already: nothing to load)
            const Module& g = g_modules[h.module - 1];
            if (__atomic_load_n(&g.state, __ATOMIC_ACQUIRE) != kReady) return false;
            m = {g.start, g.end, g.eh_frame_hdr, h.module - 1};
            module_start = m.start;
            module_size = m.end - m.start;
        }
        *rule = h.step;
        return true;
    };
    uintptr_t* const first = out;
    uintptr_t* const end = out + depth;
    auto done = [&] {
        if (kKeep) *keep = {kept, start_fp_used};
        return int(out - first);
    };
    *out++ = pc;
    while (out != end) {
        if (__builtin_expect(address != last_address, 0)) {
            Step rule;
            bool from_hint = false;
            WalkCache::Entry* cached = nullptr;
            uint64_t key = 0;
            if (cache != nullptr) {
                key = WalkCache::key(address, exact);
                cached = &cache->entries[WalkCache::slot(address)];
            }
            if (cached != nullptr && cached->key == key) {
                // Known to this thread: no module or rule table to look at (the module in `m`
                // stays the one last entered; a lookup outside it enters the right one).
                rule = cached->step;
                from_hint = true;  // (nothing to keep as a hint either)
            } else {
                from_hint = hinted(&rule);
                if (!from_hint) {
                    if (address - module_start >= module_size) {
                        if (!enter_module(address, &m)) return kNeedsLibunwind;
                        module_start = m.start;
                        module_size = m.end - m.start;
                    }
                    rule = rule_for(m, address, pc, exact);
                }
                if (cached != nullptr) *cached = {key, rule};
            }
            const unsigned lookup = lookups++;
            const Kind kind = step_kind(rule);
            if (kind == kSignal) {
                // A signal handler returned here: the kernel's frame holds the interrupted
                // registers, its ucontext_t right at the stack pointer.
                if (!on_stack(sp + kUcRbp) || !on_stack(sp + kUcRip)) return kNeedsLibunwind;
                const uintptr_t interrupted_sp = load(sp + kUcRsp);
                // A handler on an alternate stack: the rest of the stack is elsewhere.
                if (interrupted_sp <= sp || interrupted_sp >= stack_high) return kNeedsLibunwind;
                fp = load(sp + kUcRbp);
                fp_is_start = false;
                pc = load(sp + kUcRip);
                sp = interrupted_sp;
                exact = true;  // the interrupted instruction itself, not a return address
                address = pc;
                last_address = 0;  // looked up as exact even where a return address had this value
                if (pc < 0x4000) break;  // the end of the chain (libunwind stops there too)
                *out++ = pc;
                continue;
            }
            if (kind == kOutermost) break;
            if (!decode(rule)) return kNeedsLibunwind;
            if (!from_hint && !exact && lookup < kWalkHints && hint != nullptr && m.index != kNoIndex)
                hint[lookup] = {address, rule, m.index + 1, epoch};
            last_address = exact ? 0 : address;
        }
        if (self_bounded) {
            // A recursion (or a loop of frames returning to one call site) under a rule that
            // bounds its own reads: sp lies on the stack (every sp taken was checked so) and
            // the frame's reads lie in [sp, cfa - 8], so cfa at most the stack's end is the one
            // check left. About a third of the general step's instructions (callgrind), frame
            // after frame while the return address stays the same.
            // Two loops, with and without the frame pointer's load, each with its exits as
            // separate branches (one loop testing both made 17 instructions a frame, 12 now).
            if (fp_saved_at != 0) {
                for (;;) {
                    const uintptr_t cfa = sp + uintptr_t(cfa_offset);
                    if (__builtin_expect(cfa > stack_high, 0)) return kNeedsLibunwind;
                    fp = load(cfa + uintptr_t(fp_saved_at));
                    if (kKeep) fp_is_start = false;
                    pc = load(cfa - 8);
                    sp = cfa;
                    if (__builtin_expect(pc < 0x4000, 0)) return done();  // the end of the chain
                    *out++ = pc;
                    if (__builtin_expect(out == end, 0)) return done();
                    if (__builtin_expect(pc - 1 != last_address, 0)) break;
                }
            } else {
                for (;;) {
                    const uintptr_t cfa = sp + uintptr_t(cfa_offset);
                    if (__builtin_expect(cfa > stack_high, 0)) return kNeedsLibunwind;
                    pc = load(cfa - 8);
                    sp = cfa;
                    if (__builtin_expect(pc < 0x4000, 0)) return done();  // the end of the chain
                    *out++ = pc;
                    if (__builtin_expect(out == end, 0)) return done();
                    if (__builtin_expect(pc - 1 != last_address, 0)) break;
                }
            }
            address = pc - 1;
            exact = false;
            continue;
        }
        const uintptr_t cfa = (from_fp ? fp : sp) + uintptr_t(cfa_offset);
        if (kKeep && from_fp && fp_is_start) start_fp_used = true;
        // Each caller's frame lies above its callee's, on the same stack: the return address at
        // cfa - 8 in [sp, sp + kMaxFrame), and cfa at most the stack's end (sp is on the stack:
        // every sp taken was checked so). A frame that holds no return address above sp is left
        // to libunwind.
        if (cfa - 8 - sp >= kMaxFrame || cfa > stack_high) return kNeedsLibunwind;
        if (fp_saved_at != 0) {
            const uintptr_t slot = cfa + uintptr_t(fp_saved_at);
            if (!on_stack(slot)) return kNeedsLibunwind;
            fp = load(slot);
            fp_is_start = false;
        }
        pc = load(cfa - 8);
        sp = cfa;
        exact = false;
        address = pc - 1;
        if (pc < 0x4000) break;  // the end of the chain (libunwind stops there too)
        *out++ = pc;
    }
    return done();
}

}  // namespace

int backtrace(const StartFrame& start, uintptr_t stack_low, uintptr_t stack_high, uintptr_t* out, uint32_t depth,
              WalkHint* hint, uint32_t epoch, WalkCache* cache) {
    if (depth == 0) return 0;
    if (stack_high <= stack_low + 8 || start.sp < stack_low || start.sp >= stack_high) return kNeedsLibunwind;
    if (cache == nullptr) return walk<false>(start, stack_low, stack_high, out, depth, hint, epoch, nullptr, nullptr);
    // Kept under another epoch: a module may have been unloaded since, and another loaded at its
    // addresses.
    if (cache->epoch != epoch) {
        memset(cache->entries, 0, sizeof cache->entries);
        cache->last.frames = 0;
        cache->epoch = epoch;
    }
    WalkCache::Last& last = cache->last;
    const int replayed = replay(last, start, stack_low, stack_high, depth, out);
    if (replayed >= 0) return replayed;
    last.frames = 0;  // its reads are overwritten from here on
    Kept kept{};
    const int n = walk<true>(start, stack_low, stack_high, out, depth, nullptr, epoch, cache, &kept);
    if (n > 0 && uint32_t(n) <= WalkCache::kLastFrames && kept.reads <= WalkCache::kLastReads) {
        last.pc = start.pc;
        last.sp = start.sp;
        last.fp = start.fp;
        last.stack_low = stack_low;
        last.stack_high = stack_high;
        last.depth = depth;
        last.reads = kept.reads;
        last.start_fp_used = kept.start_fp_used;
        memcpy(last.frame, out, uint32_t(n) * sizeof(uintptr_t));
        last.frames = uint32_t(n);
    }
    return n;
}

#else
bool prepare() { return false; }
int backtrace(const StartFrame&, uintptr_t, uintptr_t, uintptr_t*, uint32_t, WalkHint*, uint32_t, WalkCache*) {
    return kNeedsLibunwind;
}
#endif

}  // namespace vdsotrace::tracer::unwind
