#include "tracer/engine/process_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "tracer/common/linux_dirent.h"
#include "tracer/engine/segment_create.h"
#include "tracer/common/text_util.h"

namespace vdsotrace::tracer {

namespace {

struct ForkParent {
    uint64_t segment_id;
    int32_t pid;
    uint64_t start_ticks;
};
ForkParent g_fork_parent;  // written in the forked child only, before its first segment exists

bool starts_with(const char* s, const char* prefix) {
    while (*prefix)
        if (*s++ != *prefix++) return false;
    return true;
}

// Parses 16 lower-case hex digits.
bool parse_id(const char* s, uint64_t* out) {
    uint64_t v = 0;
    for (int i = 0; i < 16; ++i) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return false;
        v = v << 4 | uint64_t(d);
    }
    if (s[16] != '\0') return false;
    *out = v;
    return true;
}

// If /dev/shm/<name> is the recording of the image this process replaced (same pid and start
// time, still marked running), marks it exec'd and returns its id; 0 otherwise.
uint64_t claim_previous_image(const char* name, const format::Header* self) {
    char path[320];
    TextBuffer(path, sizeof path).add("/dev/shm/")->add(name);
    int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return 0;
    void* p = mmap(nullptr, format::kHeaderSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return 0;
    auto* h = static_cast<format::Header*>(p);
    uint64_t id = 0;
    uint32_t running = format::kStateRunning;
    if (memcmp(h->magic, format::kMagic, sizeof h->magic) == 0 && h->major == format::kMajor &&
        h->pid == self->pid && h->proc_start_ticks == self->proc_start_ticks && h->proc_start_ticks != 0 &&
        h->tree.segment_id != self->tree.segment_id) {
        // The old image cannot write any more (exec replaced it); the compare-and-swap only keeps
        // two images racing for it (impossible: one pid runs one image) from both claiming it.
        h->tree.exec_monotonic_ns = monotonic_ns();
        if (__atomic_compare_exchange_n(&h->state, &running, uint32_t(format::kStateExeced), false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            id = h->tree.segment_id;
    }
    munmap(p, format::kHeaderSize);
    return id;
}

uint64_t find_previous_image(const format::Header* self) {
    char prefix[128];
    TextBuffer pre(prefix, sizeof prefix);
    pre.add(format::kShmPrefix)->add_u64(self->uid)->add("-")->add(self->session)->add("-");
    pre.add_u64(uint64_t(self->pid))->add("-");
    int dir = open("/dev/shm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return 0;
    uint64_t found = 0;
    // Static: runs only while this process creates its segment, one thread at a time, and a
    // 4 KiB buffer on the stack of the first clock call would need that much stack (issue 12).
    alignas(8) static char buf[4096];
    for (;;) {
        long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
        if (n <= 0) break;
        for (long off = 0; off < n && found == 0;) {
            auto* d = reinterpret_cast<LinuxDirent64*>(buf + off);
            off += d->d_reclen;
            uint64_t id = 0;
            if (starts_with(d->d_name, prefix) && parse_id(d->d_name + pre.size(), &id) &&
                id != self->tree.segment_id)
                found = claim_previous_image(d->d_name, self);
        }
        if (found != 0) break;
    }
    close(dir);
    return found;
}

bool is_shim_path(const char* begin, const char* end) {
    static const char kName[] = "libvdsotrace.so";
    const size_t n = sizeof kName - 1;
    if (size_t(end - begin) < n || memcmp(end - n, kName, n) != 0) return false;
    return size_t(end - begin) == n || end[-long(n) - 1] == '/';
}

}  // namespace

void remember_fork_parent(const format::Header* parent) {
    // A parent that recorded nothing passes on what it inherited: the nearest recording ancestor.
    if (parent == nullptr) return;
    g_fork_parent.segment_id = parent->tree.segment_id;
    g_fork_parent.pid = parent->pid;
    g_fork_parent.start_ticks = parent->proc_start_ticks;
}

void link_into_tree(format::Header* h) {
    if (g_fork_parent.segment_id != 0) {
        h->tree.parent_segment_id = g_fork_parent.segment_id;
        h->tree.parent_pid = g_fork_parent.pid;
        h->tree.parent_start_ticks = g_fork_parent.start_ticks;
        h->tree.tree_flags |= format::kTreeForked;
        return;  // a forked child has not exec'd (the fork handler's state does not survive exec)
    }
    const uint64_t previous = find_previous_image(h);
    if (previous != 0) {
        h->tree.previous_image_id = previous;
        h->tree.tree_flags |= format::kTreeExecImage;
    }
}

void apply_follow_exec_setting() {
    const char* follow = getenv("VDSOTRACE_FOLLOW_EXEC");
    if (follow == nullptr || strcmp(follow, "0") != 0) return;
    char* list = getenv("LD_PRELOAD");  // points into the environment block: edited in place
    if (list == nullptr) return;
    // Entries are separated by ':' or spaces (ld.so(8)). Copy every entry but the shim's down.
    char* out = list;
    for (char* p = list; *p;) {
        char* end = p;
        while (*end && *end != ':' && *end != ' ') ++end;
        if (end > p && !is_shim_path(p, end)) {
            if (out != list) *out++ = ':';
            memmove(out, p, size_t(end - p));
            out += end - p;
        }
        p = *end ? end + 1 : end;
    }
    *out = '\0';
}

}  // namespace vdsotrace::tracer
