// C++ frames for the sampling tests: a namespace, a class template, a lambda and a function
// inlined into its caller, each on the path to clock_gettime a known number of times:
//   shop::Basket<int>::total() -> clock_gettime            (argv[1] times)
//   shop::run_lambda(int) -> lambda -> clock_gettime        (argv[2] times)
//   shop::outer_visible() -> shop::inlined_stamp() [inlined] -> clock_gettime  (argv[3] times)
#include <time.h>

#include <cstdlib>

namespace shop {

volatile long sink;

template <typename T>
struct Basket {
    T items[4] = {1, 2, 3, 4};
    __attribute__((noinline)) T total() const {
        timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        sink = sink + ts.tv_nsec;
        asm volatile("" ::: "memory");
        return items[0] + items[3];
    }
};

__attribute__((noinline)) void run_lambda(int n) {
    auto stamp = [](int i) __attribute__((noinline)) {
        timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        sink = sink + ts.tv_nsec + i;
        asm volatile("" ::: "memory");
    };
    for (int i = 0; i < n; ++i) stamp(i);
    asm volatile("" ::: "memory");
}

__attribute__((always_inline)) inline void inlined_stamp() {
    timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    sink = sink + ts.tv_nsec;
}

__attribute__((noinline)) void outer_visible(int n) {
    for (int i = 0; i < n; ++i) inlined_stamp();
    asm volatile("" ::: "memory");
}

}  // namespace shop

int main(int argc, char** argv) {
    const int a = argc > 1 ? atoi(argv[1]) : 300;
    const int b = argc > 2 ? atoi(argv[2]) : 200;
    const int c = argc > 3 ? atoi(argv[3]) : 100;
    shop::Basket<int> basket;
    long t = 0;
    for (int i = 0; i < a; ++i) t += basket.total();
    shop::run_lambda(b);
    shop::outer_visible(c);
    return t == 5L * a ? 0 : 1;
}
