// Throws and catches 1000 exceptions with clock calls in between:
//   thrower: clock_gettime(CLOCK_MONOTONIC), then throws
//   Guard destructor (runs during unwinding): clock_gettime(CLOCK_MONOTONIC_RAW)
//   catch block: clock_gettime(CLOCK_REALTIME)
// Prints a deterministic summary; exits 3 (a non-zero status the driver compares).
#include <time.h>

#include <cstdio>
#include <stdexcept>
#include <string>

#define E2E_SITE __attribute__((noinline, noclone))

volatile long e2e_sink;

struct Guard {
    int id;
    E2E_SITE ~Guard() {
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
        e2e_sink = e2e_sink + ts.tv_nsec + id;
    }
};

E2E_SITE void thrower(int i) {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    e2e_sink = e2e_sink + ts.tv_nsec;
    throw std::runtime_error("boom " + std::to_string(i));
}

E2E_SITE void middle(int i) {
    Guard g{i};
    thrower(i);
    e2e_sink = e2e_sink + 1;  // never reached
}

E2E_SITE long catcher(int i) {
    try {
        middle(i);
    } catch (const std::runtime_error& e) {
        timespec ts{};
        clock_gettime(CLOCK_REALTIME, &ts);
        e2e_sink = e2e_sink + ts.tv_nsec;
        return long(std::string(e.what()).size());
    }
    return -1000000;
}

int main() {
    long caught = 0, what_bytes = 0;
    for (int i = 0; i < 1000; ++i) {
        long n = catcher(i);
        if (n > 0) {
            ++caught;
            what_bytes += n;
        }
    }
    std::printf("caught %ld exceptions, %ld message bytes\n", caught, what_bytes);
    return caught == 1000 ? 3 : 1;
}
