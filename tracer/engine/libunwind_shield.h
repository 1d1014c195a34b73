// Keeps the system calls libunwind makes on its own away from the program (issue 12).
//
// libunwind 1.6 checks every address it reads while stepping by writing one byte of it into a
// pipe it opened once (mincore first, then `syscall(SYS_write, pipe[1], addr, 1)`), and reads the
// byte back from pipe[0]. A daemon that closes every descriptor and opens its own files gets those
// numbers: libunwind then reads from the program's file (moving its offset), writes process memory
// into it, or closes it and opens a new pipe in its place. It also blocks every signal around its
// cache lock (sigprocmask twice per step), which a seccomp sandbox may kill the program for.
//
// The shim loads its own copy of libunwind (dlopen RTLD_LOCAL), so it can point that copy's
// imports of pipe2, read, close, syscall, mincore, msync and sigprocmask at functions of its own:
// no pipe exists, an address is checked against this thread's stack (no system call) or else with
// process_vm_readv on ourselves (which reports EFAULT instead of faulting), and signals are left
// alone (the sampler never re-enters libunwind on a thread: ThreadState::in_sample). A libunwind
// the program loaded itself is the program's and is left as it is.
#pragma once

namespace vdsotrace::tracer {

// Rebinds the imports above in `lib` (a dlopen handle of libunwind.so.8). Start-up only. Returns
// false when they could not all be found (the copy is then left unchanged).
bool shield_libunwind(void* lib);

}  // namespace vdsotrace::tracer
