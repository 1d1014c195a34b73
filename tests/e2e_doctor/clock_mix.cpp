// Known numbers of calls on a clock the vDSO serves and on one it never serves:
// 1000 x CLOCK_PROCESS_CPUTIME_ID (always a system call), 3000 x CLOCK_MONOTONIC (the vDSO).
#include <time.h>

int main() {
    timespec ts{};
    for (int i = 0; i < 1000; ++i) clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    for (int i = 0; i < 3000; ++i) clock_gettime(CLOCK_MONOTONIC, &ts);
    return 0;
}
