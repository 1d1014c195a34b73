// tree_threads THREADS CALLS: starts THREADS short-lived threads, at most 50 at once, each named
// "w<i>" with pthread_setname_np and calling CLOCK_MONOTONIC CALLS times; the main thread, named
// "boss" with prctl, calls CLOCK_REALTIME once.
#include <pthread.h>
#include <sys/prctl.h>

#include <cstdio>
#include <thread>
#include <vector>

#include "tree_calls.h"

int main(int argc, char** argv) {
    if (argc != 3) return 100;
    const long threads = tree_test::arg_long(argv[1]), calls = tree_test::arg_long(argv[2]);
    prctl(PR_SET_NAME, "boss");
    tree_test::call_clock("real", 1);
    for (long started = 0; started < threads;) {
        std::vector<std::thread> batch;
        for (int i = 0; i < 50 && started < threads; ++i, ++started) {
            batch.emplace_back([calls, started] {
                char name[16];
                snprintf(name, sizeof name, "w%ld", started);
                pthread_setname_np(pthread_self(), name);
                tree_test::call_clock("mono", calls);
            });
        }
        for (std::thread& t : batch) t.join();
    }
    return 0;
}
