// A target for measuring how long `vdsotrace attach` stops a process: THREADS threads calling
// clock_gettime in a loop, after loading up to MODULES shared libraries from the given directory
// (RTLD_LAZY | RTLD_LOCAL). Usage: attach_crowd THREADS MODULES DIR. Runs until killed.
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile long sink;

static void* spin(void* arg) {
    (void)arg;
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sink += ts.tv_nsec;
        if ((ts.tv_nsec & 0xfff) == 0) usleep(100);
    }
    return NULL;
}

int main(int argc, char** argv) {
    const int threads = argc > 1 ? atoi(argv[1]) : 8, modules = argc > 2 ? atoi(argv[2]) : 100;
    int loaded = 0;
    DIR* d = opendir(argc > 3 ? argv[3] : "/usr/lib/x86_64-linux-gnu");
    char path[4096];
    for (struct dirent* e; d != NULL && loaded < modules && (e = readdir(d)) != NULL;) {
        if (strstr(e->d_name, ".so.") == NULL || strncmp(e->d_name, "lib", 3) != 0) continue;
        snprintf(path, sizeof path, "%s/%s", argc > 3 ? argv[3] : "/usr/lib/x86_64-linux-gnu", e->d_name);
        if (dlopen(path, RTLD_LAZY | RTLD_LOCAL) != NULL) ++loaded;
    }
    pthread_t t;
    for (int i = 1; i < threads; ++i) pthread_create(&t, NULL, spin, NULL);
    printf("ready %d modules\n", loaded);
    fflush(stdout);
    spin(NULL);
    return 0;
}
