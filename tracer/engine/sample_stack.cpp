// Stacks of the shim's own for taking samples (see sample_stack.h).
#include "tracer/engine/sample_stack.h"

#include <sys/mman.h>

namespace vdsotrace::tracer {

namespace {

constexpr unsigned kStacks = 8;                // shared, claimed per use
constexpr unsigned kOwnStacks = 8;             // owned by one thread each, after the shared ones
constexpr uintptr_t kGuard = 4096;
constexpr uintptr_t kStackSize = uintptr_t(1) << 20;
constexpr uintptr_t kStride = kGuard + kStackSize;

uintptr_t g_base;              // set once by sample_stacks_start; 0 = no stacks
unsigned g_busy;               // bit k: stack k in use (k < kStacks) or owned
uintptr_t g_origin[kStacks + kOwnStacks];  // the stack pointer that switched to stack k
constexpr unsigned kAllStacks = kStacks + kOwnStacks;
// Kept at an owned stack's top, above where its samples run (see own_sample_stack_walk_cache).
constexpr uintptr_t kOwnReserved = (sizeof(unwind::WalkCache) + 63) & ~uintptr_t(63);
static_assert(kOwnReserved < kStackSize / 64);

}  // namespace

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
// Calls fn(arg) with the stack pointer at `top`. The frame keeps %rbp on the caller's stack and
// describes itself by it (CFA = %rbp + 16), so libunwind and a frame-pointer walk step from the
// sample stack back onto the program's.
extern "C" void vdsotrace_call_on_stack(void (*fn)(void*), void* arg, uintptr_t top);
__asm__(
    ".text\n.globl vdsotrace_call_on_stack\n.hidden vdsotrace_call_on_stack\n"
    ".type vdsotrace_call_on_stack, @function\nvdsotrace_call_on_stack:\n"
    ".cfi_startproc\n"
    "push %rbp\n.cfi_def_cfa_offset 16\n.cfi_offset %rbp, -16\n"
    "mov %rsp, %rbp\n.cfi_def_cfa_register %rbp\n"
    "mov %rdx, %rsp\n"
    "mov %rdi, %rax\nmov %rsi, %rdi\n"
    "call *%rax\n"
    "mov %rbp, %rsp\n.cfi_def_cfa_register %rsp\n"
    "pop %rbp\n.cfi_def_cfa_offset 8\n"
    "ret\n.cfi_endproc\n.size vdsotrace_call_on_stack, .-vdsotrace_call_on_stack\n");

bool sample_stacks_start() {
    if (__atomic_load_n(&g_base, __ATOMIC_ACQUIRE) != 0) return true;
    void* mem = mmap(nullptr, kStride * kAllStacks, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED) return false;
    const auto base = reinterpret_cast<uintptr_t>(mem);
    for (unsigned k = 0; k < kAllStacks; ++k) mprotect(reinterpret_cast<void*>(base + k * kStride), kGuard, PROT_NONE);
    // Started lazily too (the first growth of the recording, segment_growth.h), possibly by two
    // threads at once: the first one's stacks are kept.
    uintptr_t none = 0;
    if (!__atomic_compare_exchange_n(&g_base, &none, base, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        munmap(mem, kStride * kAllStacks);
    return true;
}

void run_on_sample_stack(void (*fn)(void*), void* arg) {
    const uintptr_t base = __atomic_load_n(&g_base, __ATOMIC_ACQUIRE);
    unsigned busy = __atomic_load_n(&g_busy, __ATOMIC_RELAXED);
    unsigned k = kStacks;
    while (base != 0) {
        if ((busy & ((1u << kStacks) - 1)) == (1u << kStacks) - 1) break;
        const unsigned free_k = unsigned(__builtin_ctz(~busy));
        if (__atomic_compare_exchange_n(&g_busy, &busy, busy | (1u << free_k), true, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
            k = free_k;
            break;
        }
    }
    if (k == kStacks) {
        fn(arg);
        return;
    }
    // The lowest word of the program's stack in use while on the sample stack: the switch's
    // return address and saved %rbp go just below the stack pointer here.
    uintptr_t sp;
    asm volatile("mov %%rsp, %0" : "=r"(sp));
    g_origin[k] = sp - 16;
    vdsotrace_call_on_stack(fn, arg, base + k * kStride + kStride);
    __atomic_fetch_and(&g_busy, ~(1u << k), __ATOMIC_RELEASE);
}

uint32_t claim_own_sample_stack() {
    if (__atomic_load_n(&g_base, __ATOMIC_ACQUIRE) == 0) return 0;
    unsigned busy = __atomic_load_n(&g_busy, __ATOMIC_RELAXED);
    for (;;) {
        const unsigned owned = busy >> kStacks;
        if (owned == (1u << kOwnStacks) - 1) return 0;
        const unsigned k = kStacks + unsigned(__builtin_ctz(~owned));
        if (__atomic_compare_exchange_n(&g_busy, &busy, busy | (1u << k), true, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return k + 1;
    }
}

void release_own_sample_stack(uint32_t own) {
    if (own > kStacks && own <= kAllStacks) __atomic_fetch_and(&g_busy, ~(1u << (own - 1)), __ATOMIC_RELEASE);
}

void run_on_own_sample_stack(uint32_t own, void (*fn)(void*), void* arg) {
    const uintptr_t base = __atomic_load_n(&g_base, __ATOMIC_ACQUIRE);
    const unsigned k = own - 1;
    uintptr_t sp;
    asm volatile("mov %%rsp, %0" : "=r"(sp));
    g_origin[k] = sp - 16;  // for on_sample_stack, as in run_on_sample_stack
    vdsotrace_call_on_stack(fn, arg, base + k * kStride + kStride - kOwnReserved);
}

unwind::WalkCache* own_sample_stack_walk_cache(uint32_t own) {
    const uintptr_t base = __atomic_load_n(&g_base, __ATOMIC_ACQUIRE);
    if (base == 0 || own <= kStacks || own > kAllStacks) return nullptr;
    return reinterpret_cast<unwind::WalkCache*>(base + own * kStride - kOwnReserved);
}

void sample_stacks_after_fork(uint32_t own, uintptr_t sp) {
    const uintptr_t base = __atomic_load_n(&g_base, __ATOMIC_ACQUIRE);
    unsigned keep = own > kStacks && own <= kAllStacks ? 1u << (own - 1) : 0;
    if (base != 0 && sp >= base && sp < base + kStride * kAllStacks) keep |= 1u << ((sp - base) / kStride);
    __atomic_store_n(&g_busy, keep, __ATOMIC_RELEASE);
}

bool on_sample_stack(uintptr_t sp, uintptr_t* low, uintptr_t* high, uintptr_t* origin_sp) {
    const uintptr_t base = __atomic_load_n(&g_base, __ATOMIC_ACQUIRE);
    if (base == 0 || sp < base || sp >= base + kStride * kAllStacks) return false;
    const uintptr_t k = (sp - base) / kStride;
    *low = base + k * kStride + kGuard;
    *high = base + (k + 1) * kStride;
    *origin_sp = g_origin[k];
    return true;
}
#else
bool sample_stacks_start() { return false; }
void run_on_sample_stack(void (*fn)(void*), void* arg) { fn(arg); }
uint32_t claim_own_sample_stack() { return 0; }
void sample_stacks_after_fork(uint32_t, uintptr_t) {}
void release_own_sample_stack(uint32_t) {}
void run_on_own_sample_stack(uint32_t, void (*fn)(void*), void* arg) { fn(arg); }
unwind::WalkCache* own_sample_stack_walk_cache(uint32_t) { return nullptr; }
bool on_sample_stack(uintptr_t, uintptr_t*, uintptr_t*, uintptr_t*) { return false; }
#endif

}  // namespace vdsotrace::tracer
