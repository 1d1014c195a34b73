// Runs clock_gettime close to the end of a thread's stack: a thread on a 64 KiB stack of its own
// (over a guard page) calls it once with plenty of room, then from a point with LEFT bytes (argv[1],
// default 1024) between its stack pointer and the end of the stack.
#include <alloca.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

namespace {

unsigned char* g_low;  // lowest usable byte of the thread's stack
long g_left = 1024;

__attribute__((noinline)) void call_low() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
}

void* thread_main(void*) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);  // the first call, with room: the shim claims its slot
    unsigned char here;
    const long room = long(&here - g_low) - g_left;
    volatile unsigned char* pad = static_cast<unsigned char*>(alloca(size_t(room)));
    pad[0] = 0;
    call_low();
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1) g_left = atol(argv[1]);
    const size_t page = size_t(sysconf(_SC_PAGESIZE)), size = 64 * 1024;
    auto* region = static_cast<unsigned char*>(
        mmap(nullptr, page + size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0));
    mprotect(region, page, PROT_NONE);
    g_low = region + page;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, g_low, size);
    pthread_t t;
    if (pthread_create(&t, &attr, thread_main, nullptr) != 0) return 1;
    pthread_join(t, nullptr);
    return 0;
}
