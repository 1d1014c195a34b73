// C++ exceptions under sampling: libunwind is loaded RTLD_LOCAL, so the program's throw and
// catch still go through libgcc's unwinder. Throws argv[1] times, reading the clock in the
// function that throws and in the handler; prints what it caught and exits 7 (a known status).
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace {

__attribute__((noinline)) void may_throw(int i) {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (i % 2 == 0) throw std::runtime_error("even " + std::to_string(i));
    throw i;
}

}  // namespace

int main(int argc, char** argv) {
    const int n = argc > 1 ? atoi(argv[1]) : 100;
    long caught_text = 0, caught_int = 0, sum = 0;
    for (int i = 0; i < n; ++i) {
        try {
            may_throw(i);
        } catch (const std::runtime_error& e) {
            timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ++caught_text;
            sum += std::string(e.what()).size();
        } catch (int v) {
            ++caught_int;
            sum += v;
        }
    }
    std::printf("caught %ld runtime_error, %ld int, sum %ld\n", caught_text, caught_int, sum);
    return 7;
}
