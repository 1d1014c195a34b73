#include "tracer/engine/segment_growth.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "tracer/common/text_util.h"
#include "tracer/engine/sample_stack.h"
#include "tracer/engine/slow_path.h"

namespace vdsotrace::tracer {

namespace {

constexpr uint64_t kPage = 4096;

int g_failure_said;  // the one stderr line about a failed growth was written (atomic)

void say_failure_once(Segment* seg, int err) {
    __atomic_fetch_or(&seg->header->flags, uint32_t(format::kFlagGrowthFailed), __ATOMIC_RELAXED);
    if (__atomic_exchange_n(&g_failure_said, 1, __ATOMIC_ACQ_REL) != 0) return;
    char line[384];  // on the stack: any thread may fail first, and this one says it alone
    TextBuffer b(line, sizeof line);
    b.add("vdsotrace: the recording cannot grow (");
    describe_errno(&b, err);
    b.add("): every call is still counted, but new threads count together and new modules and call "
          "sites go unnamed from now on\n");
    ssize_t ignored = write(STDERR_FILENO, b.c_str(), b.size());
    (void)ignored;
}

// Raises the header's backed_size to `end` (only ever up: threads grow different sections at once).
void note_backed(format::Header* h, uint64_t end) {
    uint32_t seen = __atomic_load_n(&h->backed_size, __ATOMIC_RELAXED);
    while (seen < end && !__atomic_compare_exchange_n(&h->backed_size, &seen, uint32_t(end), true, __ATOMIC_RELEASE,
                                                      __ATOMIC_RELAXED)) {
    }
}

// Backs [offset, offset + length) of the file with pages; 0 or an errno value.
int back(const Segment& seg, uint64_t offset, uint64_t length) {
    char path[160];
    TextBuffer(path, sizeof path).add("/dev/shm")->add(seg.name);
    const int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) return errno == ENOENT ? ESTALE : errno;
    int err = 0;
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        err = errno;
    } else if (uint64_t(st.st_dev) != seg.file_dev || uint64_t(st.st_ino) != seg.file_ino) {
        err = ESTALE;  // removed, and another file made under the name: never write into it
    } else if (offset + length > uint64_t(st.st_size)) {
        rlimit fsize{};
        if (getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY && offset + length > fsize.rlim_cur)
            err = EFBIG;  // checked here: past the limit the kernel would send SIGXFSZ
    }
    // fallocate, not posix_fallocate: where the file system cannot, glibc's emulation writes a
    // byte per block, which would race with other threads writing next to the new entries.
    if (err == 0 && fallocate(fd, 0, off_t(offset), off_t(length)) != 0) err = errno;
    close(fd);
    if (err == 0) note_backed(seg.header, offset + length);
    return err;
}

// One growth, described for a shim-owned stack: a prefix of a section (`reserved` set), a part
// reserved once (`ready` set), or the whole layout (neither).
struct Growth {
    Segment* seg;
    uint64_t* reserved;
    uint32_t* ready;
    const void* at;          // the section, or the part
    uint64_t bytes;          // the prefix or the part
    uint64_t section_bytes;  // a prefix's section
    bool ok;
};

bool grow_prefix_here(Segment* seg, uint64_t* reserved, const void* section, uint64_t bytes, uint64_t section_bytes) {
    if (!seg->growable) return true;
    uint64_t have = __atomic_load_n(reserved, __ATOMIC_ACQUIRE);
    if (bytes <= have) return true;
    if (bytes > section_bytes) return false;
    const auto* base = reinterpret_cast<const unsigned char*>(seg->header);
    const uint64_t start = uint64_t(static_cast<const unsigned char*>(section) - base);
    // Whole pages: the page holding the last byte is backed anyway, so the entries sharing it come
    // free (and need no system call later).
    uint64_t want = ((start + bytes + kPage - 1) / kPage) * kPage - start;
    if (want > section_bytes) want = section_bytes;
    if (start + want > seg->size) return false;
    const int err = back(*seg, start + have, want - have);
    if (err != 0) {
        say_failure_once(seg, err);
        return false;
    }
    // Only ever up: another thread may have reserved more meanwhile.
    while (have < want && !__atomic_compare_exchange_n(reserved, &have, want, true, __ATOMIC_RELEASE, __ATOMIC_ACQUIRE)) {
    }
    return true;
}

bool grow_once_here(Segment* seg, uint32_t* ready, const void* p, uint64_t bytes) {
    if (!seg->growable || __atomic_load_n(ready, __ATOMIC_ACQUIRE) != 0) return true;
    const auto* base = reinterpret_cast<const unsigned char*>(seg->header);
    const uint64_t start = uint64_t(static_cast<const unsigned char*>(p) - base);
    if (start + bytes > seg->size) return false;
    const int err = back(*seg, start, bytes);
    if (err != 0) {
        say_failure_once(seg, err);
        return false;
    }
    __atomic_store_n(ready, 1u, __ATOMIC_RELEASE);
    return true;
}

bool grow_whole_here(Segment* seg) {
    if (!__atomic_load_n(&seg->growable, __ATOMIC_ACQUIRE)) return true;
    const int err = back(*seg, 0, seg->size);
    if (err != 0) {
        say_failure_once(seg, err);
        return false;
    }
    // Everything is backed: every reservation succeeds without a system call from now on.
    __atomic_store_n(&seg->growable, false, __ATOMIC_RELEASE);
    return true;
}

void run_growth(void* arg) {
    auto* g = static_cast<Growth*>(arg);
    g->ok = g->reserved != nullptr ? grow_prefix_here(g->seg, g->reserved, g->at, g->bytes, g->section_bytes)
            : g->ready != nullptr  ? grow_once_here(g->seg, g->ready, g->at, g->bytes)
                                   : grow_whole_here(g->seg);
}

// Runs a growth on one of the shim's own stacks (sample_stack.h), mapped on the first growth: the
// file's checks, the system calls' wrappers and the failure's message need about 700 bytes, and
// growth runs inside a thread's first clock call and inside samples, where the program's stack
// may have less than that to spare (issue 12's first-call stack need). All that stays on the
// program's stack is the description and the switch. Where no stack can be had, it runs here.
bool grow_off_stack(Growth* g) {
    SlowPathGuard slow;  // the program's errno and cancellation, kept across every system call here
    sample_stacks_start();
    run_on_sample_stack(run_growth, g);
    return g->ok;
}

}  // namespace

bool grow_prefix(Segment* seg, uint64_t* reserved, const void* section, uint64_t bytes, uint64_t section_bytes) {
    Growth g{seg, reserved, nullptr, section, bytes, section_bytes, false};
    return grow_off_stack(&g);
}

bool grow_once(Segment* seg, uint32_t* ready, const void* p, uint64_t bytes) {
    Growth g{seg, nullptr, ready, p, bytes, 0, false};
    return grow_off_stack(&g);
}

bool reserve_whole(Segment* seg) {
    if (!__atomic_load_n(&seg->growable, __ATOMIC_ACQUIRE)) return true;
    Growth g{seg, nullptr, nullptr, nullptr, 0, 0, false};
    return grow_off_stack(&g);
}

}  // namespace vdsotrace::tracer
