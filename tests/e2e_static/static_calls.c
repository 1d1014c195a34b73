// A statically linked program with known vDSO calls, each from one named function:
// clock_gettime(CLOCK_MONOTONIC) 3000 times from call_monotonic, gettimeofday 700 times from
// call_gettimeofday, time 50 times from call_time. Then, per argv[1]:
//   exit N     exits with status N
//   signal     kills itself with SIGTERM
//   threads    also 4 threads x 1000 clock_gettime(CLOCK_REALTIME) from thread_calls
//   fork       also a forked child making 100 clock_gettime(CLOCK_BOOTTIME) from child_calls
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile long sink;

__attribute__((noinline)) static void call_monotonic(int n) {
    struct timespec ts;
    for (int i = 0; i < n; ++i) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sink += ts.tv_nsec;
    }
}

__attribute__((noinline)) static void call_gettimeofday(int n) {
    struct timeval tv;
    for (int i = 0; i < n; ++i) {
        gettimeofday(&tv, NULL);
        sink += tv.tv_usec;
    }
}

__attribute__((noinline)) static void call_time(int n) {
    for (int i = 0; i < n; ++i) sink += time(NULL);
}

__attribute__((noinline)) static void* thread_calls(void* arg) {
    (void)arg;
    struct timespec ts;
    for (int i = 0; i < 1000; ++i) {
        clock_gettime(CLOCK_REALTIME, &ts);
        sink += ts.tv_nsec;
    }
    return NULL;
}

__attribute__((noinline)) static void child_calls(void) {
    struct timespec ts;
    for (int i = 0; i < 100; ++i) clock_gettime(CLOCK_BOOTTIME, &ts);
}

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "exit";
    call_monotonic(3000);
    call_gettimeofday(700);
    call_time(50);
    printf("calls made: 3000 700 50, mode %s\n", mode);
    fflush(stdout);
    if (strcmp(mode, "signal") == 0) {
        raise(SIGTERM);
        return 99;  // not reached
    }
    if (strcmp(mode, "threads") == 0) {
        pthread_t t[4];
        for (int i = 0; i < 4; ++i) pthread_create(&t[i], NULL, thread_calls, NULL);
        for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
        printf("threads done\n");
    }
    if (strcmp(mode, "fork") == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            child_calls();
            _exit(0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        printf("child status %d\n", status);
    }
    return argc > 2 ? atoi(argv[2]) : 0;
}
