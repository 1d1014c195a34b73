// Who the calling thread is, without a system call: its kernel thread id and its name.
//
// A thread's first clock call claims a slot and writes its id and name there. Asking the kernel
// (gettid, prctl(PR_GET_NAME)) would be a system call the program never makes, and a program that
// started the thread under a strict seccomp filter is killed by it (issue 12). So:
//  - the id is read from glibc's thread descriptor, at an offset found once at start-up by value
//    (the word of pthread_self()'s descriptor equal to gettid() of the starting thread); where it
//    cannot be found unambiguously, gettid() is asked as before;
//  - the name is the one the shim saw the thread set (its interposed pthread_setname_np and
//    prctl(PR_SET_NAME)), else the main thread's (read at start-up, then followed through those
//    setters), which the kernel gives every thread the main thread starts. A thread started by
//    another thread that renamed itself, and never named itself, shows the main thread's name.
#pragma once

#include <cstdint>

namespace vdsotrace::tracer {

struct ThreadState;

// Start-up (the shim's constructor) and a forked child: learns the descriptor's tid offset, the
// process id and the process's name. System calls allowed.
void learn_thread_identity();
// In a forked child (its only thread is the one that forked): the pid is that thread's id, and
// the process's name is that thread's name. No system call.
void thread_identity_after_fork(const ThreadState& t);

// The calling thread's kernel id.
int32_t current_tid();
// This process's id (from start-up or the last fork; getpid() when neither ran yet).
int32_t process_id();

// The calling thread's name as far as the shim knows it (16 bytes, NUL-terminated).
void known_thread_name(const ThreadState& t, char out[16]);

// The main thread renamed itself: threads it starts from now on inherit that name (the kernel
// copies the creating thread's name; the main thread is the usual creator).
void set_main_thread_name(const char* name);

// The kernel id of the thread `thread` (a pthread_t), or 0 when it cannot be read.
int32_t tid_of(unsigned long thread);

// Copies a thread name as the kernel keeps it: at most 15 bytes, NUL-terminated.
void copy_thread_name(char out[16], const char* name);

}  // namespace vdsotrace::tracer
