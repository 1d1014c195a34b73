// vfork(): the child runs on its parent's memory, stack and TLS until it execs or exits. The shim
// must tell it apart (it must not write the parent's exit into the parent's recording, nor create
// a recording of its own under the parent's thread), and asked getpid() for that on every exit(),
// a system call a sandboxed program may be killed for (issue 12). This vfork marks the TLS it
// runs on in the child (tracer::ThreadState::vfork_child) and clears the mark in the parent, which
// resumes only once the child has exec'd or exited. It is glibc's vfork (x86_64: the return
// address is kept in a register, since the child may overwrite the stack slot it came from) plus
// those two marks.
//
// Not seen: vfork made with a raw system call, or glibc's own (posix_spawn, whose child reaches
// none of the shim's entry points). Elsewhere than x86_64 the shim does not export vfork and
// keeps asking getpid().
#include <cerrno>

#include "tracer/engine/lifecycle.h"

#if defined(__x86_64__)

extern "C" {

// The child, right after the system call: the TLS it runs on is its parent thread's.
__attribute__((visibility("hidden"), used)) void vdsotrace_vfork_child_started() {
    vdsotrace::tracer::note_vfork_child(true);
}
// The parent, resumed: its child has exec'd or exited (or none was made).
__attribute__((visibility("hidden"), used)) void vdsotrace_vfork_parent_resumed() {
    vdsotrace::tracer::note_vfork_child(false);
}
__attribute__((visibility("hidden"), used)) int vdsotrace_vfork_failed(long negative_errno) {
    errno = int(-negative_errno);
    return -1;
}

}  // extern "C"

asm(R"(
    .text
    .globl vfork
    .type vfork, @function
    .p2align 4
vfork:
    .cfi_startproc
    popq %rdi                       # the return address: the child may reuse its stack slot
    .cfi_adjust_cfa_offset -8
    .cfi_register %rip, %rdi
    movl $58, %eax                  # SYS_vfork
    syscall
    pushq %rdi
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rip, 0
    testq %rax, %rax
    jz 2f
    pushq %rax                      # the parent (or a failure): keep the result, align the stack
    .cfi_adjust_cfa_offset 8
    call vdsotrace_vfork_parent_resumed
    popq %rax
    .cfi_adjust_cfa_offset -8
    cmpq $-4095, %rax
    jae 3f
    ret
3:  movq %rax, %rdi
    jmp vdsotrace_vfork_failed       # sets errno, returns -1 to vfork's caller
2:  subq $8, %rsp                   # the child
    .cfi_adjust_cfa_offset 8
    call vdsotrace_vfork_child_started
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    xorl %eax, %eax
    ret
    .cfi_endproc
    .size vfork, .-vfork
)");

#endif
