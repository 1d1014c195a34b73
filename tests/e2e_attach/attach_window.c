// Usage: attach_window N. A program that marks its own counting window, for `vdsotrace attach`.
// Makes 25 clock calls at start (before any attach), prints "ready", then reads commands from
// stdin, blocked in read() (a system call an attach must restart, not fail with EINTR):
//   'g'  window: the main thread makes N clock_gettime(CLOCK_MONOTONIC) from window_calls() and
//        N timespec_get() from window_libc(); a second thread, blocked on a condition variable
//        until then, makes N gettimeofday() from worker_calls(). Prints "done".
//   'q'  makes 25 more calls (after any detach) and exits with 0.
// Any read() error (EINTR included) exits with 3, so a spurious EINTR shows.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define SITE __attribute__((noinline, noclone))

static volatile long sink;
static int n;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER, finished = PTHREAD_COND_INITIALIZER;
static int rounds_asked, rounds_done;

SITE void outside_calls(void) {
    for (int i = 0; i < 25; ++i) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        sink += ts.tv_nsec;
    }
}

SITE void window_calls(void) {
    for (int i = 0; i < n; ++i) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sink += ts.tv_nsec;
    }
}

SITE void window_libc(void) {
    for (int i = 0; i < n; ++i) {
        struct timespec ts;
        timespec_get(&ts, TIME_UTC);
        sink += ts.tv_nsec;
    }
}

SITE void worker_calls(void) {
    for (int i = 0; i < n; ++i) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        sink += tv.tv_usec;
    }
}

static void* worker(void* arg) {
    (void)arg;
    pthread_mutex_lock(&lock);
    for (int seen = 0;; ++seen) {
        while (rounds_asked == seen) pthread_cond_wait(&go, &lock);
        if (rounds_asked < 0) break;
        pthread_mutex_unlock(&lock);
        worker_calls();
        pthread_mutex_lock(&lock);
        ++rounds_done;
        pthread_cond_signal(&finished);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(int argc, char** argv) {
    n = argc > 1 ? atoi(argv[1]) : 1000;
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    outside_calls();
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        char c;
        const ssize_t r = read(0, &c, 1);
        if (r < 0) {
            perror("read");
            return 3;
        }
        if (r == 0 || c == 'q') break;
        if (c != 'g') continue;
        pthread_mutex_lock(&lock);
        ++rounds_asked;
        pthread_cond_signal(&go);
        pthread_mutex_unlock(&lock);
        window_calls();
        window_libc();
        pthread_mutex_lock(&lock);
        while (rounds_done < rounds_asked) pthread_cond_wait(&finished, &lock);
        pthread_mutex_unlock(&lock);
        printf("done\n");
        fflush(stdout);
    }
    outside_calls();
    pthread_mutex_lock(&lock);
    rounds_asked = -1;
    pthread_cond_signal(&go);
    pthread_mutex_unlock(&lock);
    pthread_join(t, NULL);
    printf("bye\n");
    return 0;
}
