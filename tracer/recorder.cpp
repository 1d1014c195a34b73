// The recording engine's slow paths: segment creation on the first call, thread slots, fork,
// thread and process exit. The hot path is inline in recorder.h.
#include "recorder.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "alt_stack.h"
#include "lifecycle.h"
#include "maps_lookup.h"
#include "module_map.h"
#include "segment_create.h"
#include "settings.h"
#include "text_util.h"

namespace vdsotrace::tracer {

__thread ThreadState t_thread __attribute__((tls_model("initial-exec")));
RecorderState g_recorder;
bool g_crash_capture;

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
uint64_t g_pending[format::kCounterSlots];  // calls made on the creating thread during creation
pthread_key_t g_exit_key;                    // its destructor marks a thread's slot exited
bool g_have_exit_key;

void say(const char* text) {
    // One line on stderr, written in one call so it does not interleave with the program's output.
    char line[768];
    TextBuffer b(line, sizeof line);
    b.add("vdsotrace: ")->add(text)->add("\n");
    ssize_t ignored = write(STDERR_FILENO, b.c_str(), b.size());
    (void)ignored;
}

void on_thread_exit(void* slot_ptr) {
    auto* slot = static_cast<unsigned char*>(slot_ptr);
    auto* h = reinterpret_cast<format::ThreadSlotHeader*>(slot);
    prctl(PR_GET_NAME, h->name);  // names are often set after the first call: take the final one
    __atomic_store_n(&h->state, uint32_t(format::kThreadExited), __ATOMIC_RELEASE);
    release_alt_stack();
}

// The lowest usable byte of this thread's stack, for the headroom watch (0: unknown, no watch).
// The main thread's stack grows on demand down to RLIMIT_STACK below its top; AT_EXECFN points
// into its top page, so no /proc read is needed. Other threads' stacks are found in
// /proc/self/maps, which costs 0.1-0.3 ms a thread on the machines measured: only with
// VDSOTRACE_HEADROOM=threads.
bool g_headroom_threads;

uintptr_t stack_low_of_this_thread() {
    if (gettid() == getpid()) {
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
    if (t.slot != nullptr) return t.slot;  // a signal handler on this thread got here first
    format::Header* h = g_segment.header;
    // One locked instruction per thread lifetime, not per call.
    uint64_t index = __atomic_fetch_add(&h->threads_claimed, 1, __ATOMIC_RELAXED);
    unsigned char* slot;
    if (index < g_segment.thread_capacity) {
        slot = g_segment.threads + index * g_segment.slot_size;
        auto* sh = reinterpret_cast<format::ThreadSlotHeader*>(slot);
        sh->tid = gettid();
        prctl(PR_GET_NAME, sh->name);
        sh->claimed_monotonic_ns = monotonic_ns();
        __atomic_store_n(&sh->state, uint32_t(format::kThreadLive), __ATOMIC_RELEASE);
        if (g_have_exit_key) pthread_setspecific(g_exit_key, slot);
        if (g_crash_capture) ensure_alt_stack();  // cold: once per thread
        t.stack_low = stack_low_of_this_thread();
    } else {
        slot = g_segment.threads + size_t(g_segment.thread_capacity) * g_segment.slot_size;
        __atomic_fetch_or(&h->flags, uint32_t(format::kFlagThreadsFull), __ATOMIC_RELAXED);
        t.shared = 1;
    }
    t.slot = slot;
    if (!t.shared && t.busy == 0) t.fast_slot = slot;
    return slot;
}

// Creates the segment. Runs once per process (again in a forked child).
bool create() {
    Settings settings;
    char problems[512];
    read_settings(&settings, problems, sizeof problems);
    if (problems[0] != '\0') {
        char line[640];
        TextBuffer(line, sizeof line).add("ignoring bad settings:")->add(problems);
        say(line);
    }
    char error[384];
    if (!create_segment(settings, &g_segment, error, sizeof error)) {
        char line[512];
        TextBuffer(line, sizeof line).add(error)->add("; not recording, calls pass through unchanged");
        say(line);
        return false;
    }
    g_recorder.caller_mask = settings.callers - 1;
    const char* headroom = getenv("VDSOTRACE_HEADROOM");
    g_headroom_threads = headroom != nullptr && headroom[0] == 't';
    if (!g_have_exit_key) g_have_exit_key = pthread_key_create(&g_exit_key, on_thread_exit) == 0;
    return true;
}

// Calls made by the creating thread's signal handlers while it creates the segment had nowhere
// to go: they went to g_pending. Move them into the thread's slot as unattributed calls.
void fold_pending(unsigned char* slot) {
    auto* unattributed = reinterpret_cast<uint64_t*>(slot + format::kSlotUnattributedOffset);
    for (unsigned i = 0; i < format::kCounterSlots; ++i) {
        uint64_t n = __atomic_exchange_n(&g_pending[i], 0, __ATOMIC_RELAXED);
        if (n != 0) __atomic_fetch_add(&unattributed[i], n, __ATOMIC_RELAXED);
    }
}

}  // namespace

// Creates the segment if needed and hands this thread a slot; null when nothing can be recorded.
static unsigned char* claim_slot(unsigned counter) {
    ThreadState& t = t_thread;
    int state = __atomic_load_n(&g_state, __ATOMIC_ACQUIRE);
    if (state == kReady) return claim_thread_slot(t);
    if (state == kDisabled) return nullptr;
    if (t.in_init) {
        // A signal handler interrupted this thread while it creates the segment.
        __atomic_fetch_add(&g_pending[counter], 1, __ATOMIC_RELAXED);
        return nullptr;
    }
    int expected = kUninit;
    if (__atomic_compare_exchange_n(&g_state, &expected, kCreating, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        const int saved_errno = errno;  // the program must not see our syscalls' errno
        t.in_init = 1;
        bool ok = create();
        __atomic_store_n(&g_state, ok ? kReady : kDisabled, __ATOMIC_RELEASE);
        t.in_init = 0;
        unsigned char* slot = ok ? claim_thread_slot(t) : nullptr;
        if (slot != nullptr) fold_pending(slot);
        errno = saved_errno;
        return slot;
    }
    // Another thread creates the segment; it takes tens of microseconds.
    while ((state = __atomic_load_n(&g_state, __ATOMIC_ACQUIRE)) == kCreating) cpu_relax();
    return state == kReady ? claim_thread_slot(t) : nullptr;
}

void record_slow(unsigned counter, uintptr_t caller) {
    ThreadState& t = t_thread;
    if (t.busy != 0) return;  // the shim's own work
    unsigned char* slot = t.slot != nullptr ? t.slot : claim_slot(counter);
    if (slot == nullptr) return;
    const uint64_t headroom = uint64_t(stack_pointer() - t.stack_low);
    if (headroom < format::kHeadroomWatch) note_low_headroom(counter, caller, headroom);
    if (t.shared)
        detail::count_into<true>(slot, counter, caller);
    else
        detail::count_into<false>(slot, counter, caller);
}

format::CrashRecord* crash_record_for_write() {
    ThreadState& t = t_thread;
    if (t.in_init) return nullptr;  // the fault interrupted this thread creating the segment
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) != kReady && claim_slot(0) == nullptr) return nullptr;
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
}

void after_fork_in_child() {
    // The child shares the parent's mapping: forget it, so the child's first call creates the
    // child's own segment. Only the forking thread exists here.
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == kReady) munmap(g_segment.header, g_segment.size);
    g_segment = Segment{};
    t_thread.slot = nullptr;
    t_thread.fast_slot = nullptr;
    t_thread.shared = 0;
    t_thread.in_init = 0;
    memset(g_pending, 0, sizeof g_pending);
    __atomic_store_n(&g_state, kUninit, __ATOMIC_RELEASE);
}

void at_process_end() {
    if (__atomic_load_n(&g_state, __ATOMIC_ACQUIRE) != kReady) return;
    format::Header* h = g_segment.header;
    h->end_monotonic_ns = monotonic_ns();
    h->end_realtime_ns = realtime_ns();
    uint32_t running = format::kStateRunning;
    __atomic_compare_exchange_n(&h->state, &running, uint32_t(format::kStateEnded), false, __ATOMIC_RELEASE,
                                __ATOMIC_RELAXED);
}

const char* segment_name() {
    return __atomic_load_n(&g_state, __ATOMIC_ACQUIRE) == kReady ? g_segment.name : nullptr;
}

}  // namespace vdsotrace::tracer
