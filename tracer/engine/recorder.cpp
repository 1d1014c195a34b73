// The recording engine's slow paths: segment creation on the first call, thread slots, fork,
// thread and process exit. The hot path is inline in recorder.h.
#include "tracer/engine/recorder.h"

#include <limits.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "tracer/engine/alt_stack.h"
#include "tracer/engine/lifecycle.h"
#include "tracer/common/maps_lookup.h"
#include "tracer/engine/module_map.h"
#include "tracer/engine/sample_stack.h"
#include "tracer/engine/sampler.h"
#include "tracer/engine/process_tree.h"
#include "tracer/engine/segment_create.h"
#include "tracer/engine/slow_path.h"
#include "tracer/engine/segment_growth.h"
#include "tracer/engine/settings.h"
#include "tracer/common/text_util.h"
#include "tracer/python/cpython_frames.h"
#include "tracer/wrappers/file_symbols.h"
#include "tracer/wrappers/wrapper_sites.h"
#include "tracer/engine/thread_identity.h"
#include "tracer/engine/unload_log.h"

namespace vdsotrace::tracer {

__thread ThreadState t_thread __attribute__((tls_model("initial-exec")));
RecorderState g_recorder;
// True when threads get an alternate signal stack at slot claim (VDSOTRACE_CRASH=stack).
static bool g_crash_capture;

void note_crash_handlers(bool alt_stacks) {
    g_crash_capture = alt_stacks;
    note_crash_handlers_in_header();
}

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

enum : int { kUninit = 0, kCreating = 1, kReady = 2, kDisabled = 3 };

int g_state;                                 // the state machine above, atomic
Segment g_segment;                           // valid once g_state == kReady
uint64_t g_pending[format::kCounterSlots];  // see bump_pending()
int g_pending_any;
pthread_key_t g_exit_key;                    // its destructor marks a thread's slot exited
bool g_have_exit_key;
uint32_t g_retired_claimed;                  // entries of the segment's retired-callers table handed out
int g_own_pid;                               // getpid() at start-up and after fork; 0 = not known yet

void say(const char* text) {
    // One line on stderr, written in one call so it does not interleave with the program's output.
    static char line[768];  // only while creating the segment, one thread at a time: not on the stack
    TextBuffer b(line, sizeof line);
    b.add("vdsotrace: ")->add(text)->add("\n");
    ssize_t ignored = write(STDERR_FILENO, b.c_str(), b.size());
    (void)ignored;
}

unsigned char* shared_slot() { return g_segment.threads + size_t(g_segment.thread_capacity) * g_segment.slot_size; }

// Where a thread without a private slot counts: the shared overflow slot, reserved and marked on
// first use; when it cannot be reserved (the recording cannot grow), the exited-threads slot,
// which every recording has from the start and which is updated with atomics too.
unsigned char* overflow_slot() {
    unsigned char* slot = shared_slot();
    if (!reserve_once(&g_segment, &g_segment.shared_slot_ready, slot, g_segment.slot_size))
        return g_segment.exited_slot != nullptr ? g_segment.exited_slot : slot;
    auto* sh = reinterpret_cast<format::ThreadSlotHeader*>(slot);
    // Marked so readers can tell it from a thread.
    if (__atomic_load_n(&sh->state, __ATOMIC_RELAXED) != format::kThreadShared)
        __atomic_store_n(&sh->state, uint32_t(format::kThreadShared), __ATOMIC_RELEASE);
    return slot;
}

// Retires this thread's own caller entries at libraries unloaded since it last looked (defined
// with the rest of the unload handling at the end of this file).
void catch_up_with_unloads(ThreadState& t);

// Where the probe for a whole caller key starts, off the hot path: a multiplicative hash, since
// Python sites (format::kPythonSiteTag | index) are small consecutive numbers that
// format::caller_first_probe's shifts would pile into one run of entries.
uint32_t probe_of_key(uint64_t key) { return uint32_t((key * 0x9E3779B97F4A7C15ull) >> 40) & g_recorder.caller_mask; }

// Adds `n` calls of caller key `key` to a slot other threads update too (atomics).
void add_shared(unsigned char* slot, uint64_t key, uint64_t n) {
    auto* callers = reinterpret_cast<format::CallerEntry*>(slot + format::kSlotCallersOffset);
    const unsigned counter = format::caller_counter(key);
    const format::CallerMatch found = format::find_caller_entry(
        callers, g_recorder.caller_mask, probe_of_key(key), key, key, detail::Cas<true>{}, [key] { return key; }, [] {});
    if (found.entry != nullptr) {
        __atomic_fetch_add(&found.entry->count, n, __ATOMIC_RELAXED);
        return;
    }
    __atomic_fetch_add(reinterpret_cast<uint64_t*>(slot + format::slot_unattributed_offset(counter)), n,
                       __ATOMIC_RELAXED);
}

// Moves an exited thread's counts into the exited-threads slot, logs its name and total, zeroes
// the slot and gives it back. Runs on the exiting thread (its only writer), once per thread.
// A live reader may see the calls in both places, or in neither, for that instant; a recording
// read after the program is quiet is exact.
void recycle_slot(unsigned char* slot, const char* name) {
    auto* h = reinterpret_cast<format::ThreadSlotHeader*>(slot);
    auto* callers = reinterpret_cast<format::CallerEntry*>(slot + format::kSlotCallersOffset);
    uint64_t total = 0;
    for (uint32_t i = 0; i <= g_recorder.caller_mask; ++i) {
        const uint64_t key = callers[i].key;
        // Wrapper marks (format::kViaWrapperMark) have no count: skipped here too.
        if (key == 0 || callers[i].count == 0) continue;
        add_shared(g_segment.exited_slot, key, callers[i].count);
        total += callers[i].count;
    }
    for (unsigned c = 0; c < format::kCounterSlots; ++c) {
        const uint64_t n = *reinterpret_cast<uint64_t*>(slot + format::slot_unattributed_offset(c));
        if (n == 0) continue;
        __atomic_fetch_add(reinterpret_cast<uint64_t*>(g_segment.exited_slot + format::slot_unattributed_offset(c)), n,
                           __ATOMIC_RELAXED);
        total += n;
    }
    format::Header* hdr = g_segment.header;
    const uint32_t entry = __atomic_fetch_add(&hdr->tree.threads_logged, 1u, __ATOMIC_RELAXED);
    // No room to grow: the calls are kept (above), the name is not (the reader skips the entry).
    if (entry < g_segment.thread_log_capacity &&
        reserve_entry(&g_segment, &g_segment.thread_log_reserved, g_segment.thread_log, entry,
                      sizeof(format::ExitedThreadEntry), g_segment.thread_log_capacity)) {
        format::ExitedThreadEntry& e = g_segment.thread_log[entry];
        e.tid = h->tid;
        e.calls = total;
        memcpy(e.name, name, sizeof e.name);
        __atomic_store_n(&e.state, 1u, __ATOMIC_RELEASE);
    }
    memset(slot + format::kSlotUnattributedOffset, 0, g_segment.slot_size - format::kSlotUnattributedOffset);
    h->unattributed_getrandom = 0;
    h->tid = 0;
    memset(h->name, 0, sizeof h->name);
    __atomic_fetch_add(&hdr->tree.slots_recycled, 1u, __ATOMIC_RELAXED);
    __atomic_store_n(&h->state, uint32_t(format::kThreadRecycled), __ATOMIC_RELEASE);
}

void on_thread_exit(void* slot_ptr) {
    auto* slot = static_cast<unsigned char*>(slot_ptr);
    auto* h = reinterpret_cast<format::ThreadSlotHeader*>(slot);
    ThreadState& t = t_thread;
    if (t.slot != slot) return;  // not this segment's slot (cannot happen; never write blindly)
    // Let the program's own key destructors run first: they may read the clock (issue 12). Setting
    // the key again asks glibc for another round; the last round the loader allows is ours.
    // (Not in a ThreadSanitizer build of the engine's unit tests: TSan tears its own per-thread
    // state down in an earlier round, and the engine's atomics would then crash inside TSan. The
    // shim itself is never built with TSan.)
#if defined(__SANITIZE_THREAD__)
    constexpr unsigned kExitRounds = 1;
#else
    constexpr unsigned kExitRounds = PTHREAD_DESTRUCTOR_ITERATIONS;
#endif
    if (t.exit_rounds + 1 < kExitRounds && g_have_exit_key) {
        ++t.exit_rounds;
        pthread_setspecific(g_exit_key, slot_ptr);
        return;
    }
    // Entries of libraries unloaded since this thread's last call leave with their own module,
    // not under whatever is loaded at their addresses now.
    catch_up_with_unloads(t);
    // Calls this thread still makes (later TLS destructors, a signal handler right now) go to the
    // exited threads' slot, where its other calls are about to go too (or, in a segment without
    // one, the shared slot), and when sampling to the shared sample slot, with atomics: from here
    // on the slot may belong to another thread, and nothing of this thread points into it any
    // more. (The shared overflow slot showed such calls as a bogus "shared overflow slot" row.)
    t.fast_slot = nullptr;
    t.last_entry = nullptr;
    t.direct_entries[0] = t.direct_entries[1] = nullptr;
    t.wrap_key = 0;
    t.wrap_entry = nullptr;
    t.slot = g_segment.exited_slot != nullptr ? g_segment.exited_slot : overflow_slot();
    t.shared = 1;
    if (t.sample_slot != nullptr) {
        unsigned char* shared_sample = g_segment.sample_slots + size_t(g_segment.thread_capacity) * g_segment.sample_slot_size;
        const bool ok = reserve_once(&g_segment, &g_segment.shared_sample_ready, shared_sample, g_segment.sample_slot_size);
        t.sample_slot = ok ? shared_sample : nullptr;  // null: its last calls counted, not sampled
    }
    sampler_release_thread(t);
    release_alt_stack();
    stamp_activity();
    // Names are often set after the first call: the final one, kept in the slot by the shim's
    // pthread_setname_np and prctl (no system call here: the thread may run under a sandbox).
    char name[16];
    memcpy(name, h->name, sizeof name);
    name[15] = '\0';
    if (g_segment.exited_slot == nullptr) {
        memcpy(h->name, name, sizeof h->name);
        __atomic_store_n(&h->state, uint32_t(format::kThreadExited), __ATOMIC_RELEASE);
        return;
    }
    recycle_slot(slot, name);
}

// Calls made while their thread could not count yet (it was creating the segment or taking its
// slot, and a signal handler on it called the clock) wait here until that thread folds them in.
void bump_pending(unsigned counter) {
    __atomic_fetch_add(&g_pending[counter], 1, __ATOMIC_RELAXED);
    __atomic_store_n(&g_pending_any, 1, __ATOMIC_RELEASE);
}

// Moves pending calls into `slot` as unattributed calls (their return addresses were not kept).
void fold_pending(unsigned char* slot) {
    if (__atomic_load_n(&g_pending_any, __ATOMIC_ACQUIRE) == 0) return;
    __atomic_store_n(&g_pending_any, 0, __ATOMIC_RELAXED);
    for (unsigned i = 0; i < format::kCounterSlots; ++i) {
        uint64_t n = __atomic_exchange_n(&g_pending[i], 0, __ATOMIC_RELAXED);
        if (n != 0)
            __atomic_fetch_add(reinterpret_cast<uint64_t*>(slot + format::slot_unattributed_offset(i)), n,
                               __ATOMIC_RELAXED);
    }
}

// A slot an exited thread gave back, now this thread's; null when there is none.
unsigned char* reuse_recycled_slot() {
    if (g_segment.exited_slot == nullptr) return nullptr;
    // Only slots the file backs (an index whose reservation failed lies past the file's end).
    const uint64_t backed = reserved_entries(g_segment, &g_segment.threads_reserved, g_segment.slot_size,
                                             g_segment.thread_capacity);
    for (uint32_t i = 0; i < backed; ++i) {
        unsigned char* slot = g_segment.threads + size_t(i) * g_segment.slot_size;
        auto* sh = reinterpret_cast<format::ThreadSlotHeader*>(slot);
        uint32_t recycled = format::kThreadRecycled;
        if (__atomic_load_n(&sh->state, __ATOMIC_ACQUIRE) == recycled &&
            __atomic_compare_exchange_n(&sh->state, &recycled, uint32_t(format::kThreadFree), false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
            return slot;
    }
    return nullptr;
}

// The lowest usable byte of this thread's stack, for the headroom watch (0: unknown, no watch).
// The main thread's stack grows on demand down to RLIMIT_STACK below its top; AT_EXECFN points
// into its top page, so no /proc read is needed. Other threads' stacks are found in
// /proc/self/maps, which costs 0.1-0.3 ms a thread on the machines measured: only with
// VDSOTRACE_HEADROOM=threads.
bool g_headroom_threads;

uintptr_t stack_low_of_this_thread() {
    if (current_tid() == process_id()) {
        const uintptr_t top = getauxval(AT_EXECFN);
        rlimit lim{};
        if (top == 0 || getrlimit(RLIMIT_STACK, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur >= top)
            return 0;
        return top - uintptr_t(lim.rlim_cur);
    }
    if (!g_headroom_threads) return 0;
    const uintptr_t sp = stack_pointer();
    MapRange at, above;
    if (sp == 0 || !lookup_mappings(sp, &at, &above) || at.end == 0) return 0;
    return uintptr_t(at.start);
}

unsigned char* claim_thread_slot(ThreadState& t) {
    // Between taking an index and publishing it in t.slot, a signal handler on this thread must
    // not take a second one: in_init sends its calls to g_pending instead. in_init is raised
    // before t.slot is looked at: a handler that ran before that has finished its own claim and
    // t.slot shows it; one that runs after counts aside. (Checking t.slot first left a window in
    // which a handler claimed a slot that this thread then claimed again.)
    t.in_init = 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (t.slot != nullptr) {  // a signal handler on this thread got here first
        t.in_init = 0;
        return t.slot;
    }
    // A fresh (or recycled, zeroed) slot holds nothing of a library unloaded before now.
    t.module_generation = __atomic_load_n(&g_recorder.module_generation, __ATOMIC_ACQUIRE);
    format::Header* h = g_segment.header;
    // One locked instruction per thread lifetime, not per call.
    const uint64_t index = __atomic_fetch_add(&h->threads_claimed, 1, __ATOMIC_RELAXED);
    // Slots beyond the first thread_capacity threads come from threads that exited and gave theirs
    // back; when none is free, the shared overflow slot.
    // A new index is backed first (the segment grows by one slot); when it cannot be, the thread
    // counts in the overflow slot like threads beyond capacity.
    unsigned char* slot = nullptr;
    if (index >= g_segment.thread_capacity)
        slot = reuse_recycled_slot();
    else if (reserve_entry(&g_segment, &g_segment.threads_reserved, g_segment.threads, index, g_segment.slot_size,
                           g_segment.thread_capacity))
        slot = g_segment.threads + index * g_segment.slot_size;
    const bool shared = slot == nullptr;
    if (shared) slot = overflow_slot();
    t.shared = shared;
    // The sample slot goes with the thread slot (a recycled slot is not at `index`). Bound before
    // the slot is published, so no call this thread counts (from a signal handler meanwhile) goes
    // unsampled.
    const uint64_t slot_index = uint64_t(slot - g_segment.threads) / g_segment.slot_size;
    sampler_bind_thread(t, g_segment, slot_index, shared, g_recorder.sample_period);
    t.slot = slot;
    t.in_init = 0;  // from here on, this thread's handlers count straight into the slot
    if (shared) {
        // (A slot that could not be reserved is told by kFlagGrowthFailed, which growth sets.)
        if (index >= g_segment.thread_capacity)
            __atomic_fetch_or(&h->flags, uint32_t(format::kFlagThreadsFull), __ATOMIC_RELAXED);
    } else {
        auto* sh = reinterpret_cast<format::ThreadSlotHeader*>(slot);
        // No system call (thread_identity.h): a thread started under a strict seccomp filter must
        // survive its first clock call.
        sh->tid = current_tid();
        known_thread_name(t, sh->name);
        sh->claimed_monotonic_ns = monotonic_ns();
        __atomic_store_n(&sh->state, uint32_t(format::kThreadLive), __ATOMIC_RELEASE);
        if (g_have_exit_key) pthread_setspecific(g_exit_key, slot);
        if (g_crash_capture) ensure_alt_stack();  // cold: once per thread
        t.stack_low = stack_low_of_this_thread();
    }
    fold_pending(slot);
    if (!t.shared && t.busy == 0) t.fast_slot = slot;
    return slot;
}

// Creates the segment. Runs once per process (again in a forked child).
bool create() {
    SlowPathGuard slow;  // file system calls: no cancellation acted on in a clock call
    Settings settings;
    // Static: segments are created by one thread at a time, and the first call's stack need stays
    // small (issue 12).
    static char problems[512];
    read_settings(&settings, problems, sizeof problems);
    if (problems[0] != '\0') {
        static char line[640];
        TextBuffer(line, sizeof line).add("ignoring bad settings:")->add(problems);
        say(line);
    }
    static char error[384];
    if (!create_segment(settings, &g_segment, error, sizeof error)) {
        static char line[512];
        TextBuffer(line, sizeof line).add(error)->add("; not recording, calls pass through unchanged");
        say(line);
        return false;
    }
    link_into_tree(g_segment.header);
    g_recorder.caller_mask = settings.callers - 1;
    g_recorder.sample_period = settings.sample;
    const char* headroom = getenv("VDSOTRACE_HEADROOM");
    g_headroom_threads = headroom != nullptr && headroom[0] == 't';
    if (!g_have_exit_key) g_have_exit_key = pthread_key_create(&g_exit_key, on_thread_exit) == 0;
    wrappers::load_user_wrappers();
    wrappers::bind_segment(&g_segment);
    return true;
}

}  // namespace

// Creates the segment if needed and hands this thread a slot; null when nothing can be recorded.
static unsigned char* claim_slot() {
    ThreadState& t = t_thread;
    int state = __atomic_load_n(&g_state, __ATOMIC_ACQUIRE);
    if (state == kReady) return claim_thread_slot(t);
    if (state == kDisabled) return nullptr;
    int expected = kUninit;
    // Raised before the state changes: a signal handler on this thread that found kCreating set
    // by this very thread would wait for it forever. Meanwhile its calls count into g_pending.
    t.in_init = 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (__atomic_compare_exchange_n(&g_state, &expected, kCreating, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        const bool ok = create();
        __atomic_store_n(&g_state, ok ? kReady : kDisabled, __ATOMIC_RELEASE);
        t.in_init = 0;
        return ok ? claim_thread_slot(t) : nullptr;  // folds what the handlers counted
    }
    t.in_init = 0;
    // Another thread creates the segment; it takes tens of microseconds.
    while ((state = __atomic_load_n(&g_state, __ATOMIC_ACQUIRE)) == kCreating) cpu_relax();
    return state == kReady ? claim_thread_slot(t) : nullptr;
}

// A vfork child (glibc's posix_spawn too) runs on its parent's memory and on the TLS of the
// thread that vforked, until it execs or exits. Calls it makes where that thread has a slot count
// there (the thread is suspended meanwhile, so the slot still has one writer): in the parent's
// recording. Here it has none: it must neither claim a slot nor create a segment the parent would
// then record into under the child's pid. Its calls go to the shared overflow slot, or wait aside
// until the parent creates its segment.
// Told without a system call where the shim saw the child made: its vfork marks the TLS the child
// runs on (ThreadState::vfork_child). Only after a clone(CLONE_VM) without CLONE_SETTLS, whose
// child shares the TLS while both run, is getpid() asked (and everywhere but x86_64, where the
// shim has no vfork of its own): exit() made a getpid on every process, which a sandbox may kill.
static bool g_tls_shared_by_clone;
static bool in_vfork_child() {
    if (t_thread.vfork_child != 0) return true;
#if defined(__x86_64__)
    if (!__atomic_load_n(&g_tls_shared_by_clone, __ATOMIC_ACQUIRE)) return false;
#endif
    return g_own_pid != 0 && getpid() != g_own_pid;
}

void note_vfork_child(bool child) { t_thread.vfork_child = child ? 1 : 0; }

void note_tls_shared_by_clone() { __atomic_store_n(&g_tls_shared_by_clone, true, __ATOMIC_RELEASE); }

// Renames the slot of thread `tid` (the shim's pthread_setname_np on another thread). Cold.
void rename_thread_slot(int32_t tid, const char* name) {
    if (tid <= 0 || __atomic_load_n(&g_state, __ATOMIC_ACQUIRE) != kReady) return;
    // Only slots the file backs: a thread that has no slot yet must not walk past the file's end.
    const uint64_t backed = reserved_entries(g_segment, &g_segment.threads_reserved, g_segment.slot_size,
                                             g_segment.thread_capacity);
    for (uint32_t i = 0; i < backed; ++i) {
        auto* sh = reinterpret_cast<format::ThreadSlotHeader*>(g_segment.threads + size_t(i) * g_segment.slot_size);
        if (__atomic_load_n(&sh->state, __ATOMIC_ACQUIRE) == format::kThreadLive && sh->tid == tid) {
            copy_thread_name(sh->name, name);
            return;
        }
    }
}

void note_own_thread_name(const char* name) {
    ThreadState& t = t_thread;
    copy_thread_name(t.name, name);
    if (current_tid() == process_id()) set_main_thread_name(name);
    if (t.slot != nullptr && !t.shared && __atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == kReady)
        copy_thread_name(reinterpret_cast<format::ThreadSlotHeader*>(t.slot)->name, name);
}

static void count_for_vfork_child(unsigned counter, uintptr_t caller) {
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == kReady) {
        detail::count_into<true>(overflow_slot(), counter, caller);
        return;
    }
    bump_pending(counter);
}

void record_slow(unsigned counter, uintptr_t caller, bool may_sample, wrappers::CallFrame frame) {
    ThreadState& t = t_thread;
    if (t.busy != 0) return;  // the shim's own work
    if (t.in_init) {
        // A signal handler interrupted this thread while it creates the segment or takes its slot.
        bump_pending(counter);
        return;
    }
    if (modules_changed(t)) catch_up_with_unloads(t);
    unsigned char* slot = t.slot;
    if (slot == nullptr) {
        // Recording impossible (said once on stderr): every call passes through at about native
        // cost, with no system call (in_vfork_child's getpid cost 286 ns a call; issue 12).
        const int state = __atomic_load_n(&g_state, __ATOMIC_ACQUIRE);
        if (state == kDisabled) return;
        // Only before the segment exists does a vfork child need telling apart (it must not
        // create one under its own pid): a thread's first call in a recording process makes no
        // system call, and survives a strict seccomp filter installed before the thread began. A
        // vfork child claiming a slot for the suspended thread whose TLS it runs on claims it
        // for that thread (the id comes from its descriptor), where its calls belong.
        if (state != kReady && in_vfork_child()) {
            count_for_vfork_child(counter, caller);
            return;
        }
        const int saved_errno = errno;  // the program must not see our syscalls' errno
        slot = claim_slot();
        errno = saved_errno;
        if (slot == nullptr) return;
    }
    if (may_sample) {  // calls from the redirected vDSO run on the Go runtime's stacks: not ours to watch
        const uint64_t headroom = uint64_t(stack_pointer() - t.stack_low);
        if (headroom < format::kHeadroomWatch) note_low_headroom(counter, caller, headroom);
    }
    if (t.shared)
        detail::count_into<true>(slot, counter, caller, frame);
    else
        detail::count_into<false>(slot, counter, caller, frame);
    if (may_sample && sample_due()) sampler_on_countdown(counter, caller, frame);
}

void share_thread_state_with_clone() {
    ThreadState& t = t_thread;
    if (t.busy != 0 || t.in_init) return;  // the shim's own work, or a handler inside a claim: never
    const int saved_errno = errno;  // creating the segment must not change the program's errno
    // The slot is claimed now, while one process runs on this TLS: two claiming at once would
    // both write it.
    if (t.slot == nullptr && __atomic_load_n(&g_state, __ATOMIC_ACQUIRE) != kDisabled && !in_vfork_child())
        claim_slot();
    errno = saved_errno;
    if (t.slot == nullptr) return;  // nothing recorded: nothing to share
    // From here on every call of this thread and of the clone takes the slow path, which counts
    // with locked atomics into the same slot (count_into<true>): exact, at the cost of the
    // slow path for this one thread. Other threads keep their own TLS and fast path.
    t.shared = 1;
    t.fast_slot = nullptr;
    t.last_entry = nullptr;
    t.direct_entries[0] = t.direct_entries[1] = nullptr;
    t.wrap_key = 0;
    t.wrap_entry = nullptr;
}

// Set once the program announced a sandbox (prepare_for_sandbox): from then on the shim makes no
// system call it can do without (a reaped child's status is then not written: that scan of
// /dev/shm needs open, getdents, getpid, which a filter may kill).
static bool g_sandbox_announced = false;

bool sandbox_announced() { return __atomic_load_n(&g_sandbox_announced, __ATOMIC_ACQUIRE); }

void prepare_for_sandbox() {
    __atomic_store_n(&g_sandbox_announced, true, __ATOMIC_RELEASE);
    ThreadState& t = t_thread;
    if (t.busy != 0 || t.in_init) return;  // the shim's own work, or a handler inside a claim
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == kDisabled || in_vfork_child()) return;
    SlowPathGuard slow;  // errno (the program's prctl sets it itself) and cancellation, as they were
    if (t.slot == nullptr) {
        claim_slot();
        // New call sites are decided (is it inside a clock wrapper?) from the modules' files: read
        // them now, and none after.
        if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == kReady) wrappers::read_files_before_sandbox();
    }
    // Growing the recording takes system calls the sandbox may refuse: back its whole layout now,
    // so nothing grows after the filter (segment_growth.h).
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == kReady) {
        BusyGuard busy;
        reserve_whole(&g_segment);
    }
}

format::Header* ensure_segment() {
    if (t_thread.in_init) return nullptr;
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) != kReady && claim_slot() == nullptr) return nullptr;
    return g_segment.header;
}

void stamp_activity(uint64_t coarse_now) {
    format::Header* h = __atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == kReady ? g_segment.header : nullptr;
    if (h == nullptr) return;
    // Plain loads and stores (no lock prefix), forward only and at most once a millisecond: many
    // threads stamping at once write the line rarely. One that loses a race leaves a stamp at
    // most a millisecond older, still a time the process was alive. The coarse clock (never
    // ahead of the precise one) says whether a millisecond has passed: a sampled call comes here
    // every time, and the precise read was a sixth of a 15-frame sample's cost.
    // A sampled call passes the coarse time its ring entry took: one clock read a sample, not two.
    uint64_t* stamp = &h->last_activity_monotonic_ns;
    const uint64_t last = __atomic_load_n(stamp, __ATOMIC_RELAXED);
    if (coarse_now != 0 && coarse_now < last + 1'000'000) return;
    const int saved_errno = errno;  // (the clock is the vDSO's; only without one a syscall)
    if (coarse_now != 0 || monotonic_coarse_ns() >= last + 1'000'000) {
        const uint64_t now = monotonic_ns();
        if (now >= last + 1'000'000) __atomic_store_n(stamp, now, __ATOMIC_RELAXED);
    }
    errno = saved_errno;
}

void sampler_on_countdown(unsigned counter, uintptr_t caller, wrappers::CallFrame frame) {
    ThreadState& t = t_thread;
    const uint64_t coarse_now = sampler_on_call(t, g_segment, counter, caller, frame);
    // Without sampling, the countdown every call decrements anyway comes back every
    // kActivityStampCalls calls (the sampler would re-arm it for 2^31) to stamp the last activity:
    // no instruction more on the hot path. With sampling it comes back every sampled call.
    if (t.sample_slot == nullptr) t.sample_countdown = kActivityStampCalls;
    stamp_activity(coarse_now);
}

format::CrashRecord* crash_record_for_write() {
    ThreadState& t = t_thread;
    if (t.in_init) return nullptr;  // the fault interrupted this thread creating the segment
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) != kReady && claim_slot() == nullptr) return nullptr;
    return g_segment.crash;
}

void note_low_headroom(unsigned counter, uintptr_t caller, uint64_t headroom) {
    format::HeadroomEntry* table = g_segment.headroom;
    if (table == nullptr) return;
    const uint64_t key = format::caller_key(counter, caller);
    for (uint32_t i = 0; i < g_segment.headroom_capacity; ++i) {
        format::HeadroomEntry& e = table[i];
        uint64_t seen = __atomic_load_n(&e.key, __ATOMIC_ACQUIRE);
        if (seen == 0) {
            uint64_t expected = 0;
            if (__atomic_compare_exchange_n(&e.key, &expected, key, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                seen = key;
                // min starts at 0 = "none yet": the first store below sets it.
            } else {
                seen = expected;
            }
        }
        if (seen != key) continue;
        uint64_t cur = __atomic_load_n(&e.min_headroom, __ATOMIC_RELAXED);
        // Stored as headroom + 1 so that 0 means "nothing yet".
        while ((cur == 0 || headroom + 1 < cur) &&
               !__atomic_compare_exchange_n(&e.min_headroom, &cur, headroom + 1, false, __ATOMIC_RELAXED,
                                            __ATOMIC_RELAXED)) {
        }
        __atomic_fetch_add(&e.calls, 1, __ATOMIC_RELAXED);
        return;
    }
    __atomic_fetch_or(&g_segment.header->flags, format::kFlagHeadroomFull, __ATOMIC_RELAXED);
}

format::Header* segment_header() {
    return __atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == kReady ? g_segment.header : nullptr;
}

void ensure_caller_module(uintptr_t address) {
    if (segment_header() != nullptr) ensure_module(&g_segment, address);
}

void note_caller_address(uintptr_t address) {
    const int saved_errno = errno;
    ensure_module(&g_segment, address);
    errno = saved_errno;
    stamp_activity();  // a new call site: the slow path, where a stamp costs nothing worth noting
}

void after_fork_in_child() {
    // The child shares the parent's mapping: forget it, so the child's first call creates the
    // child's own segment. Only the forking thread exists here.
    const bool parent_recorded = __atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == kReady;
    remember_fork_parent(parent_recorded ? g_segment.header : nullptr);
    if (parent_recorded) munmap(g_segment.header, g_segment.size);
    g_segment = Segment{};
    thread_identity_after_fork(t_thread);
    g_own_pid = process_id();
    // The forking thread's exit handler would otherwise fold the parent's slot, now unmapped here.
    if (g_have_exit_key) pthread_setspecific(g_exit_key, nullptr);
    t_thread.slot = nullptr;
    t_thread.fast_slot = nullptr;
    t_thread.last_entry = nullptr;
    t_thread.direct_entries[0] = t_thread.direct_entries[1] = nullptr;
    t_thread.wrap_key = 0;
    t_thread.wrap_entry = nullptr;
    wrappers::forget_sites_after_fork();
    t_thread.shared = 0;
    t_thread.in_init = 0;
    t_thread.module_generation = __atomic_load_n(&g_recorder.module_generation, __ATOMIC_ACQUIRE);
    t_thread.sample_countdown = 0;
    t_thread.sample_slot = nullptr;
    t_thread.in_sample = 0;
    // The other threads' sample stacks (owned, or in use at the fork) are nobody's here.
    sample_stacks_after_fork(t_thread.own_sample_stack, stack_pointer());
    memset(g_pending, 0, sizeof g_pending);
    g_retired_claimed = 0;
    __atomic_store_n(&g_state, kUninit, __ATOMIC_RELEASE);
}

void at_process_start() {
    learn_thread_identity();
    // A clock call before this constructor (redis: jemalloc's constructor reads the clock) claimed
    // the main thread's slot before its name was known: name it now.
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == kReady && t_thread.slot != nullptr && !t_thread.shared) {
        auto* sh = reinterpret_cast<format::ThreadSlotHeader*>(t_thread.slot);
        if (sh->name[0] == '\0') known_thread_name(t_thread, sh->name);
    }
    g_own_pid = process_id();
    settle_own_session();
    apply_follow_exec_setting();
}

namespace {

// The header of this process's recording as the process ends (exit, or the shim's destructor),
// with the unloads it missed caught up and its end times noted once; null when there is none to
// end: not ready, or exit() in a vfork child or a clone(CLONE_VM) child, which runs on its parent's
// memory (the recording is the parent's, which has not ended).
format::Header* ending_header() {
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) != kReady) return nullptr;
    if (in_vfork_child()) return nullptr;
    if (modules_changed(t_thread)) catch_up_with_unloads(t_thread);
    format::Header* h = g_segment.header;
    if (h->end_monotonic_ns == 0) {
        h->end_monotonic_ns = monotonic_ns();
        h->end_realtime_ns = realtime_ns();
    }
    return h;
}

}  // namespace

void at_process_end() {
    format::Header* h = ending_header();
    if (h == nullptr) return;
    uint32_t running = format::kStateRunning;
    __atomic_compare_exchange_n(&h->state, &running, uint32_t(format::kStateEnded), false, __ATOMIC_RELEASE,
                                __ATOMIC_RELAXED);
}

void at_process_exit(int status) {
    format::Header* h = ending_header();
    if (h == nullptr) return;
    h->exit_value = status & 0xff;  // what the parent's wait() will see
    // Handlers registered before the loader's own exit handler run after the destructors, so
    // the shim's destructor may have marked the recording ended already.
    uint32_t seen = format::kStateRunning;
    if (!__atomic_compare_exchange_n(&h->state, &seen, uint32_t(format::kStateExited), false, __ATOMIC_RELEASE,
                                     __ATOMIC_RELAXED) &&
        seen == format::kStateEnded)
        __atomic_compare_exchange_n(&h->state, &seen, uint32_t(format::kStateExited), false, __ATOMIC_RELEASE,
                                    __ATOMIC_RELAXED);
}

// ---- Calls through clock wrappers -------------------------------------------------------------

namespace {

// The upper end of this thread's stack (1: unknown), without a system call: a thread started under
// a strict seccomp filter must survive its first call through a wrapper (this read
// /proc/self/maps). The main thread's stack mapping ends with the page holding AT_EXECFN; a glibc
// thread's stack (and its static TLS above it) ends at its descriptor, also for a stack the program
// gave it (glibc carves the descriptor from the top of that stack).
uintptr_t stack_end_of_this_thread() {
    const uintptr_t sp = stack_pointer();
    uintptr_t end = uintptr_t(pthread_self());
    if (current_tid() == process_id()) {
        const uintptr_t page = getauxval(AT_PAGESZ) != 0 ? getauxval(AT_PAGESZ) : 4096;
        const uintptr_t execfn = getauxval(AT_EXECFN);
        end = execfn != 0 ? (execfn + page - 1) & ~(page - 1) : 0;
    }
    return sp != 0 && end > sp ? end : 1;
}

// Counts one call of `key` exactly (wrapper marks play no part): returns the entry, or null when
// the table had no room (the call went to `unattributed`).
template <bool kShared>
format::CallerEntry* count_key(unsigned char* slot, uint64_t key) {
    auto* callers = reinterpret_cast<format::CallerEntry*>(slot + format::kSlotCallersOffset);
    const unsigned counter = format::caller_counter(key);
    const uintptr_t address = format::caller_address(key);
    const format::CallerMatch found = format::find_caller_entry(
        callers, g_recorder.caller_mask, probe_of_key(key), key, key, detail::Cas<kShared>{}, [key] { return key; },
        [address] {
            if (address != 0 && !(address & format::kPythonSiteTag)) note_caller_address(address);
        });
    if (found.entry != nullptr) {
        kShared ? detail::bump_shared(&found.entry->count) : detail::bump_local(&found.entry->count);
        return found.entry;
    }
    auto* unattributed = reinterpret_cast<uint64_t*>(slot + format::slot_unattributed_offset(counter));
    kShared ? detail::bump_shared(unattributed) : detail::bump_local(unattributed);
    return nullptr;
}

}  // namespace

bool detail::wrapper_site_for_table(uintptr_t caller) {
    const int saved_errno = errno;
    const bool wrapper = wrappers::is_wrapper_site(caller);
    errno = saved_errno;
    return wrapper;
}

template <bool kShared>
__attribute__((noinline)) void detail::count_through_wrapper(unsigned char* slot, unsigned counter, uintptr_t site,
                                                             wrappers::CallFrame frame) {
    ThreadState& t = t_thread;
    uintptr_t stack_end = t.wrap_stack_end;
    if (stack_end == 0) t.wrap_stack_end = stack_end = stack_end_of_this_thread();
    unsigned via = 0;
    uintptr_t outer = 0;
    bool python = false;
    if (frame.cfa != 0 && site == t.py_c_site) {
        // The interpreter's C call site this thread called through last (time.monotonic() in a
        // loop): decided already; only the Python frame is read.
        const int saved_errno = errno;  // (the runtime's first reads are system calls)
        via = t.py_c_via;
        if ((outer = python::current_site()) == 0) via = 0;
        errno = saved_errno;
    } else if (frame.cfa != 0) {
        const int saved_errno = errno;  // a decision made now may read files
        outer = wrappers::step_out(site, frame, stack_end > 1 ? stack_end : 0, &via, &python);
        if (python && via != 0) {
            t.py_c_site = 0;  // (a signal handler's call in between sees no half-written pair)
            asm volatile("" ::: "memory");
            t.py_c_via = via;
            asm volatile("" ::: "memory");
            t.py_c_site = site;
        }
        // A call from CPython: the Python call site of this thread's current frame; without one
        // (no Python code running on this thread, a check failed) counted at the C site.
        if (python && (outer = python::current_site()) == 0) via = 0;
        errno = saved_errno;
    }
    // No room for the wrapper site in the segment: counted at the site itself.
    const uint64_t key = via != 0 ? format::caller_key(counter, outer, via) : format::caller_key(counter, site);
    if (!kShared) {
        t.wrap_key = format::caller_key(counter, site);
        format::CallerEntry* e = t.wrap_entry;
        if (e != nullptr && __atomic_load_n(&e->key, __ATOMIC_RELAXED) == key) {
            bump_local(&e->count);
            return;
        }
        if ((e = count_key<false>(slot, key)) != nullptr) t.wrap_entry = e;
        return;
    }
    count_key<true>(slot, key);
}
template void detail::count_through_wrapper<false>(unsigned char*, unsigned, uintptr_t, wrappers::CallFrame);
template void detail::count_through_wrapper<true>(unsigned char*, unsigned, uintptr_t, wrappers::CallFrame);

// ---- Unloaded libraries (format: RetiredCallerEntry) -------------------------------------------

namespace {

// Adds `n` calls of `key`, counted by thread `tid` in module `module` before it was unloaded, to
// the retired-callers table; when it is full, to the exited threads' (else the shared) slot's
// unattributed calls, which every thread updates with atomics.
void add_retired(uint64_t key, uint64_t n, int32_t tid, uint32_t module) {
    format::RetiredCallerEntry* table = g_segment.retired;
    uint32_t claimed = __atomic_load_n(&g_retired_claimed, __ATOMIC_ACQUIRE);
    const uint64_t backed = reserved_entries(g_segment, &g_segment.retired_reserved, sizeof(format::RetiredCallerEntry),
                                             g_segment.retired_capacity);
    if (claimed > backed) claimed = uint32_t(backed);
    for (uint32_t i = 0; table != nullptr && i < claimed; ++i) {
        format::RetiredCallerEntry& e = table[i];
        if (__atomic_load_n(&e.state, __ATOMIC_ACQUIRE) == 2 && e.key == key && e.tid == tid && e.module == module) {
            __atomic_fetch_add(&e.count, n, __ATOMIC_RELAXED);
            return;
        }
    }
    const uint32_t index = table != nullptr ? __atomic_fetch_add(&g_retired_claimed, 1u, __ATOMIC_ACQ_REL) : UINT32_MAX;
    if (index < g_segment.retired_capacity &&
        reserve_entry(&g_segment, &g_segment.retired_reserved, table, index, sizeof(format::RetiredCallerEntry),
                      g_segment.retired_capacity)) {
        format::RetiredCallerEntry& e = table[index];
        __atomic_store_n(&e.state, 1u, __ATOMIC_RELAXED);
        e.tid = tid;
        e.module = module;
        e.key = key;
        __atomic_store_n(&e.count, n, __ATOMIC_RELAXED);
        __atomic_store_n(&e.state, 2u, __ATOMIC_RELEASE);
        return;
    }
    unsigned char* bucket = g_segment.exited_slot != nullptr ? g_segment.exited_slot : shared_slot();
    __atomic_fetch_add(reinterpret_cast<uint64_t*>(bucket + format::slot_unattributed_offset(format::caller_counter(key))),
                       n, __ATOMIC_RELAXED);
    __atomic_fetch_or(&g_segment.header->flags, format::kFlagRetiredFull, __ATOMIC_RELAXED);
}

// Retires every caller entry of `slot` whose call site lies in [start, end): the count moves to the
// retired table under `module`, and the entry is freed, so the next library loaded there counts
// into fresh entries (and gets its module noted and its wrapper sites decided again). `own`: the
// calling thread is the slot's only writer (and its signal handlers, which never count at an
// unloaded library's addresses): the key is cleared and the entry claimed again later. A key
// further along the probe chain may then be claimed twice; readers add a thread's entries of one
// key, so counts stay exact, and a library closed and reopened in a loop does not fill the table.
// Otherwise (the shared and exited-threads slots, written with atomics by every thread) the key
// becomes a tombstone, never a live key; a write that raced with the retirement (a library
// reloaded at once by a thread counting in the shared slot) stays in it, and readers count it at
// its address. No write can be in flight at these addresses from a call of the unloaded library
// itself: a call cannot be under way while its library is unloaded.
void retire_slot_range(unsigned char* slot, int32_t tid, uintptr_t start, uintptr_t end, uint32_t module, bool own) {
    auto* callers = reinterpret_cast<format::CallerEntry*>(slot + format::kSlotCallersOffset);
    for (uint32_t i = 0; i <= g_recorder.caller_mask; ++i) {
        format::CallerEntry& e = callers[i];
        const uint64_t key = __atomic_load_n(&e.key, __ATOMIC_ACQUIRE);
        const uint64_t address = format::caller_address(key);
        if (key == 0 || (address & format::kPythonSiteTag) || address == 0 || address - 1 < start ||
            address - 1 >= end)
            continue;
        if (!own) __atomic_store_n(&e.key, format::retired_tombstone(key), __ATOMIC_RELEASE);
        if (format::caller_via(key) != format::kViaWrapperMark) {  // a mark is a note, no count
            const uint64_t n = __atomic_exchange_n(&e.count, 0, __ATOMIC_ACQ_REL);
            if (n != 0) add_retired(key, n, tid, module);
        }
        if (own) __atomic_store_n(&e.key, uint64_t(0), __ATOMIC_RELEASE);
    }
}

// A thread too far behind the unload log (more than kUnloadLogEntries unloads while it made no
// call): every entry inside a module marked unloaded is retired under that module (the first such
// module holding it). Nothing is lost; with several libraries unloaded in turn at one range, the
// calls may be named after another of them.
void retire_slot_by_module_table(unsigned char* slot, int32_t tid) {
    uint64_t claimed = __atomic_load_n(&g_segment.header->modules_claimed, __ATOMIC_ACQUIRE);
    if (claimed > g_segment.module_capacity) claimed = g_segment.module_capacity;
    for (uint64_t i = 0; i < claimed; ++i) {
        const format::ModuleEntry& m = g_segment.modules[i];
        if (__atomic_load_n(&m.state, __ATOMIC_ACQUIRE) == format::kModuleReady &&
            (__atomic_load_n(&m.flags, __ATOMIC_ACQUIRE) & format::kModuleUnloaded))
            retire_slot_range(slot, tid, uintptr_t(m.start), uintptr_t(m.end), uint32_t(i), true);
    }
}

// Serializes the dlclose side (log and generation); readers never take it.
int g_unload_lock;

}  // namespace

namespace {

void catch_up_with_unloads(ThreadState& t) {
    const uint32_t now = __atomic_load_n(&g_recorder.module_generation, __ATOMIC_ACQUIRE);
    if (t.module_generation == now) return;
    unsigned char* slot = t.slot;
    // The shared overflow and exited-threads slots were retired by dlclose itself.
    const bool own = slot != nullptr && __atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == kReady && slot != shared_slot() &&
                     slot != g_segment.exited_slot;
    if (own) {
        const int saved_errno = errno;
        const int32_t tid = reinterpret_cast<const format::ThreadSlotHeader*>(slot)->tid;
        const bool complete = for_each_unload_since(t.module_generation, [&](const UnloadEvent& e) {
            retire_slot_range(slot, tid, e.start, e.end, e.module, true);
        });
        if (!complete) retire_slot_by_module_table(slot, tid);
        errno = saved_errno;
    }
    // The entries and decisions this thread kept for its next call may be of the retired ones.
    t.last_entry = nullptr;
    t.direct_entries[0] = t.direct_entries[1] = nullptr;
    t.wrap_key = 0;
    t.wrap_entry = nullptr;
    t.py_c_site = 0;
    // Last: a signal handler that lands in the walk above does the walk again (retiring is
    // idempotent) rather than count into an entry not retired yet.
    t.module_generation = now;
}

}  // namespace

void forget_unloaded_modules() {
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) != kReady) return;
    // No BusyGuard: nothing here reads the clock, and a signal handler's clock call meanwhile is
    // the program's, to be counted (the guard dropped them: the sampling stress test's handler
    // lost calls that way).
    const int saved_errno = errno;
    while (__atomic_exchange_n(&g_unload_lock, 1, __ATOMIC_ACQUIRE) != 0) cpu_relax();
    uint32_t unloaded[64];
    uint32_t n;
    uint32_t generation = 0;
    while ((n = mark_unloaded_modules(&g_segment, unloaded, 64)) != 0) {
        for (uint32_t u = 0; u < n; ++u) {
            const format::ModuleEntry& m = g_segment.modules[unloaded[u]];
            const uintptr_t start = uintptr_t(m.start), end = uintptr_t(m.end);
            wrappers::forget_decisions_in(start, end);
            // Slots with many writers, all counting with atomics: retired here, at once. The shared
            // one only once the file backs it (in a growing recording it may lie past the file's end).
            const bool shared_backed =
                !__atomic_load_n(&g_segment.growable, __ATOMIC_ACQUIRE) ||
                __atomic_load_n(&g_segment.shared_slot_ready, __ATOMIC_ACQUIRE) != 0;
            if (shared_backed) retire_slot_range(shared_slot(), 0, start, end, unloaded[u], false);
            if (g_segment.exited_slot != nullptr)
                retire_slot_range(g_segment.exited_slot, 0, start, end, unloaded[u], false);
            generation = log_unload(unloaded[u], start, end);
        }
    }
    // Published once every unload of this dlclose is in the log: each thread retires its own slot.
    if (generation != 0) __atomic_store_n(&g_recorder.module_generation, generation, __ATOMIC_RELEASE);
    __atomic_store_n(&g_unload_lock, 0, __ATOMIC_RELEASE);
    errno = saved_errno;
}

const char* segment_name() {
    return __atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == kReady ? g_segment.name : nullptr;
}

}  // namespace vdsotrace::tracer
