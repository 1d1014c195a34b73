// Shared helpers of the end-to-end target programs: call sites that keep their own frame.
#pragma once

// noinline + noclone: the call site keeps its own symbol name (no .constprop/.isra clones), so the
// report can name it exactly. Call sites do work after each call, so no call is a tail call.
#define E2E_SITE __attribute__((noinline, noclone))

#ifdef __cplusplus
extern "C" {
#endif
extern volatile long e2e_sink;
#ifdef __cplusplus
}
#endif
