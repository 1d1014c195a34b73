// Stack sampling (see sampler.h): taking a stack, interning it in the shared stack table, counting
// it in the thread's sample slot, and logging it in the slot's ring.
//
// Built with frame pointers (see meson.build), so that a frame-pointer walk started here passes
// through record_slow() and reaches the program's frames.
#include "tracer/engine/sampler.h"
#include "tracer/engine/segment_growth.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tracer/engine/libunwind_shield.h"
#include "tracer/engine/module_map.h"
#include "tracer/engine/recorder.h"
#include "tracer/engine/sample_stack.h"
#include "tracer/engine/settings.h"
#include "tracer/common/text_util.h"
#include "tracer/python/cpython_frames.h"
#include "tracer/engine/thread_identity.h"
#include "tracer/unwind/fast_unwind.h"

namespace vdsotrace::tracer {

namespace {

using BacktraceFn = int (*)(void**, int);

// kCfi: the unwind tables, with libunwind (when loaded) or frame pointers for what they cannot do.
enum : int { kNotLoaded = 0, kLibunwind = 1, kFramePointers = 2, kFailed = 3, kCfi = 4 };

int g_unwinder;  // the state above, atomic: set once by the constructor
BacktraceFn g_backtrace;
int (*g_clock)(clockid_t, timespec*);
uintptr_t g_shim_start, g_shim_end;  // our own code: its frames are never part of a stack

// Frames of our own beyond the caller that unw_backtrace reports first (this file, record_slow,
// the interposed function); room for them on top of the depth cap.
constexpr int kOwnFramesMax = 8;
constexpr uint32_t kNoStack = 0xffffffffu;
constexpr unsigned kStackProbes = 64;
constexpr unsigned kCountProbes = 16;

bool in_shim(uintptr_t pc) { return pc >= g_shim_start && pc < g_shim_end; }

template <bool kShared>
void bump(uint64_t* p) {
    kShared ? detail::bump_shared(p) : detail::bump_local(p);
}

// Leaf first; frame 0 is `caller`. Returns the number of frames.
uint32_t capture_libunwind(uintptr_t* out, uint32_t depth, uintptr_t caller) {
    void* raw[kMaxSampleDepth + kOwnFramesMax];
    int n = g_backtrace(raw, int(depth) + kOwnFramesMax);
    int i = 0;
    while (i < n && in_shim(reinterpret_cast<uintptr_t>(raw[i]))) ++i;
    uint32_t count = 0;
    // Without unwind information for some frame libunwind may stop early: the caller is known
    // for sure, so a stack always starts with it.
    if (i >= n || reinterpret_cast<uintptr_t>(raw[i]) != caller) out[count++] = caller;
    for (; i < n && count < depth; ++i) out[count++] = reinterpret_cast<uintptr_t>(raw[i]);
    return count;
}

// Follows saved frame pointers from this function's frame up, reading only within
// [this frame, the thread's stack top) and only upwards, so a program built without frame
// pointers yields a short stack, never a fault.
__attribute__((noinline)) uint32_t capture_frame_pointers(uintptr_t* out, uint32_t depth, uintptr_t caller,
                                                          uintptr_t stack_top) {
    auto fp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    const uintptr_t low = fp;
    // A signal handler on an alternate stack far from the thread's stack: don't cross the gap.
    const bool bounded = stack_top > low && stack_top - low < (uintptr_t(64) << 20);
    uint32_t count = 0;
    out[count++] = caller;
    while (bounded && count < depth) {
        if (fp < low || fp + 16 > stack_top || (fp & 7) != 0) break;
        const auto* frame = reinterpret_cast<const uintptr_t*>(fp);
        const uintptr_t next = frame[0];
        const uintptr_t ret = frame[1];
        if (ret == 0) break;
        if (!in_shim(ret) && !(count == 1 && ret == caller)) out[count++] = ret;
        if (next <= fp) break;
        fp = next;
    }
    return count;
}

// The walk below without the caller's frame: from this function's own, then the frames of the
// shim are dropped from its start, as libunwind's are.
__attribute__((noinline)) int capture_cfi_from_here(uintptr_t* out, uint32_t depth, uintptr_t caller,
                                                    uintptr_t stack_top) {
    // Built with frame pointers: the saved one is the caller's.
    const auto* fp = static_cast<const uintptr_t*>(__builtin_frame_address(0));
    const unwind::StartFrame start{reinterpret_cast<uintptr_t>(__builtin_return_address(0)),
                                   reinterpret_cast<uintptr_t>(__builtin_dwarf_cfa()), fp[0]};
    if (stack_top <= start.sp || stack_top - start.sp >= (uintptr_t(64) << 20)) return unwind::kNeedsLibunwind;
    uintptr_t raw[kMaxSampleDepth + kOwnFramesMax];
    const int n = unwind::backtrace(start, start.sp, stack_top, raw, depth + kOwnFramesMax);
    if (n < 0) return n;
    int i = 0;
    while (i < n && in_shim(raw[i])) ++i;
    uint32_t count = 0;
    if (i >= n || raw[i] != caller) out[count++] = caller;
    for (; i < n && count < depth; ++i) out[count++] = raw[i];
    return int(count);
}

// A walk by the unwind tables (unwind/fast_unwind.h) from `frame`, the caller's frame at the clock
// call, within the thread's stack; or, without that frame, from capture_cfi_from_here's own. -1
// when the walk needs libunwind. The walk from the caller's frame apart from the other, whose
// 2 KiB frame buffer widened this one's frame; its start's bounds are checked on the frame's own
// values (the start's fields read back from the 16-byte store that wrote them stalled, perf).
__attribute__((noinline)) int capture_cfi(uintptr_t* out, uint32_t depth, uintptr_t caller, wrappers::CallFrame frame,
                                          uintptr_t stack_top, unwind::WalkHint* hint, unwind::WalkCache* cache) {
    if (frame.cfa == 0) return capture_cfi_from_here(out, depth, caller, stack_top);
    // The thread's stack, from the first frame up; a start far from its top is on another stack
    // (a signal handler's alternate stack): libunwind then (as the frame-pointer walk gives up).
    if (stack_top <= frame.cfa || stack_top - frame.cfa >= (uintptr_t(64) << 20)) return unwind::kNeedsLibunwind;
    const unwind::StartFrame start{caller, frame.cfa, frame.fp};
    return unwind::backtrace(start, frame.cfa, stack_top, out, depth, hint,
                             __atomic_load_n(&g_recorder.module_generation, __ATOMIC_ACQUIRE), cache);
}

// libunwind finds unwind tables with dl_iterate_phdr, which takes the loader's (recursive) write
// lock. On a thread interrupted while it holds that lock (inside dlopen or dlclose, the link-map
// list half updated), a signal handler's clock call would re-enter it: the stress test saw it
// loop forever there, and deadlock other threads waiting for the lock, some while holding
// libunwind's cache lock. So that lock's owner is found once at start-up, and a thread that
// holds it takes its stack with the frame-pointer walk instead, which reads nothing but its stack.
int* g_loader_lock_owner;  // the __owner field of ld.so's _dl_load_write_lock, or null

struct LockSearch {
    int tid;
    unsigned char* base;
    size_t size;
    int* found;
    int matches;
};

int find_held_lock(dl_phdr_info*, size_t, void* data) {
    auto* s = static_cast<LockSearch*>(data);
    // pthread_mutex_t begins {int __lock; unsigned __count; int __owner;}: held once, by us.
    for (size_t off = 0; off + 3 * sizeof(int) <= s->size; off += sizeof(int)) {
        auto* w = reinterpret_cast<int*>(s->base + off);
        if (w[0] != 0 && w[1] == 1 && w[2] == s->tid) {
            s->found = &w[2];
            ++s->matches;
        }
    }
    return 1;  // one callback is enough: the lock is held for the whole iteration
}

void find_loader_lock() {
    void* rtld = dlsym(RTLD_DEFAULT, "_rtld_global");
    Dl_info info;
    void* extra = nullptr;
    if (rtld == nullptr || dladdr1(rtld, &info, &extra, RTLD_DL_SYMENT) == 0 || extra == nullptr) return;
    const auto* sym = static_cast<const ElfW(Sym)*>(extra);
    LockSearch s{int(gettid()), static_cast<unsigned char*>(rtld), sym->st_size, nullptr, 0};
    dl_iterate_phdr(find_held_lock, &s);
    // Exactly one candidate, and free again now that the iteration is over.
    if (s.matches == 1 && __atomic_load_n(s.found, __ATOMIC_RELAXED) == 0) g_loader_lock_owner = s.found;
}

// True when this thread may hold the loader's write lock. pthread_mutex_lock takes the lock word
// first and stores __owner after, and unlock clears __owner before the word: a held lock whose
// owner is 0 may be this thread's, caught between the two stores (a signal landed there in the
// stress test and deadlocked), so it counts as ours. Another owner is harmless: libunwind waits.
bool in_loader(const ThreadState& t) {
    if (g_loader_lock_owner == nullptr) return false;
    const int* lock_word = g_loader_lock_owner - 2;  // {int __lock; unsigned __count; int __owner;}
    if (__atomic_load_n(lock_word, __ATOMIC_RELAXED) == 0) return false;
    const int owner = __atomic_load_n(g_loader_lock_owner, __ATOMIC_RELAXED);
    return owner == t.tid || owner == 0;
}

// Two lanes (even and odd frames) multiplied independently, mixed once at the end: one serial
// chain of multiply, shift and xor per frame was a sixth of a 15-frame sample's cost (perf).
// A collision only costs a probe: intern() compares the frames themselves.
uint64_t hash_frames(const uintptr_t* frames, uint32_t n) {
    uint64_t a = 0x9E3779B97F4A7C15ull ^ n, b = 0xC2B2AE3D27D4EB4Full;
    uint32_t i = 0;
    for (; i + 1 < n; i += 2) {
        a = (a ^ frames[i]) * 0xff51afd7ed558ccdull;
        b = (b ^ frames[i + 1]) * 0xc4ceb9fe1a85ec53ull;
    }
    if (i < n) a = (a ^ frames[i]) * 0xff51afd7ed558ccdull;
    uint64_t h = a ^ (b << 31 | b >> 33);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h != 0 ? h : 1;
}

// Whether `frames` are those of stack `id` (ready, same depth, same frames).
bool is_stack(const Segment& seg, uint32_t id, const uintptr_t* frames, uint32_t n) {
    const format::Header::Sampling& cfg = seg.header->sampling;
    if (id >= cfg.stack_capacity) return false;
    const format::StackEntry& e = seg.stacks[id];
    if (__atomic_load_n(&e.state, __ATOMIC_ACQUIRE) != format::kStackReady || e.depth != n ||
        e.first_frame + n > cfg.frame_capacity)
        return false;
    return memcmp(seg.frames + e.first_frame, frames, n * sizeof(uint64_t)) == 0;
}

// Claims `n` frames of the pool and backs them by the file (the pool grows with the frames
// claimed, segment_growth.h): the first one's index, or kPoolFull when there is no room. Apart and
// never inlined: intern() runs under a frame-pointer walk at the program stack's deepest, and the
// growth's values kept there would widen its frame for every sample (issue 12's stack need).
constexpr uint32_t kPoolFull = UINT32_MAX;
__attribute__((noinline)) uint32_t claim_frames(const Segment& seg, uint32_t n) {
    format::Header::Sampling& cfg = seg.header->sampling;
    uint32_t first = __atomic_load_n(&cfg.frames_claimed, __ATOMIC_RELAXED);
    do {
        if (uint64_t(first) + n > cfg.frame_capacity) return kPoolFull;
    } while (!__atomic_compare_exchange_n(&cfg.frames_claimed, &first, first + n, true, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    Segment& grow = const_cast<Segment&>(seg);
    if (!reserve_prefix(&grow, &grow.frames_reserved, seg.frames, (uint64_t(first) + n) * sizeof(uint64_t),
                        uint64_t(cfg.frame_capacity) * sizeof(uint64_t)))
        return kPoolFull;
    return first;
}

// The stack's id in the shared table, adding it when new; kNoStack when the table or the frame
// pool is full (or the same stack is being added by a thread this one interrupted). `hint`: the
// id this thread interned last, checked first.
uint32_t intern(const Segment& seg, const uintptr_t* frames, uint32_t n, uint32_t hint) {
    if (hint != kNoStack && is_stack(seg, hint, frames, n)) return hint;
    format::Header::Sampling& cfg = seg.header->sampling;
    const uint64_t hash = hash_frames(frames, n);
    const uint32_t mask = cfg.stack_capacity - 1;
    uint32_t i = uint32_t(hash ^ (hash >> 29)) & mask;
    for (unsigned probe = 0; probe < kStackProbes; ++probe, i = (i + 1) & mask) {
        format::StackEntry& e = seg.stacks[i];
        uint64_t seen = __atomic_load_n(&e.hash, __ATOMIC_ACQUIRE);
        if (seen == 0) {
            // New stack (cold: once per distinct stack in the process): room in the pool first,
            // so a claimed entry always gets its frames.
            const uint32_t first = claim_frames(seg, n);
            if (first == kPoolFull) goto full;
            seen = detail::cas_shared(&e.hash, 0, hash);
            if (seen == 0) {
                __atomic_fetch_add(&cfg.stacks_claimed, 1, __ATOMIC_RELAXED);
                memcpy(seg.frames + first, frames, n * sizeof(uint64_t));
                e.first_frame = first;
                e.depth = n;
                __atomic_store_n(&e.state, uint32_t(format::kStackReady), __ATOMIC_RELEASE);
                // Record every module that contributed a frame while it is still loaded, so the
                // stack can be named after a dlclose or the program's exit.
                for (uint32_t f = 0; f < n; ++f)
                    if (!(frames[f] & format::kPythonSiteTag)) ensure_module(const_cast<Segment*>(&seg), frames[f]);
                return i;
            }
            // Another thread claimed this entry meanwhile: its frames' room stays unused.
        }
        if (seen != hash) continue;
        uint32_t state = __atomic_load_n(&e.state, __ATOMIC_ACQUIRE);
        // Another thread is writing it: that takes a few hundred ns. Never wait unboundedly: the
        // writer may be this very thread, interrupted by the signal handler we are running in.
        for (int spin = 0; state != format::kStackReady && spin < 4096; ++spin) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
            state = __atomic_load_n(&e.state, __ATOMIC_ACQUIRE);
        }
        if (state != format::kStackReady) return kNoStack;
        if (e.depth == n && memcmp(seg.frames + e.first_frame, frames, n * sizeof(uint64_t)) == 0) return i;
    }
full:
    __atomic_fetch_or(&cfg.flags, uint32_t(format::kSamplingStacksFull), __ATOMIC_RELAXED);
    return kNoStack;
}

template <bool kShared>
bool count_stack(unsigned char* sample_slot, uint32_t capacity, unsigned counter, uint32_t stack_id) {
    auto* counts = reinterpret_cast<format::StackCount*>(sample_slot + format::kSampleCountsOffset);
    const uint64_t key = format::stack_count_key(counter, stack_id);
    const uint32_t mask = capacity - 1;
    uint32_t i = (stack_id * 0x9E3779B1u ^ counter * 0x85EBCA6Bu) & mask;
    for (unsigned probe = 0; probe < kCountProbes; ++probe, i = (i + 1) & mask) {
        format::StackCount& e = counts[i];
        uint64_t seen = __atomic_load_n(&e.key, __ATOMIC_RELAXED);
        if (seen == 0) {
            seen = kShared ? detail::cas_shared(&e.key, 0, key) : detail::cas_local(&e.key, 0, key);
            if (seen == 0) seen = key;
        }
        if (seen == key) {
            bump<kShared>(&e.count);
            return true;
        }
    }
    return false;
}

// Returns the entry's timestamp (CLOCK_MONOTONIC_COARSE, ns; 0 without a clock).
template <bool kShared>
uint64_t log_sample(unsigned char* sample_slot, const format::Header::Sampling& cfg, unsigned counter,
                    uint32_t stack_id, int tid) {
    auto* h = reinterpret_cast<format::SampleSlotHeader*>(sample_slot);
    uint64_t n;
    if (kShared) {
        n = __atomic_fetch_add(&h->ring_written, 1, __ATOMIC_RELAXED);
    } else {
        // One writer: this thread, never re-entered here (in_sample).
        n = h->ring_written;
        __atomic_store_n(&h->ring_written, n + 1, __ATOMIC_RELAXED);
    }
    auto* ring = reinterpret_cast<format::RingEntry*>(sample_slot + format::sample_ring_offset(cfg.count_capacity));
    format::RingEntry& e = ring[n % cfg.ring_capacity];
    __atomic_store_n(&e.seq, 2 * n + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    timespec ts{};
    // The coarse clock (~5 ns) rather than the precise one (~30 ns, a fifth of a sample's cost).
    if (g_clock != nullptr) g_clock(CLOCK_MONOTONIC_COARSE, &ts);
    const uint64_t now = uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
    __atomic_store_n(&e.monotonic_ns, now, __ATOMIC_RELAXED);
    __atomic_store_n(&e.stack_id, stack_id, __ATOMIC_RELAXED);
    __atomic_store_n(&e.counter, counter, __ATOMIC_RELAXED);
    __atomic_store_n(&e.tid, tid, __ATOMIC_RELAXED);
    __atomic_store_n(&e.seq, 2 * n + 2, __ATOMIC_RELEASE);
    return now;
}

// The part of a sample that needs stack (the frame buffers, libunwind: about 7 KiB): run on a
// sample stack when it does not walk from its own frame (sample_stack.h).
struct SampleJob {
    ThreadState* t;
    const Segment* seg;
    unsigned counter;
    uintptr_t caller;
    wrappers::CallFrame frame;
    int unwinder;
    uint64_t logged_at;  // the ring entry's timestamp (log_sample), 0: none
    unwind::WalkCache* walk_cache;  // the thread's, on its own sample stack (null: none, use its hints)
};

template <bool kShared>
void capture_and_count(void* arg) {
    auto& job = *static_cast<SampleJob*>(arg);
    ThreadState& t = *job.t;
    const Segment& seg = *job.seg;
    const int unwinder = job.unwinder;
    auto* h = reinterpret_cast<format::SampleSlotHeader*>(t.sample_slot);
    const format::Header::Sampling& cfg = seg.header->sampling;
    uintptr_t frames[kMaxSampleDepth];
    int n = unwinder == kCfi
                ? capture_cfi(frames, cfg.max_depth, job.caller, job.frame, t.stack_top, t.walk_hint, job.walk_cache)
                : -1;
    if (n < 0)  // libunwind when loaded, never inside the loader (see in_loader)
        n = int(unwinder != kFramePointers && g_backtrace != nullptr && !in_loader(t)
                    ? capture_libunwind(frames, cfg.max_depth, job.caller)
                    : capture_frame_pointers(frames, cfg.max_depth, job.caller, t.stack_top));
    n = int(python::interleave(frames, uint32_t(n), cfg.max_depth));  // Python functions beside the interpreter's frames
    const uint32_t id = intern(seg, frames, uint32_t(n), t.last_stack - 1);
    t.last_stack = id + 1;  // kNoStack + 1: 0, none
    if (id == kNoStack) {
        bump<kShared>(&h->lost_stacks_full);
    } else {
        if (!count_stack<kShared>(t.sample_slot, cfg.count_capacity, job.counter, id))
            bump<kShared>(&h->lost_counts_full);
        job.logged_at = log_sample<kShared>(t.sample_slot, cfg, job.counter, id, t.tid);
    }
}

// Returns the ring entry's timestamp (0: none written).
template <bool kShared>
uint64_t take_sample(ThreadState& t, const Segment& seg, unsigned counter, uintptr_t caller, wrappers::CallFrame frame) {
    auto* h = reinterpret_cast<format::SampleSlotHeader*>(t.sample_slot);
    bump<kShared>(&h->sampled);
    const int unwinder = __atomic_load_n(&g_unwinder, __ATOMIC_ACQUIRE);
    if (unwinder != kLibunwind && unwinder != kFramePointers && unwinder != kCfi) {
        if (unwinder == kFailed &&
            !(__atomic_load_n(&seg.header->sampling.flags, __ATOMIC_RELAXED) & format::kSamplingUnwinderMissing))
            __atomic_fetch_or(&seg.header->sampling.flags, uint32_t(format::kSamplingUnwinderMissing), __ATOMIC_RELAXED);
        bump<kShared>(&h->lost_no_unwinder);
        return 0;
    }
    if (t.in_sample) {
        bump<kShared>(&h->lost_reentered);
        return 0;
    }
    t.in_sample = 1;
    const int saved_errno = errno;  // libunwind and the module lookup must not change the program's errno
    SampleJob job{&t, &seg, counter, caller, frame, unwinder, 0, nullptr};
    // The walks that start from their own frame (frame pointers; the tables' walk without the
    // caller's frame) read the thread's stack upwards from there: they stay on it, as does
    // everything inside the loader (the frame-pointer walk).
    const bool from_here = unwinder == kFramePointers || (unwinder == kCfi && frame.cfa == 0) ||
                           g_backtrace == nullptr || in_loader(t);
    if (from_here)
        capture_and_count<kShared>(&job);
    else if (!kShared && t.own_sample_stack != 0) {
        // The thread's own sample stack: no claim of a shared one (two locked instructions on a
        // word every sampling thread writes). Not for a thread state shared with a clone
        // (share_thread_state_with_clone: two threads on one TLS, t.shared), whose samples may
        // run at the same time: they claim shared stacks, as every sample did before. Its walk
        // cache is this thread's alone for the same reason.
        job.walk_cache = own_sample_stack_walk_cache(t.own_sample_stack);
        run_on_own_sample_stack(t.own_sample_stack, capture_and_count<kShared>, &job);
    }
    else
        run_on_sample_stack(capture_and_count<kShared>, &job);
    errno = saved_errno;
    t.in_sample = 0;
    return job.logged_at;
}

void warm_libunwind(void*) {
    void* warm[4];
    g_backtrace(warm, 4);
}

}  // namespace

bool sampler_start(int (*clock)(clockid_t, timespec*), char* problem, unsigned long problem_size) {
    Settings s;
    read_sampling_settings(&s);
    if (s.sample == 0) return true;
    g_clock = clock;
    dl_find_object self;
    if (_dl_find_object(reinterpret_cast<void*>(&sampler_start), &self) == 0) {
        g_shim_start = reinterpret_cast<uintptr_t>(self.dlfo_map_start);
        g_shim_end = reinterpret_cast<uintptr_t>(self.dlfo_map_end);
    }
    if (s.frame_pointers) {
        __atomic_store_n(&g_unwinder, kFramePointers, __ATOMIC_RELEASE);
        return true;
    }
    // The unwind tables by default; libunwind still takes the stacks they cannot (JIT code).
    const bool cfi = !s.libunwind_only && unwind::prepare();
    // RTLD_LOCAL: libunwind's _Unwind_* and backtrace stay out of the program's symbol scope.
    // A copy of our own (not one the program loaded) gets its system calls shielded.
    const bool programs_own = dlopen("libunwind.so.8", RTLD_LAZY | RTLD_NOLOAD) != nullptr;
    void* lib = dlopen("libunwind.so.8", RTLD_LOCAL | RTLD_NOW);
    if (lib != nullptr && !programs_own && !shield_libunwind(lib)) {
        TextBuffer(problem, problem_size)
            .add(cfi ? "cannot keep libunwind's address checks off the program's descriptors; stacks the unwind "
                       "tables cannot follow are taken by frame pointers"
                     : "cannot keep libunwind's address checks off the program's descriptors; sampling with "
                       "frame pointers instead (VDSOTRACE_UNWIND=fp)");
        __atomic_store_n(&g_unwinder, cfi ? kCfi : kFramePointers, __ATOMIC_RELEASE);
        return false;
    }
    if (lib != nullptr) g_backtrace = reinterpret_cast<BacktraceFn>(dlsym(lib, "unw_backtrace"));
    if (g_backtrace != nullptr) find_loader_lock();
    if (g_backtrace != nullptr) sample_stacks_start();
    if (g_backtrace == nullptr && cfi) {
        TextBuffer(problem, problem_size)
            .add("cannot load libunwind.so.8 (install libunwind8); stacks the unwind tables cannot follow (JIT "
                 "code) are taken by frame pointers");
        __atomic_store_n(&g_unwinder, kCfi, __ATOMIC_RELEASE);
        return false;
    }
    if (g_backtrace == nullptr) {
        TextBuffer(problem, problem_size)
            .add("cannot load libunwind.so.8 (install libunwind8, or use VDSOTRACE_UNWIND=fp); calls are "
                 "counted but no stacks are taken");
        __atomic_store_n(&g_unwinder, kFailed, __ATOMIC_RELEASE);
        return false;
    }
    __atomic_store_n(&g_unwinder, cfi ? kCfi : kLibunwind, __ATOMIC_RELEASE);
    return true;
}

bool sampler_ready() {
    const int u = __atomic_load_n(&g_unwinder, __ATOMIC_ACQUIRE);
    return u == kLibunwind || u == kFramePointers || u == kCfi;
}

void sampler_bind_thread(ThreadState& t, const Segment& seg, uint64_t index, bool shared, uint32_t period) {
    if (seg.sample_slots == nullptr || period == 0) return;
    const uint64_t i = shared ? seg.thread_capacity : index;
    // The stack table (hashed: reserved whole) and this thread's sample slot are backed before the
    // thread may sample; when the recording cannot grow, the thread's calls are counted unsampled.
    Segment& grow = const_cast<Segment&>(seg);
    const format::Header::Sampling& cfg = seg.header->sampling;
    if (!reserve_once(&grow, &grow.stacks_ready, seg.stacks, uint64_t(cfg.stack_capacity) * sizeof(format::StackEntry)))
        return;
    // The frame pool's first page (512 frames) too: here, not under intern() in the first sample,
    // where a frame-pointer walk holds the program's stack at its deepest (issue 12). A failure
    // is no reason to stay unsampled: intern() tries again and counts a full pool.
    reserve_prefix(&grow, &grow.frames_reserved, seg.frames, 4096,
                   uint64_t(cfg.frame_capacity) * sizeof(uint64_t));
    unsigned char* sample_slot = seg.sample_slots + i * seg.sample_slot_size;
    if (shared ? !reserve_once(&grow, &grow.shared_sample_ready, sample_slot, seg.sample_slot_size)
               : !reserve_entry(&grow, &grow.sample_slots_reserved, seg.sample_slots, i, seg.sample_slot_size,
                                seg.thread_capacity))
        return;
    t.sample_slot = sample_slot;
    t.sample_countdown = int32_t(period);
    t.tid = int(current_tid());  // no system call: thread_identity.h
    // The frame-pointer walk's upper bound: the TCB sits right above a glibc thread's stack; the
    // main thread's frames all lie below the executable's name the kernel put at its stack's top
    // (AT_EXECFN; __libc_stack_end would add ld.so to the shim's NEEDED entries).
    const uintptr_t here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    uintptr_t top = t.tid == process_id() ? uintptr_t(getauxval(AT_EXECFN)) : uintptr_t(pthread_self());
    t.stack_top = top > here ? top : 0;
    // libunwind allocates its per-thread trace cache (and glibc this thread's copy of libunwind's
    // TLS, with malloc) on a thread's first unw_backtrace. Do that now, at the thread's first
    // clock call, rather than in a signal handler that may have interrupted malloc.
    const int unwinder = __atomic_load_n(&g_unwinder, __ATOMIC_ACQUIRE);
    if ((unwinder == kLibunwind || unwinder == kCfi) && g_backtrace != nullptr && !in_loader(t)) {
        const int saved_errno = errno;
        run_on_sample_stack(warm_libunwind, nullptr);
        errno = saved_errno;
    }
    // A sample stack of its own, while there is one to spare (see sample_stack.h). Not for samples
    // that never switch stacks (frame pointers; no libunwind).
    if ((unwinder == kLibunwind || unwinder == kCfi) && g_backtrace != nullptr && t.own_sample_stack == 0)
        t.own_sample_stack = claim_own_sample_stack();
}

void sampler_release_thread(ThreadState& t) {
    const uint32_t own = t.own_sample_stack;
    t.own_sample_stack = 0;  // first: a signal handler's sample from here on claims a shared one
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (own != 0) release_own_sample_stack(own);
}

uint64_t sampler_on_call(ThreadState& t, const Segment& seg, unsigned counter, uintptr_t caller,
                         wrappers::CallFrame frame) {
    // Sampling off (or no sample slot): back in 2^31 calls.
    if (t.sample_slot == nullptr) {
        t.sample_countdown = INT32_MAX;
        return 0;
    }
    // A signal handler that counted in between took a sample of its own (the countdown went
    // below zero): every call is still sampled at period 1, at most one early or late otherwise.
    t.sample_countdown = int32_t(seg.header->sampling.period);
    return t.shared ? take_sample<true>(t, seg, counter, caller, frame)
                    : take_sample<false>(t, seg, counter, caller, frame);
}

}  // namespace vdsotrace::tracer
