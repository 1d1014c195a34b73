/* Where the trampoline's assembly fast path (trampoline/entries.S) finds what it reads: offsets in
 * the data block (TrampolineData) and in a thread slot (format::ThreadSlotHeader...), and the
 * format's constants it computes with. Plain #defines, so that the assembler can include them;
 * trampoline_abi.h pins every one against the C++ definitions with static_assert. */
#pragma once

/* TrampolineData */
#define VT_DATA_ORIGINAL 64          /* original[fn], 8 bytes each */
#define VT_DATA_CALLER_MASK 56
#define VT_DATA_PLUMBING_COUNT 344   /* plumbing.count: non-zero in Go programs */
#define VT_DATA_WRAPPERS 376         /* wrappers[kWrapperSlots], 16 bytes each */
#define VT_DATA_CPU_SLOTS 1400
#define VT_DATA_SLOT_SIZE 1408
#define VT_DATA_CPU_SLOT_COUNT 1416
#define VT_DATA_WRAPPERS_BEGIN 1424
#define VT_DATA_WRAPPERS_END 1432
#define VT_DATA_RSEQ_OFFSET_AT 1440
#define VT_DATA_USUAL_WRAPPERS 1456  /* usual_wrappers[fn], 16 bytes each: return address, CFA offset */
#define VT_USUAL_CFA_OFFSET 8
#define VT_DATA_CALLER_OFFSET_MASK 1536

/* WrapperRow */
#define VT_ROW_SIZE 16
#define VT_ROW_LENGTH 8
#define VT_ROW_CFA_OFFSET 12
#define VT_WRAPPER_SLOTS 64          /* kWrapperSlots */

/* A thread slot: its caller table (format::CallerEntry: key, count) */
#define VT_SLOT_CALLERS 784
#define VT_CALLER_ENTRY_SIZE 16
#define VT_CALLER_ENTRY_COUNT 8

/* format:: counters and caller keys */
#define VT_CLOCK_BUCKETS 18          /* counter = fn * VT_CLOCK_BUCKETS + clock bucket */
#define VT_CLOCK_ID_BUCKETS 16       /* clock ids 0..15 are their own bucket */
#define VT_PROBE_HASH 0x9E37         /* caller_first_probe()'s counter multiplier */
#define VT_CALLER_ADDRESS_BITS 48    /* caller_key(): the address's bits; the counter + 1 in the top byte */

/* The kernel's struct rseq, at __rseq_offset from the thread pointer */
#define VT_RSEQ_CPU_ID 4
#define VT_RSEQ_CS 8
