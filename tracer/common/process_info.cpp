#include "tracer/common/process_info.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "tracer/common/executable_path.h"
#include "tracer/common/text_util.h"

namespace vdsotrace::tracer {

namespace {

// Reads up to size bytes of a small /proc file; returns the count, 0 on failure.
size_t read_small_file(const char* path, char* buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    size_t used = 0;
    while (used < size) {
        ssize_t n = read(fd, buf + used, size - used);
        if (n <= 0) break;
        used += size_t(n);
        // A short read is the end: the files read here (stat, cmdline) are generated whole on the
        // first read, so the read that would return 0 is saved (two system calls a process start).
        if (size_t(n) < size - (used - size_t(n))) break;
    }
    close(fd);
    return used;
}

// The argument strings' area [start, end), set once by note_arguments; empty: read /proc.
const char* g_args_start;
const char* g_args_end;

// /proc/self/cmdline's content: the argument area as it is now in memory (a program may have
// rewritten it since, as /proc would show too; a title written on past the arguments'
// end, setproctitle-style, is cut there), or the file when the area is unknown.
size_t read_cmdline(char* buf, size_t size) {
    const char* start = __atomic_load_n(&g_args_start, __ATOMIC_ACQUIRE);
    if (start == nullptr) return read_small_file("/proc/self/cmdline", buf, size);
    const size_t n = size_t(g_args_end - start) < size ? size_t(g_args_end - start) : size;
    memcpy(buf, start, n);
    return n;
}

// own_start_ticks's value and the pid it was read for (a forked child reads its own).
int g_ticks_pid;
uint64_t g_ticks;

uint64_t known_start_ticks(int pid) { return __atomic_load_n(&g_ticks_pid, __ATOMIC_ACQUIRE) == pid ? g_ticks : 0; }

}  // namespace

uint64_t own_start_ticks(int pid) {
    if (const uint64_t known = known_start_ticks(pid); known != 0) return known;
    const uint64_t ticks = read_start_ticks(pid);
    if (ticks != 0) {
        g_ticks = ticks;
        __atomic_store_n(&g_ticks_pid, pid, __ATOMIC_RELEASE);
    }
    return ticks;
}

bool began_in_process(uint64_t began_monotonic_ns, uint64_t start_ticks, uint64_t boot_minus_monotonic_ns,
                      long ticks_per_s) {
    if (start_ticks == 0 || ticks_per_s <= 0) return false;
    const uint64_t start_boottime_ns = start_ticks * (1000000000ull / uint64_t(ticks_per_s));
    // Started before CLOCK_MONOTONIC's zero (a suspend-adjusted boot): everything began after it.
    if (start_boottime_ns <= boot_minus_monotonic_ns) return true;
    return began_monotonic_ns >= start_boottime_ns - boot_minus_monotonic_ns;
}

bool recorded_by(uint64_t recorded_ticks, uint64_t recording_began_monotonic_ns, uint64_t live_ticks,
                 uint64_t boot_minus_monotonic_ns, long ticks_per_s) {
    if (live_ticks == 0) return false;
    if (recorded_ticks != 0) return recorded_ticks == live_ticks;
    return began_in_process(recording_began_monotonic_ns, live_ticks, boot_minus_monotonic_ns, ticks_per_s);
}

void note_arguments(int argc, char** argv) {
    if (argc <= 0 || argv == nullptr || argv[0] == nullptr) return;
    // Contiguous, each string right after the previous one's NUL, as execve lays them out; anything
    // else (a loader that copied them) keeps the /proc read.
    const char* end = argv[0];
    for (int i = 0; i < argc; ++i) {
        if (argv[i] != end) return;
        end += strlen(argv[i]) + 1;
    }
    g_args_end = end;
    __atomic_store_n(&g_args_start, argv[0], __ATOMIC_RELEASE);
}

uint64_t read_start_ticks(int pid) {
    char path[64];
    TextBuffer(path, sizeof path).add("/proc/")->add_u64(uint64_t(pid))->add("/stat");
    char buf[1024];
    size_t n = read_small_file(path, buf, sizeof buf - 1);
    buf[n] = '\0';
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    size_t i = n;
    while (i > 0 && buf[i - 1] != ')') --i;
    if (i == 0) return 0;
    int field = 2;
    uint64_t value = 0;
    for (; i < n; ++i) {
        if (buf[i] == ' ') {
            if (field == 22) return value;
            ++field;
            value = 0;
        } else if (field == 22 && buf[i] >= '0' && buf[i] <= '9') {
            value = value * 10 + uint64_t(buf[i] - '0');
        }
    }
    return field == 22 ? value : 0;
}

void fill_process_info(format::Header* h) {
    h->pid = getpid();
    h->ppid = getppid();
    h->proc_start_ticks = known_start_ticks(h->pid);
    if (!executable_path_from_exec(h->exe, sizeof h->exe)) {
        const ssize_t n = readlink("/proc/self/exe", h->exe, sizeof h->exe - 1);
        h->exe[n > 0 ? n : 0] = '\0';
    }
    size_t c = read_cmdline(h->cmdline, sizeof h->cmdline);
    h->cmdline_size = uint32_t(c);
    if (c == sizeof h->cmdline) {
        // Cut at the last complete argument; the flag tells the reader there were more.
        while (c > 0 && h->cmdline[c - 1] != '\0') --c;
        h->cmdline_size = uint32_t(c);
        h->flags |= format::kFlagCmdlineTruncated;
    }
}

}  // namespace vdsotrace::tracer
