#include "tracer/engine/segment_create.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tracer/common/process_info.h"
#include "tracer/common/text_util.h"
#include "tracer/common/vdso_image.h"
#include "tracer/engine/lifecycle.h"
#include "tracer/engine/process_tree.h"
#include "tracer/engine/vdso_patch_log.h"

namespace vdsotrace::tracer {

namespace {

// The vDSO's clock_gettime, when the shim found one (set_engine_clock): reading it is no system
// call, so a thread's first call and the exit handlers make none a sandbox could refuse.
int (*g_engine_clock)(clockid_t, timespec*);

uint64_t clock_ns(clockid_t id) {
    timespec ts{};
    auto* clock = __atomic_load_n(&g_engine_clock, __ATOMIC_RELAXED);
    if (clock == nullptr || clock(id, &ts) != 0) syscall(SYS_clock_gettime, id, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

uint64_t random_u64() {
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == ssize_t(sizeof v)) return v;
    // No getrandom (old kernel, seccomp): still unpredictable enough to avoid collisions.
    return clock_ns(CLOCK_MONOTONIC) * 0x9E3779B97F4A7C15ull ^ uint64_t(getpid()) << 32;
}

}  // namespace

void describe_errno(TextBuffer* b, int err) {
    // strerror may allocate for unknown codes and is not async-signal-safe; name the usual ones.
    switch (err) {
        case ENOSPC: b->add("no space left on /dev/shm"); break;
        case EACCES: b->add("permission denied"); break;
        case EROFS: b->add("/dev/shm is read-only"); break;
        case ENOENT: b->add("/dev/shm does not exist"); break;
        case EMFILE: b->add("too many open files"); break;
        case ENFILE: b->add("too many open files in the system"); break;
        case ENOMEM: b->add("out of memory"); break;
        case EEXIST: b->add("a segment of that name exists already"); break;
        case EPERM: b->add("operation not permitted"); break;
        case ENOSYS: b->add("not supported"); break;
        case EFBIG: b->add("file size limit exceeded"); break;
        case ESTALE: b->add("the file was removed or replaced"); break;
        default: b->add("error ")->add_u64(uint64_t(err)); break;
    }
}

namespace {

// The doctor's header fields (routes, which functions the vDSO provides, crash handlers), noted
// by the shim (lifecycle.h) and copied into every segment created afterwards.
format::DoctorHeader g_doctor_header;

}  // namespace

void note_clock_routes(const uint8_t (&routes)[format::kFunctionCount],
                       const uint8_t (&from_vdso)[format::kFunctionCount]) {
    for (int fn = 0; fn < format::kFunctionCount; ++fn) {
        g_doctor_header.routes[fn] = routes[fn];
        g_doctor_header.from_vdso[fn] = from_vdso[fn];
    }
    g_doctor_header.filled = 1;
}

void note_crash_handlers_in_header() { g_doctor_header.crash_handlers = 1; }

void set_engine_clock(int (*vdso_clock_gettime)(clockid_t, timespec*)) {
    __atomic_store_n(&g_engine_clock, vdso_clock_gettime, __ATOMIC_RELAXED);
}

uint64_t monotonic_ns() { return clock_ns(CLOCK_MONOTONIC); }
uint64_t monotonic_coarse_ns() {
    timespec ts{};
    auto* clock = __atomic_load_n(&g_engine_clock, __ATOMIC_RELAXED);
    if (clock == nullptr || clock(CLOCK_MONOTONIC_COARSE, &ts) != 0) return UINT64_MAX;
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}
uint64_t realtime_ns() { return clock_ns(CLOCK_REALTIME); }
uint64_t boottime_ns() { return clock_ns(CLOCK_BOOTTIME); }

namespace {

// Static, not on the stack: the first clock call of a process may come from a thread with a
// small stack (issue 12; this 4 KiB header was most of the first call's 7.6 KB). Segments are
// created by one thread at a time (the recorder's state machine), so it is never shared.
format::Header g_plan;

// Who we are (pid, start time, executable, command line) into the plan: the segment's name
// derives from the uid, the session and the pid (process_tree.h), so an exec'd image can find this
// one. Apart from the file's creation and not inlined: reading /proc is the deepest part of a
// process's first clock call, and the creation's larger frame must not sit above it (issue 12).
__attribute__((noinline)) void identify() {
    fill_process_info(&g_plan);
    g_plan.uid = uint32_t(getuid());
}

// Lays out, creates (under its name in the process tree: process_tree.h), reserves and maps the
// segment of the process identify() described.
__attribute__((noinline)) bool create_file(const Settings& settings, Segment* out, char* error, size_t error_size) {
    TextBuffer err(error, error_size);

    vdso::Image vdso;
    const bool have_vdso = vdso::parse_live(&vdso) == vdso::ParseError::kNone;
    format::Header& plan = g_plan;
    const size_t size = plan_layout(settings, have_vdso ? vdso.size : 0, &plan);

    // Created with what every recording holds (header, fixed tables, vDSO image); the rest grows
    // on the slow paths (segment_growth.h) inside this one mapping of the whole layout.
    // Plus the first page of module entries and the first thread slot, which the creating thread
    // takes at once: reserved here, on the descriptor at hand.
    const size_t initial = format::fixed_part_size(plan);
    const size_t modules_at = format::section_offset(plan, format::kSectionModules);
    const size_t threads_at = format::section_offset(plan, format::kSectionThreads);
    const size_t slot_size = format::thread_slot_size(settings.callers);
    const size_t first_modules = std::min<size_t>(4096, size_t(settings.modules) * sizeof(format::ModuleEntry));
    const size_t first_slot = std::min<size_t>(align_up(threads_at + slot_size, 4096), size) - threads_at;
    const size_t needed = threads_at + first_slot;
    // A file size limit (ulimit -f) below that: fallocate would raise SIGXFSZ, whose default
    // action kills the program (issue 12). Checked before anything exists, so no empty recording
    // stays behind either. (Growth checks the limit again each time.)
    rlimit fsize{};
    if (getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY && fsize.rlim_cur < needed) {
        err.add("the recording needs ")->add_u64(needed / 1024)->add(" KiB, more than the file size limit (ulimit -f) of ");
        err.add_u64(uint64_t(fsize.rlim_cur) / 1024)->add(" KiB");
        return false;
    }
    uint64_t segment_id = 0;
    const int fd = create_segment_file(plan.uid, settings.session, plan.pid, random_u64, &segment_id, out->name,
                                       sizeof out->name);
    if (fd < 0) {
        err.add("cannot create /dev/shm")->add(out->name)->add(": ");
        describe_errno(&err, errno);
        return false;
    }
    // Reserve every page written now: a segment only ftruncate'd would raise SIGBUS in the middle
    // of a clock call when tmpfs fills up later.
    // The module entries follow the fixed part in today's layout: one call for both (each
    // fallocate on tmpfs costs its setup, ~5 us at a process start).
    int rc = 0;
    if (modules_at == initial) {
        rc = posix_fallocate(fd, 0, off_t(initial + first_modules));
    } else {
        rc = posix_fallocate(fd, 0, off_t(initial));
        if (rc == 0) rc = posix_fallocate(fd, off_t(modules_at), off_t(first_modules));
    }
    if (rc == 0) rc = posix_fallocate(fd, off_t(threads_at), off_t(first_slot));
    // Static like the plan (one creator at a time): the first call's stack need (issue 12).
    static struct stat st;
    st = {};
    if (rc == 0 && fstat(fd, &st) != 0) rc = errno;
    if (rc != 0) {
        err.add("cannot reserve ")->add_u64((initial + first_modules + first_slot) / 1024)->add(" KiB in /dev/shm: ");
        describe_errno(&err, rc);
        close(fd);
        shm_unlink(out->name);
        return false;
    }
    // The whole layout is mapped now; only the file's reserved prefix may be touched (the rest is
    // past its end). The mapping outlives the descriptor: daemons that close every descriptor
    // don't hurt us (growth opens the file again by name).
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int map_errno = errno;
    close(fd);
    if (p == MAP_FAILED) {
        err.add("cannot map the segment: ");
        describe_errno(&err, map_errno);
        shm_unlink(out->name);
        return false;
    }

    auto* h = static_cast<format::Header*>(p);
    memcpy(h, &plan, sizeof plan);
    h->start_realtime_ns = realtime_ns();
    h->start_monotonic_ns = monotonic_ns();
    TextBuffer(h->session, sizeof h->session).add(settings.session);
    h->tree.segment_id = segment_id;
    memcpy(&h->doctor, &g_doctor_header, sizeof h->doctor);
    bind_segment(h, out);
    for (uint32_t i = 0; i < h->section_count; ++i) {
        if (h->sections[i].kind != format::kSectionVdsoImage) continue;
        unsigned char* copy = reinterpret_cast<unsigned char*>(h) + h->sections[i].offset;
        memcpy(copy, vdso.base, vdso.size);
        undo_vdso_patches(copy, vdso.size);  // the kernel's vDSO, not the shim's redirections
    }
    h->flags |= vdso_redirect_flags();
    h->backed_size = uint32_t(needed);  // the first slot ends the last part reserved above
    out->growable = true;  // (bind_segment took it for a whole one)
    out->modules_reserved = first_modules;
    out->threads_reserved = first_slot;
    out->file_dev = uint64_t(st.st_dev);
    out->file_ino = uint64_t(st.st_ino);
    __atomic_store_n(&h->state, uint32_t(format::kStateRunning), __ATOMIC_RELEASE);
    return true;
}

}  // namespace

bool create_segment(const Settings& settings, Segment* out, char* error, size_t error_size) {
    g_plan = format::Header{};
    identify();
    return create_file(settings, out, error, error_size);
}

}  // namespace vdsotrace::tracer
