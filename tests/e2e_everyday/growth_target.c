// A target whose calls are known in advance, for the recording-size tests (issue 14):
//   growth_target THREADS CALLS
// The main thread calls clock_gettime(CLOCK_REALTIME) 3 times from one site. Each of THREADS
// threads (all alive at once, so each holds a slot of its own) then calls
// clock_gettime(CLOCK_MONOTONIC) CALLS times from one site and time() CALLS times from another.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_barrier_t all_started;
static long calls_per_site;

static void* worker(void* arg) {
    (void)arg;
    pthread_barrier_wait(&all_started);
    struct timespec ts;
    for (long i = 0; i < calls_per_site; ++i) clock_gettime(CLOCK_MONOTONIC, &ts);
    for (long i = 0; i < calls_per_site; ++i) (void)time(NULL);
    pthread_barrier_wait(&all_started);  // nobody exits before everybody counted: one slot each
    return NULL;
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: growth_target THREADS CALLS\n");
        return 2;
    }
    const int threads = atoi(argv[1]);
    calls_per_site = atol(argv[2]);
    struct timespec ts;
    for (int i = 0; i < 3; ++i) clock_gettime(CLOCK_REALTIME, &ts);
    if (threads <= 0) return 0;
    pthread_t* ids = calloc((size_t)threads, sizeof *ids);
    pthread_barrier_init(&all_started, NULL, (unsigned)threads);
    for (int i = 0; i < threads; ++i)
        if (pthread_create(&ids[i], NULL, worker, NULL) != 0) return 3;
    for (int i = 0; i < threads; ++i) pthread_join(ids[i], NULL);
    return 0;
}
