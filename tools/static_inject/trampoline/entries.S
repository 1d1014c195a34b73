/* The trampoline's data block and entry points (x86_64). See ../trampoline_abi.h.
 *
 * A program calls an entry exactly as it would call the vDSO function it replaces (SysV ABI,
 * at most three arguments), and the entry tail-jumps to the original vDSO entry, which returns
 * straight to the program with its own result.
 *
 * The fast path, in this file: a thread of a static glibc program (an rseq area registered,
 * __rseq_offset known), called from the program or from one of libc's clock wrappers, whose
 * caller entry in its CPU's slot is already claimed where the probe starts. It counts with a
 * plain `incq` committing a restartable sequence, touching only %rax, %rcx, %r8-%r11 (the
 * arguments stay in their registers: nothing is pushed, nothing called) and no stack but
 * the return address and the wrapper's frame it reads. Its loads are as few and as little
 * chained as could be: the vDSO's rdtscp waits for them. Every other call (the first from a call
 * site, Go and musl (no __rseq_offset: the injector looks for it in glibc programs only), a
 * wrapper called by a wrapper, a collision, an aborted sequence, rseq off)
 * takes the slow path: vt_count in trampoline.cpp, which does the whole work and may claim the
 * entry the fast path finds next time. Both write a CPU's slot only in sequences committed on
 * that CPU, so they never race (see trampoline.cpp).
 *
 * The slow path keeps the arguments, hands vt_count the function, the clock id, its own return
 * address, the caller's %rbp (untouched so far: the value Go's frame walk needs) and where the
 * return address lies (to step out of libc's wrappers), restores the arguments and jumps on.
 * Stack used: none on the fast path; on the slow path 3 pushes, the call and vt_count's frame.
 * %r14 and %xmm15 (Go's g and zero registers) are never touched: vt_count is compiled with
 * -mgeneral-regs-only and %r14 is callee-saved. */
#include "tools/static_inject/trampoline_layout.h"

#define DATA(field) (vt_data + (field))(%rip)
#define ORIGINAL(fn) DATA(VT_DATA_ORIGINAL + 8 * (fn))

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
/* `clock`: the function takes a clock id (its counter depends on it). */
.macro ENTRY name, fn, clock
        .balign 16
        .globl \name
        .hidden \name
\name:
        /* This thread's rseq area: __rseq_offset from the thread pointer, loaded from the address
           the injector writes into this instruction (point_rseq_offset_loads: the data block's
           zero word where there is no such variable, as in Go and musl). 0 until static glibc
           has set up the thread pointer. */
        movabs 0, %rax
        test %rax, %rax
        jz 9f
        /* The caller: our return address, or, from one of libc's clock wrappers, the wrapper's
           own return address. From this function's usual wrapper (static glibc's: one call
           each, and no wrapper calls it: choose_usual_wrappers) its row is in the data block
           and the return address it holds is the program's; from anywhere else the rows'
           table says, and a wrapper's wrapper goes to the slow path (4 below). */
        mov (%rsp), %r10
        mov DATA(VT_DATA_USUAL_WRAPPERS + 16 * \fn + VT_USUAL_CFA_OFFSET), %r8
        cmp DATA(VT_DATA_USUAL_WRAPPERS + 16 * \fn), %r10
        jne 4f
        mov (%rsp,%r8), %r10
3:      /* The counter, fn * VT_CLOCK_BUCKETS + the clock's bucket (ids beyond the first buckets:
           the slow path; only the low half of %rdi is the int clock id), makes the probe's
           start (caller_first_probe) and the key (caller_key: the counter + 1 in the top byte,
           over the address, whose bits above 47 are 0 in user space; were they not, the key
           would differ from the slow path's and the call go there). The start is computed x16,
           as the entry's offset: ((c << 3) ^ (c >> 5) ^ (counter * hash << 4)) & (mask << 4) is
           ((c >> 1) ^ (c >> 9) ^ counter * hash) & mask, times 16; counter * hash << 4 is
           clock * (hash << 4) + fn * VT_CLOCK_BUCKETS * (hash << 4) in 32 bits. */
.if \clock
        cmp $(VT_CLOCK_ID_BUCKETS - 1), %edi
        ja 9f
        imul $(VT_PROBE_HASH << 4), %edi, %r11d
  .if \fn
        add $((\fn * VT_CLOCK_BUCKETS * VT_PROBE_HASH) << 4), %r11d
  .endif
        lea (\fn * VT_CLOCK_BUCKETS + 1)(%rdi), %r9d
        shl $56, %r9
.else
        mov $((\fn * VT_CLOCK_BUCKETS * VT_PROBE_HASH) << 4), %r11d
        movabs $((\fn * VT_CLOCK_BUCKETS + 1) << 56), %r9
.endif
        lea (,%r10,8), %r8
        xor %r8, %r11
        or %r10, %r9
        shr $5, %r10
        xor %r10, %r11
        and DATA(VT_DATA_CALLER_OFFSET_MASK), %r11
        add DATA(VT_DATA_CPU_SLOTS), %r11
        /* The restartable sequence, librseq's per-CPU counter: the CPU is read inside it, so the
           kernel sends the thread to the abort handler if it is preempted, migrated or signalled
           before the count. Registers only until the count: every exit starts over in the slow
           path. */
        lea vt_rseq_cs_\fn(%rip), %rcx
        mov %rcx, %fs:VT_RSEQ_CS(%rax)
vt_rseq_start_\fn:
        /* This thread's CPU: negative when rseq is not registered for it (glibc writes -2 when
           registration failed or is turned off; the kernel then never aborts, and we leave). */
        mov %fs:VT_RSEQ_CPU_ID(%rax), %ecx
        cmp DATA(VT_DATA_CPU_SLOT_COUNT), %ecx
        jae 8f
        /* The entry in this CPU's slot: claimed for this key, or the slow path claims one. */
        imul DATA(VT_DATA_SLOT_SIZE), %rcx
        add %r11, %rcx
        cmp %r9, VT_SLOT_CALLERS(%rcx)
        jne 8f
        incq (VT_SLOT_CALLERS + VT_CALLER_ENTRY_COUNT)(%rcx)   /* the commit: the sequence's last instruction */
vt_rseq_commit_\fn:
        /* The kernel must not read the descriptor again (the program may unmap our page). */
        movq $0, %fs:VT_RSEQ_CS(%rax)
        jmp *ORIGINAL(\fn)
        /* The abort handler follows the signature glibc registered (RSEQ_SIG, 0x53053053),
           inside a harmless ud1 instruction, as librseq does. */
        .byte 0x0f, 0xb9, 0x3d
        .long 0x53053053
vt_rseq_abort_\fn:
8:      movq $0, %fs:VT_RSEQ_CS(%rax)    /* nothing counted: the slow path counts */
9:      push %rdi
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
        jmp *ORIGINAL(\fn)

        /* Not from the usual wrapper: from the program itself (3b), or from another of libc's
           wrappers, whose row the table has (add_wrapper_row): probe from its slot. */
4:      cmp DATA(VT_DATA_WRAPPERS_BEGIN), %r10
        jb 3b
        cmp DATA(VT_DATA_WRAPPERS_END), %r10
        jae 3b
        mov %r10d, %ecx                 /* wrapper_slot() */
        and $(VT_WRAPPER_SLOTS - 1), %ecx
        lea DATA(VT_DATA_WRAPPERS), %r8
1:      mov %rcx, %r11
        shl $4, %r11
        cmp (%r8,%r11), %r10
        je 2f
        cmpl $0, VT_ROW_LENGTH(%r8,%r11)
        je 3b                           /* a free entry: no row, the return address is the caller */
        inc %ecx
        and $(VT_WRAPPER_SLOTS - 1), %ecx
        jmp 1b                          /* ends: the table always has free entries */
2:      mov VT_ROW_CFA_OFFSET(%r8,%r11), %r11d
        mov (%rsp,%r11), %r10
        cmp DATA(VT_DATA_WRAPPERS_BEGIN), %r10
        jb 3b
        cmp DATA(VT_DATA_WRAPPERS_END), %r10
        jb 9b                           /* a wrapper's wrapper: the slow path walks on */
        jmp 3b

        /* The sequence's descriptor (struct rseq_cs), after the slow path's in .tramp.rseq:
           its addresses are offsets in the blob, made absolute by the injector. */
        .pushsection .tramp.rseq, "a"
        .balign 32
vt_rseq_cs_\fn:
        .long 0, 0
        .quad vt_rseq_start_\fn, vt_rseq_commit_\fn - vt_rseq_start_\fn, vt_rseq_abort_\fn
        .popsection
.endm

        ENTRY vt_entry_clock_gettime, 0, 1
        ENTRY vt_entry_gettimeofday, 1, 0
        ENTRY vt_entry_time, 2, 0
        ENTRY vt_entry_getcpu, 3, 0
        ENTRY vt_entry_clock_getres, 4, 1

        .section .note.GNU-stack, "", @progbits
