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

namespace vdsotrace::tracer {

// Maps the stacks (start-up, or the first growth: system calls; safe to race). False when they
// could not be mapped, or on an architecture without the switch; samples then run on the caller's
// stack.
bool sample_stacks_start();

// Runs fn(arg) on a free sample stack, or on this stack when none is free.
void run_on_sample_stack(void (*fn)(void*), void* arg);

// When this thread is running on a sample stack: that stack's [low, high) and the stack
// pointer of the frame that switched to it (libunwind's address checks accept both stacks).
bool on_sample_stack(uintptr_t sp, uintptr_t* low, uintptr_t* high, uintptr_t* origin_sp);

}  // namespace vdsotrace::tracer
