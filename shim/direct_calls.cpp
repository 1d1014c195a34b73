// See direct_calls.h.
#include "shim/direct_calls.h"

#include "tracer/engine/recorder.h"

namespace fmt = vdsotrace::format;

extern "C" {
__attribute__((visibility("hidden"))) uintptr_t vdsotrace_direct_targets[fmt::kCountedFunctions];

// Called by the entries below with the function, the call's return address, the frame pointer
// the caller had and the first argument (the clock id, where there is one).
__attribute__((visibility("hidden"), used)) void vdsotrace_count_direct(unsigned function, uintptr_t ret,
                                                                       uintptr_t fp, long clock_id) {
    const int bucket = fmt::function_takes_clock(int(function)) ? fmt::clock_bucket(clock_id) : 0;
    vdsotrace::tracer::record_unsampled(fmt::counter_index(int(function), bucket),
                                        vdsotrace::tracer::go::attribute_caller(vdsotrace::shim::g_go_plumbing, ret, fp));
}
}

namespace vdsotrace::shim {

tracer::go::Plumbing g_go_plumbing;

uintptr_t direct_entry(unsigned function) {
    switch (function) {
        case fmt::kClockGettime: return reinterpret_cast<uintptr_t>(&vdsotrace_direct_clock_gettime);
        case fmt::kGettimeofday: return reinterpret_cast<uintptr_t>(&vdsotrace_direct_gettimeofday);
        case fmt::kTime: return reinterpret_cast<uintptr_t>(&vdsotrace_direct_time);
        case fmt::kGetcpu: return reinterpret_cast<uintptr_t>(&vdsotrace_direct_getcpu);
        case fmt::kClockGetres: return reinterpret_cast<uintptr_t>(&vdsotrace_direct_clock_getres);
        case fmt::kGetrandom: return reinterpret_cast<uintptr_t>(&vdsotrace_direct_getrandom);
        default: return 0;
    }
}

}  // namespace vdsotrace::shim

#if defined(__x86_64__)
// Each entry saves the argument registers (three, or five for getrandom), calls
// vdsotrace_count_direct(function, return address, frame pointer, first argument), restores them and
// jumps to the real vDSO function: the vDSO then returns straight to the caller.
// %xmm15 is zeroed before the jump: Go's ABIInternal code (time.now) treats X15 as a zero register
// and relies on the vDSO, built without SSE, leaving it alone; the counting code is ordinary C++.
// The System V ABI lets a callee clobber %xmm15, so zeroing it is harmless for any other caller.
// An odd number of pushes keeps the call 16-byte aligned (the return address makes it even).
asm(R"(
    .macro VDSOTRACE_DIRECT name, function, args=3
    .text
    .p2align 4
    .globl vdsotrace_direct_\name
    .hidden vdsotrace_direct_\name
    .type vdsotrace_direct_\name, @function
vdsotrace_direct_\name:
    .cfi_startproc
    push %rdi
    .cfi_adjust_cfa_offset 8
    push %rsi
    .cfi_adjust_cfa_offset 8
    push %rdx
    .cfi_adjust_cfa_offset 8
    .if \args == 5
    # getrandom (buffer, length, flags, opaque state, state size): %rcx and %r8 too, no clock id.
    push %rcx
    .cfi_adjust_cfa_offset 8
    push %r8
    .cfi_adjust_cfa_offset 8
    xor %ecx, %ecx
    .else
    mov %rdi, %rcx
    .endif
    mov (8 * \args)(%rsp), %rsi
    mov %rbp, %rdx
    mov $\function, %edi
    call vdsotrace_count_direct
    pxor %xmm15, %xmm15
    .if \args == 5
    pop %r8
    .cfi_adjust_cfa_offset -8
    pop %rcx
    .cfi_adjust_cfa_offset -8
    .endif
    pop %rdx
    .cfi_adjust_cfa_offset -8
    pop %rsi
    .cfi_adjust_cfa_offset -8
    pop %rdi
    .cfi_adjust_cfa_offset -8
    jmp *(vdsotrace_direct_targets + 8 * \function)(%rip)
    .cfi_endproc
    .size vdsotrace_direct_\name, . - vdsotrace_direct_\name
    .endm

    VDSOTRACE_DIRECT clock_gettime, 0
    VDSOTRACE_DIRECT gettimeofday, 1
    VDSOTRACE_DIRECT time, 2
    VDSOTRACE_DIRECT getcpu, 3
    VDSOTRACE_DIRECT clock_getres, 4
    VDSOTRACE_DIRECT getrandom, 5, 5
    .purgem VDSOTRACE_DIRECT
)");
static_assert(fmt::kClockGettime == 0 && fmt::kGettimeofday == 1 && fmt::kTime == 2 && fmt::kGetcpu == 3 &&
              fmt::kClockGetres == 4 && fmt::kGetrandom == 5, "the asm above numbers the functions");
#else
// Elsewhere the vDSO is not redirected (vdso_redirect.cpp): these are never reached.
extern "C" {
void vdsotrace_direct_clock_gettime() { __builtin_trap(); }
void vdsotrace_direct_gettimeofday() { __builtin_trap(); }
void vdsotrace_direct_time() { __builtin_trap(); }
void vdsotrace_direct_getcpu() { __builtin_trap(); }
void vdsotrace_direct_clock_getres() { __builtin_trap(); }
void vdsotrace_direct_getrandom() { __builtin_trap(); }
}
#endif
