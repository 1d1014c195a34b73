#include "tracer/engine/segment_growth.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "tracer/common/text_util.h"

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

}  // namespace

bool reserve_prefix(Segment* seg, uint64_t* reserved, const void* section, uint64_t bytes, uint64_t section_bytes) {
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
    const int saved_errno = errno;
    const int err = back(*seg, start + have, want - have);
    errno = saved_errno;
    if (err != 0) {
        say_failure_once(seg, err);
        return false;
    }
    // Only ever up: another thread may have reserved more meanwhile.
    while (have < want && !__atomic_compare_exchange_n(reserved, &have, want, true, __ATOMIC_RELEASE, __ATOMIC_ACQUIRE)) {
    }
    return true;
}

uint64_t reserved_entries(const Segment& seg, const uint64_t* reserved, uint64_t entry_size, uint64_t capacity) {
    if (!seg.growable) return capacity;
    const uint64_t n = __atomic_load_n(reserved, __ATOMIC_ACQUIRE) / entry_size;
    return n < capacity ? n : capacity;
}

bool reserve_once(Segment* seg, uint32_t* ready, const void* p, uint64_t bytes) {
    if (!seg->growable || __atomic_load_n(ready, __ATOMIC_ACQUIRE) != 0) return true;
    const auto* base = reinterpret_cast<const unsigned char*>(seg->header);
    const uint64_t start = uint64_t(static_cast<const unsigned char*>(p) - base);
    if (start + bytes > seg->size) return false;
    const int saved_errno = errno;
    const int err = back(*seg, start, bytes);
    errno = saved_errno;
    if (err != 0) {
        say_failure_once(seg, err);
        return false;
    }
    __atomic_store_n(ready, 1u, __ATOMIC_RELEASE);
    return true;
}

bool reserve_whole(Segment* seg) {
    if (!__atomic_load_n(&seg->growable, __ATOMIC_ACQUIRE)) return true;
    const int saved_errno = errno;
    const int err = back(*seg, 0, seg->size);
    errno = saved_errno;
    if (err != 0) {
        say_failure_once(seg, err);
        return false;
    }
    // Everything is backed: every reservation succeeds without a system call from now on.
    __atomic_store_n(&seg->growable, false, __ATOMIC_RELEASE);
    return true;
}

}  // namespace vdsotrace::tracer
