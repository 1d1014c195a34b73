#include "tracer/engine/alt_stack.h"

#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tracer/engine/thread_state.h"

namespace vdsotrace::tracer {

namespace {

// Enough for the crash handler (it reads /proc/self/maps into a 2 KiB buffer and may create the
// segment) and for a program handler we chain to; at least what the kernel says a signal frame
// needs (AT_MINSIGSTKSZ grows with AVX-512 and AMX state).
size_t alt_stack_size() {
    size_t min = getauxval(AT_MINSIGSTKSZ);
    size_t size = 64 * 1024;
    while (size < 4 * min) size *= 2;
    return size;
}

// Unmaps a stack ensure_alt_stack made, with its guard page.
void unmap(void* stack, size_t size) {
    const size_t guard = size_t(getpagesize());
    munmap(static_cast<char*>(stack) - guard, guard + size);
}

}  // namespace

void ensure_alt_stack() {
    ThreadState& t = t_thread;
    if (t.alt_stack != nullptr) return;
    stack_t current{};
    if (sigaltstack(nullptr, &current) != 0 || !(current.ss_flags & SS_DISABLE)) return;  // it has one
    const size_t size = alt_stack_size();
    // A guard page below: a handler frame larger than the stack faults there instead of writing
    // through into whatever is mapped below (a recording, issue 12).
    const size_t guard = size_t(getpagesize());
    void* base = mmap(nullptr, guard + size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) return;
    if (mprotect(base, guard, PROT_NONE) != 0) {
        munmap(base, guard + size);
        return;
    }
    void* p = static_cast<char*>(base) + guard;
    stack_t ss{};
    ss.ss_sp = p;
    ss.ss_size = size;
    if (sigaltstack(&ss, nullptr) != 0) {
        munmap(base, guard + size);
        return;
    }
    t.alt_stack = p;
    t.alt_stack_size = size;
}

void release_alt_stack() {
    ThreadState& t = t_thread;
    if (t.alt_stack == nullptr) return;
    stack_t current{};
    if (sigaltstack(nullptr, &current) == 0 && current.ss_sp == t.alt_stack && !(current.ss_flags & SS_ONSTACK)) {
        stack_t off{};
        off.ss_flags = SS_DISABLE;
        sigaltstack(&off, nullptr);
        unmap(t.alt_stack, t.alt_stack_size);
    }
    // If the program replaced it, it is not in use: still ours to free.
    else if (current.ss_sp != t.alt_stack) {
        unmap(t.alt_stack, t.alt_stack_size);
    }
    t.alt_stack = nullptr;
    t.alt_stack_size = 0;
}

}  // namespace vdsotrace::tracer
