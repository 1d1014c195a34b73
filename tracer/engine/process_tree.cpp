#include "tracer/engine/process_tree.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "tracer/common/process_info.h"
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

// Whether `old` (a recording of this pid) was begun by this process, in an image before this one.
// This process's start time is read now if nobody needed it before (only an exec chain does, so
// a short process never reads /proc/PID/stat) and kept in `self`, so readers compare exactly.
// `old` has its own when something read it; else its start against this process's start.
bool same_process(const format::Header* old, format::Header* self) {
    if (self->proc_start_ticks == 0) self->proc_start_ticks = own_start_ticks(self->pid);
    return recorded_by(old->proc_start_ticks, old->start_monotonic_ns, self->proc_start_ticks,
                       boottime_ns() - monotonic_ns(), sysconf(_SC_CLK_TCK));
}

// If /dev/shm/<name> is the recording of the image this process replaced (same pid and start
// time, still marked running), marks it exec'd and returns its id; 0 otherwise.
uint64_t claim_previous_image(const char* name, format::Header* self) {
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
        h->pid == self->pid && h->tree.segment_id != self->tree.segment_id && same_process(h, self)) {
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

uint64_t g_previous_image;  // create_segment_file's find: the id of the image this one replaced, or 0

uint64_t mix(uint64_t x) {  // splitmix64's finaliser
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

}  // namespace

void add_segment_name(TextBuffer* b, uint32_t uid, const char* session, int pid, uint64_t id) {
    b->add(format::kShmPrefix)->add_u64(uid)->add("-")->add(session)->add("-")->add_u64(uint64_t(pid));
    b->add("-")->add_hex(id, 16);
}

uint64_t image_segment_id(uint32_t uid, const char* session, int pid, uint32_t generation) {
    uint64_t h = mix(uint64_t(uid) << 32 ^ uint64_t(uint32_t(pid)));
    for (const char* c = session; *c; ++c) h = mix(h ^ uint8_t(*c));
    h = mix(h ^ (uint64_t(generation) + 1) * 0x9E3779B97F4A7C15ull);
    return h != 0 ? h : 1;
}

int create_segment_file(uint32_t uid, const char* session, int pid, uint64_t (*random_id)(), uint64_t* id,
                        char* name, size_t name_size) {
    g_previous_image = 0;
    const auto create = [&](uint64_t candidate) {
        TextBuffer b(name, name_size);
        b.add("/");
        add_segment_name(&b, uid, session, pid, candidate);
        *id = candidate;
        return shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    };
    // Images of one process: generation 0 first, then one for each exec that recorded. A few
    // exact names, where reading /dev/shm cost a scan of every file in it (10% of a shell loop's
    // time with a few hundred recordings there).
    for (uint32_t g = 0; g < kMaxImageGenerations; ++g) {
        const uint64_t candidate = image_segment_id(uid, session, pid, g);
        const int fd = create(candidate);
        if (fd >= 0 || errno != EEXIST) return fd;
        g_previous_image = candidate;
    }
    return create(random_id());  // implausible: a random id
}

namespace {

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
    uint64_t previous = 0;
    if (g_previous_image != 0) {
        char name[256];
        TextBuffer b(name, sizeof name);
        add_segment_name(&b, h->uid, h->session, h->pid, g_previous_image);
        previous = claim_previous_image(name, h);
    }
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
