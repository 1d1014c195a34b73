// The recording engine's slow paths: segment creation on the first call, thread slots, fork,
// thread and process exit. The hot path is inline in recorder.h.
#include "recorder.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lifecycle.h"
#include "module_map.h"
#include "segment_create.h"
#include "settings.h"
#include "text_util.h"

namespace vdsotrace::tracer {

__thread ThreadState t_thread __attribute__((tls_model("initial-exec")));
RecorderState g_recorder;

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
    auto* unattributed = reinterpret_cast<uint64_t*>(slot + format::kSlotUnattributedOffset);
    for (unsigned i = 0; i < format::kCounterSlots; ++i) {
        uint64_t n = __atomic_exchange_n(&g_pending[i], 0, __ATOMIC_RELAXED);
        if (n != 0) __atomic_fetch_add(&unattributed[i], n, __ATOMIC_RELAXED);
    }
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
    format::Header* h = g_segment.header;
    // One locked instruction per thread lifetime, not per call.
    const uint64_t index = __atomic_fetch_add(&h->threads_claimed, 1, __ATOMIC_RELAXED);
    const bool shared = index >= g_segment.thread_capacity;
    unsigned char* slot =
        g_segment.threads + size_t(shared ? g_segment.thread_capacity : index) * g_segment.slot_size;
    t.shared = shared;
    t.slot = slot;
    t.in_init = 0;  // from here on, this thread's handlers count straight into the slot
    if (shared) {
        __atomic_fetch_or(&h->flags, uint32_t(format::kFlagThreadsFull), __ATOMIC_RELAXED);
    } else {
        auto* sh = reinterpret_cast<format::ThreadSlotHeader*>(slot);
        sh->tid = gettid();
        prctl(PR_GET_NAME, sh->name);
        sh->claimed_monotonic_ns = monotonic_ns();
        __atomic_store_n(&sh->state, uint32_t(format::kThreadLive), __ATOMIC_RELEASE);
        if (g_have_exit_key) pthread_setspecific(g_exit_key, slot);
    }
    fold_pending(slot);
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
    if (!g_have_exit_key) g_have_exit_key = pthread_key_create(&g_exit_key, on_thread_exit) == 0;
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

void record_slow(unsigned counter, uintptr_t caller) {
    ThreadState& t = t_thread;
    if (t.busy != 0) return;  // the shim's own work
    if (t.in_init) {
        // A signal handler interrupted this thread while it creates the segment or takes its slot.
        bump_pending(counter);
        return;
    }
    unsigned char* slot = t.slot;
    if (slot == nullptr) {
        const int saved_errno = errno;  // the program must not see our syscalls' errno
        slot = claim_slot();
        errno = saved_errno;
        if (slot == nullptr) return;
    }
    if (t.shared)
        detail::count_into<true>(slot, counter, caller);
    else
        detail::count_into<false>(slot, counter, caller);
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
    // The thread-exit hook would otherwise write into the parent's slot, now unmapped here.
    if (g_have_exit_key) pthread_setspecific(g_exit_key, nullptr);
    t_thread.slot = nullptr;
    t_thread.fast_slot = nullptr;
    t_thread.last_entry = nullptr;
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
