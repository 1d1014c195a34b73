// The record getdents64(2) fills: the engine lists /dev/shm with the raw system call (glibc's
// readdir allocates, and the engine's slow paths must stay async-signal-safe).
#pragma once

#include <cstdint>

namespace vdsotrace::tracer {

struct LinuxDirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

}  // namespace vdsotrace::tracer
