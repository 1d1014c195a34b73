// Stacks of the shim's own for taking samples with libunwind (VDSOTRACE_SAMPLE).
//
// libunwind's unw_backtrace, the frame buffers and the first sample's set-up need about 7 KiB of
// stack: on the program's stack that made a sampled call on an 8 KiB sigaltstack or a 16 KiB
// thread crash where the same call works natively (issue 12, scenario 4). So a sample runs on
// one of a few stacks mapped at start-up, each 1 MiB of address space with a guard page below
// (only the pages touched cost memory), claimed lock-free for the sample's duration. When all
// are in use (more threads sampling at the same instant than stacks) the sample runs where it
// was taken, as before.
//
// The recording's growth (segment_growth.h) runs its system calls here too: it happens inside a
// thread's first call and inside samples. A program that grows its recording but never samples
// maps the stacks at its first growth.
#pragma once

#include <cstdint>

#include "tracer/unwind/fast_unwind.h"

namespace vdsotrace::tracer {

// Maps the stacks (start-up, or the first growth: system calls; safe to race). False when they
// could not be mapped, or on an architecture without the switch; samples then run on the caller's
// stack.
bool sample_stacks_start();

// Runs fn(arg) on a free sample stack, or on this stack when none is free.
void run_on_sample_stack(void (*fn)(void*), void* arg);

// Stacks a thread may own for its samples: claimed once (one locked instruction, slow path) and
// kept until the thread exits, so that a sample switches stacks without the two locked
// instructions a shared stack's claim and release take on a word every sampling thread writes.
// Apart from the shared ones above (which growth and the first samples of other threads use), and
// as many as those. Returns the stack's index + 1, or 0 when none is free (the thread's samples
// then claim a shared stack each time, as before).
uint32_t claim_own_sample_stack();
void release_own_sample_stack(uint32_t own);

// Runs fn(arg) on the stack claim_own_sample_stack() gave (`own`, non-zero). Only its owner
// calls this, never nested (one sample at a time per thread: ThreadState::in_sample).
void run_on_own_sample_stack(uint32_t own, void (*fn)(void*), void* arg);

// The walk cache (unwind::WalkCache) kept at the top of the stack `own` (non-zero), above the
// part samples run on: memory its owner already has, which outlives the thread's samples (and the
// thread: what it holds stays true for the next owner under the same epoch). Null where samples
// do not switch stacks.
unwind::WalkCache* own_sample_stack_walk_cache(uint32_t own);

// In a fork's child, where only the forking thread exists: every stack is free again but the one
// this thread owns (`own`, 0: none) and the one it runs on (`sp`: a fork from a signal handler
// that interrupted a sample), so stacks owned or in use by the parent's other threads are not
// lost to the child.
void sample_stacks_after_fork(uint32_t own, uintptr_t sp);

// When this thread is running on a sample stack: that stack's [low, high) and the stack
// pointer of the frame that switched to it (libunwind's address checks accept both stacks).
bool on_sample_stack(uintptr_t sp, uintptr_t* low, uintptr_t* high, uintptr_t* origin_sp);

}  // namespace vdsotrace::tracer
