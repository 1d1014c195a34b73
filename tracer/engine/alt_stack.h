// An alternate signal stack for each thread that has none, so the shim's SIGSEGV handler can still
// run when a thread has overflowed its stack (a handler on the exhausted stack would fault again
// and the kernel would kill the process without a record). Only with VDSOTRACE_CRASH=stack: the
// kernel runs the program's SA_ONSTACK handlers on it too, which changes where they run (issue 12).
// Guarded by a PROT_NONE page below it. Set up on cold paths only: in the
// shim's constructor for the main thread, when a thread claims its slot for the others; the
// memory comes from mmap, not malloc.
#pragma once

namespace vdsotrace::tracer {

// Gives the calling thread an alternate signal stack unless it has one (of its own or ours).
void ensure_alt_stack();

// At thread exit: disables and unmaps the stack ensure_alt_stack gave this thread, if it is still
// the thread's alternate stack.
void release_alt_stack();

}  // namespace vdsotrace::tracer
