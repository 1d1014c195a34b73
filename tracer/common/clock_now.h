// Nanoseconds from a timespec and from the clock, the one way tools/ reads them.
#pragma once

#include <time.h>

#include <cstdint>

namespace vdsotrace {

inline uint64_t timespec_ns(const timespec& ts) { return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec); }

inline uint64_t now_ns(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return timespec_ns(ts);
}

}  // namespace vdsotrace
