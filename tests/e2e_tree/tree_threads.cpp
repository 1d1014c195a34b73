// tree_threads THREADS CALLS: starts THREADS short-lived threads, at most 50 at once, each named
// "w<i>" with pthread_setname_np and calling CLOCK_MONOTONIC CALLS times; the main thread, named
// "boss" with prctl, calls CLOCK_REALTIME once. With a third argument "together", the threads of
// a batch wait after their first call until all 50 have made it: 50 threads alive at once.
#include <pthread.h>
#include <sys/prctl.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "tests/e2e_tree/tree_calls.h"

int main(int argc, char** argv) {
    if (argc != 3 && argc != 4) return 100;
    const bool together = argc == 4 && strcmp(argv[3], "together") == 0;
    const long threads = tree_test::arg_long(argv[1]), calls = tree_test::arg_long(argv[2]);
    prctl(PR_SET_NAME, "boss");
    tree_test::call_clock("real", 1);
    for (long started = 0; started < threads;) {
        std::vector<std::thread> batch;
        std::atomic<long> arrived{0};
        const long size = threads - started < 50 ? threads - started : 50;
        for (int i = 0; i < 50 && started < threads; ++i, ++started) {
            batch.emplace_back([calls, started, together, size, &arrived] {
                char name[16];
                snprintf(name, sizeof name, "w%ld", started);
                pthread_setname_np(pthread_self(), name);
                tree_test::call_clock("mono", 1);
                arrived.fetch_add(1);
                while (together && arrived.load() < size) std::this_thread::yield();
                tree_test::call_clock("mono", calls - 1);
            });
        }
        for (std::thread& t : batch) t.join();
    }
    return 0;
}
