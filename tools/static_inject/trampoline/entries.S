/* The trampoline's data block and entry points (x86_64). See ../trampoline_abi.h.
 *
 * A program calls an entry exactly as it would call the vDSO function it replaces (SysV ABI,
 * at most three arguments). The entry keeps the arguments, hands vt_count the function, the
 * clock id, its own return address, the caller's %rbp (untouched so far: the value Go's frame
 * walk needs) and where the return address lies (to step out of libc's wrappers), restores the
 * arguments and tail-jumps to the original vDSO entry, which returns straight to the program
 * with its own result. Stack used: 3 pushes + the call + vt_count's 3 pushes = 56 bytes.
 * %r14 and %xmm15 (Go's g and zero registers) are never touched: vt_count is compiled with
 * -mgeneral-regs-only and %r14 is callee-saved. */

#define ORIGINAL(fn) (vt_data + 64 + 8 * (fn))

        .section .tramp.data, "a"
        .balign 64
        .globl vt_data
        .hidden vt_data
vt_data:
        .quad 0x31504d4152545456        /* kTrampolineMagic */
        .quad vt_entry_clock_gettime, vt_entry_gettimeofday, vt_entry_time
        .quad vt_entry_getcpu, vt_entry_clock_getres
        .zero 2048 - 48                 /* kTrampolineDataSize: filled by the injector */

        .text
.macro ENTRY name, fn
        .balign 16
        .globl \name
        .hidden \name
\name:
        push %rdi
        push %rsi
        push %rdx
        mov %rdi, %rsi                  /* clock id (ignored by functions without one) */
        mov $\fn, %edi
        mov 24(%rsp), %rdx              /* our return address: the caller */
        mov %rbp, %rcx                  /* the caller's frame pointer */
        lea 24(%rsp), %r8               /* where our return address is */
        call vt_count
        pop %rdx
        pop %rsi
        pop %rdi
        jmp *ORIGINAL(\fn)(%rip)
.endm

        ENTRY vt_entry_clock_gettime, 0
        ENTRY vt_entry_gettimeofday, 1
        ENTRY vt_entry_time, 2
        ENTRY vt_entry_getcpu, 3
        ENTRY vt_entry_clock_getres, 4

        .section .note.GNU-stack, "", @progbits
