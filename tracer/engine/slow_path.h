// What the shim's slow paths (creating the recording, growing it, deciding about a new call site,
// writing a reaped child's status) must leave as they found it: errno, which their system calls
// set, and the thread's cancellation.
//
// Those paths call open, read, pread, close and fallocate, which glibc makes cancellation points.
// A cancel the program had requested (deferred, the default: acted on at the thread's next
// cancellation point) was acted on inside clock_gettime, which is none: the thread died in a call
// that returns natively, before the code the program had up to its own next cancellation point.
// So cancellation is off while a slow path runs and back as it was after (glibc's
// pthread_setcancelstate: a compare-and-swap on the thread's own descriptor, no system call); the
// cancel stays pending for the program's next cancellation point. Slow paths only: never on a
// call's fast path.
#pragma once

#include <pthread.h>

#include <cerrno>

namespace vdsotrace::tracer {

class SlowPathGuard {
public:
    SlowPathGuard() : errno_(errno) { pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state_); }
    ~SlowPathGuard() {
        pthread_setcancelstate(cancel_state_, nullptr);
        errno = errno_;
    }
    SlowPathGuard(const SlowPathGuard&) = delete;
    SlowPathGuard& operator=(const SlowPathGuard&) = delete;

private:
    int errno_;
    int cancel_state_ = PTHREAD_CANCEL_ENABLE;
};

}  // namespace vdsotrace::tracer
