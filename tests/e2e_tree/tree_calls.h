// Clock calls the process-tree test programs make, each a known count through the PLT (so the
// shim sees every one). Shared by the small programs of tests/e2e_tree/.
#pragma once

#include <sys/time.h>
#include <time.h>

#include <cstdlib>
#include <cstring>

namespace tree_test {

// Calls the function named by `what` n times: mono, real, coarse (clock_gettime with that clock),
// tod (gettimeofday), time.
inline void call_clock(const char* what, long n) {
    timespec ts{};
    timeval tv{};
    for (long i = 0; i < n; ++i) {
        if (strcmp(what, "mono") == 0)
            clock_gettime(CLOCK_MONOTONIC, &ts);
        else if (strcmp(what, "real") == 0)
            clock_gettime(CLOCK_REALTIME, &ts);
        else if (strcmp(what, "coarse") == 0)
            clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        else if (strcmp(what, "tod") == 0)
            gettimeofday(&tv, nullptr);
        else if (strcmp(what, "time") == 0)
            time(nullptr);
        else
            abort();
    }
}

inline long arg_long(const char* s) { return strtol(s, nullptr, 10); }

}  // namespace tree_test
