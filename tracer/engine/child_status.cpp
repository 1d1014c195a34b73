// A reaped child's status, written into the child's recording when the child could not write it
// itself: killed by a signal, or gone through a raw exit_group (Go's os.Exit) or a libc-internal
// exit. Its parent's wait() under the shim is the one place that knows. Without this, such
// children were reported as "vanished" although their parent saw exactly how they ended.
//
// Runs after the program's wait call returned (shim/wait_hooks.cpp), possibly in a SIGCHLD
// handler: only async-signal-safe system calls, no allocation from the heap, a small stack.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "tracer/common/linux_dirent.h"
#include "tracer/common/text_util.h"
#include "tracer/engine/lifecycle.h"
#include "tracer/engine/slow_path.h"
#include "tracer/engine/recorder.h"
#include "tracer/engine/process_tree.h"
#include "tracer/engine/segment_create.h"
#include "tracer/engine/settings.h"

namespace vdsotrace::tracer {

namespace {

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// Whether `name` is "vdsotrace-<uid>-<session>-<pid>-<16 hex>" for `prefix` ("vdsotrace-<uid>-")
// and `pid_part` ("-<pid>-"). Read from the end: the session sits between prefix and pid.
bool names_recording_of(const char* name, const char* prefix, size_t prefix_size, const char* pid_part,
                        size_t pid_part_size) {
    const size_t n = strlen(name);
    if (n < prefix_size + 1 + pid_part_size + 16 || memcmp(name, prefix, prefix_size) != 0) return false;
    for (size_t i = n - 16; i < n; ++i)
        if (!is_hex(name[i])) return false;
    return memcmp(name + n - 16 - pid_part_size, pid_part, pid_part_size) == 0;
}

// The header fields read to choose a recording: everything up to the end times.
constexpr size_t kHeadBytes = offsetof(format::Header, end_realtime_ns) + sizeof(uint64_t);

// Opens /dev/shm/<name> for writing when it is the recording of the process `pid` this process
// reaped: ours (owner and name), of this format's major, made by a child of this process
// (`self`) before the reap (`reaped_at`), not yet told how it ended. Fills `head`.
// `*missing` (when given) tells a name nothing has from one that is not a candidate.
int open_candidate(const char* name, pid_t pid, pid_t self, uint64_t reaped_at, format::Header* head,
                   bool* missing = nullptr) {
    char path[320];
    TextBuffer(path, sizeof path).add("/dev/shm/")->add(name);
    const int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (missing != nullptr) *missing = fd < 0 && errno == ENOENT;
    if (fd < 0) return -1;
    struct stat st {};
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        size_t(st.st_size) >= format::kHeaderSize && pread(fd, head, kHeadBytes, 0) == ssize_t(kHeadBytes) &&
        memcmp(head->magic, format::kMagic, sizeof head->magic) == 0 && head->major == format::kMajor &&
        head->pid == pid && head->ppid == self && head->start_monotonic_ns <= reaped_at &&
        (head->state == format::kStateRunning || head->state == format::kStateEnded))
        return fd;
    close(fd);
    return -1;
}

// Format 2 files grow: only what fstat showed to exist is touched (open_candidate saw at least the
// whole header), with pwrite, never a mapping: nothing here can extend the child's file or fault.
// The fields written all lie in the header.
static_assert(offsetof(format::Header, reaped_by) + sizeof(int32_t) <= format::kHeaderSize);
static_assert(offsetof(format::Header, state) + sizeof(uint32_t) <= format::kHeaderSize);
static_assert(offsetof(format::Header, exit_value) + sizeof(int32_t) <= format::kHeaderSize);

template <typename T>
bool write_field(int fd, const T& value, size_t offset) {
    return pwrite(fd, &value, sizeof value, off_t(offset)) == ssize_t(sizeof value);
}

// The candidates' header fields: only the first kHeadBytes of a Header are read and used (a whole
// 4 KiB header on the stack is too much for a SIGCHLD handler on a small alternate stack).
struct alignas(format::Header) HeadBuffer {
    unsigned char bytes[kHeadBytes];
    format::Header* header() { return reinterpret_cast<format::Header*>(bytes); }
};

// The newest recording of `pid` seen so far: its descriptor (or -1) and when it started.
struct Best {
    int fd = -1;
    uint64_t start = 0;

    // Keeps `fd` (a candidate that started at `start`) when it is newer; closes the other one.
    void offer(int fd_in, uint64_t start_in) {
        if (fd >= 0 && start_in < start) {
            close(fd_in);
            return;
        }
        if (fd >= 0) close(fd);
        fd = fd_in;
        start = start_in;
    }
};

// The recordings of `pid` in `session` by their names (process_tree.h): the images of one
// process take generations 0, 1, ... in order, so the first name missing ends the lookup. One
// open (and a check) per image, where a scan of /dev/shm cost 0.5 to 0.8 ms with a few hundred
// recordings there.
void find_by_name(const char* session, pid_t pid, pid_t self, uint64_t reaped_at, Best* best) {
    HeadBuffer head;
    const auto uid = uint32_t(getuid());
    for (uint32_t g = 0; g < kMaxImageGenerations; ++g) {
        char name[192];
        TextBuffer b(name, sizeof name);
        add_segment_name(&b, uid, session, int(pid), image_segment_id(uid, session, int(pid), g));
        bool missing = false;
        const int fd = open_candidate(name, pid, self, reaped_at, head.header(), &missing);
        if (missing) return;
        if (fd >= 0) best->offer(fd, head.header()->start_monotonic_ns);
    }
}

// The recordings of `pid` in any session of this user: a scan of /dev/shm. Only for the children
// of a process in its own session, whose exec'd images name their own (settings.h).
void find_by_scan(pid_t pid, pid_t self, uint64_t reaped_at, Best* best) {
    char prefix[40], pid_part[24];
    TextBuffer pre(prefix, sizeof prefix);
    pre.add(format::kShmPrefix)->add_u64(getuid())->add("-");
    TextBuffer pp(pid_part, sizeof pid_part);
    pp.add("-")->add_u64(uint64_t(pid))->add("-");

    const int dir = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return;
    // The directory buffer is mapped, not on the stack: a SIGCHLD handler may run on a small
    // alternate stack. One mapping per reap; the scan itself is a few getdents64 calls.
    constexpr size_t kBufSize = 64 * 1024;
    void* map = mmap(nullptr, kBufSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        close(dir);
        return;
    }
    char* buf = static_cast<char*>(map);
    HeadBuffer head;
    for (;;) {
        const long n = syscall(SYS_getdents64, dir, buf, kBufSize);
        if (n <= 0) break;
        for (long off = 0; off < n;) {
            const auto* d = reinterpret_cast<const LinuxDirent64*>(buf + off);
            off += d->d_reclen;
            if (!names_recording_of(d->d_name, prefix, pre.size(), pid_part, pp.size())) continue;
            const int fd = open_candidate(d->d_name, pid, self, reaped_at, head.header());
            if (fd >= 0) best->offer(fd, head.header()->start_monotonic_ns);
        }
    }
    munmap(map, kBufSize);
    close(dir);
}

}  // namespace

void note_child_reaped(pid_t pid, bool signaled, int value) {
    if (pid <= 0) return;
    stamp_activity();  // this process reaped a child: it was alive now
    if (sandbox_announced()) return;  // a seccomp filter may kill the lookup's system calls
    SlowPathGuard slow;  // open, pread, pwrite, close: no cancellation acted on after the wait returned
    // Whatever started after this moment is another process that got the pid since.
    const uint64_t reaped_at = monotonic_ns();
    const pid_t self = getpid();  // a syscall: a vfork child reaping its own children is itself
    // The newest recording of the pid: the last image of an exec chain (earlier images are
    // kStateExeced). Children share this process's session (inherited in the environment, or
    // in memory by a fork), except the exec'd images of a process in its own session.
    char session[format::kSessionMax];
    TextBuffer s(session, sizeof session);
    const bool own = current_session(&s);
    Best best;
    find_by_name(session, pid, self, reaped_at, &best);
    if (best.fd < 0 && own) find_by_scan(pid, self, reaped_at, &best);
    if (best.fd < 0) return;
    const int best_fd = best.fd;
    // The status first, the state last: a reader that sees the new state sees its value. The
    // child is gone: nobody else writes these fields any more.
    const int32_t exit_value = value;
    const int32_t reaper = self;
    const uint32_t state = signaled ? format::kStateSignaled : format::kStateExited;
    if (write_field(best_fd, exit_value, offsetof(format::Header, exit_value)) &&
        write_field(best_fd, reaper, offsetof(format::Header, reaped_by)))
        write_field(best_fd, state, offsetof(format::Header, state));
    close(best_fd);
}

}  // namespace vdsotrace::tracer
