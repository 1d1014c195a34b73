#include "tracer/engine/segment_create.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tracer/common/process_info.h"
#include "tracer/common/text_util.h"
#include "tracer/common/vdso_image.h"
#include "tracer/engine/vdso_patch_log.h"

namespace vdsotrace::tracer {

namespace {

size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

// The vDSO's clock_gettime, when the shim found one (set_engine_clock): reading it is no system
// call, so a thread's first call and the exit handlers make none a sandbox could refuse.
int (*g_engine_clock)(clockid_t, timespec*);

uint64_t clock_ns(clockid_t id) {
    timespec ts{};
    auto* clock = __atomic_load_n(&g_engine_clock, __ATOMIC_RELAXED);
    if (clock == nullptr || clock(id, &ts) != 0) syscall(SYS_clock_gettime, id, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

uint64_t random_u64() {
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == ssize_t(sizeof v)) return v;
    // No getrandom (old kernel, seccomp): still unpredictable enough to avoid collisions.
    return clock_ns(CLOCK_MONOTONIC) * 0x9E3779B97F4A7C15ull ^ uint64_t(getpid()) << 32;
}

void add_section(format::Header* h, uint32_t kind, uint32_t entry_size, uint64_t offset, uint64_t count) {
    if (h == nullptr) return;  // only the size is wanted
    format::SectionEntry& s = h->sections[h->section_count++];
    s.kind = kind;
    s.entry_size = entry_size;
    s.offset = offset;
    s.count = count;
}

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
        default: b->add("error ")->add_u64(uint64_t(err)); break;
    }
}

}  // namespace

format::DoctorHeader g_doctor_header;

void set_engine_clock(int (*vdso_clock_gettime)(clockid_t, timespec*)) {
    __atomic_store_n(&g_engine_clock, vdso_clock_gettime, __ATOMIC_RELAXED);
}

uint64_t monotonic_ns() { return clock_ns(CLOCK_MONOTONIC); }
uint64_t realtime_ns() { return clock_ns(CLOCK_REALTIME); }

size_t plan_layout(const Settings& settings, size_t vdso_size, format::Header* h) {
    if (h != nullptr) h->section_count = 0;
    size_t offset = format::kHeaderSize;
    add_section(h, format::kSectionModules, sizeof(format::ModuleEntry), offset, settings.modules);
    offset += size_t(settings.modules) * sizeof(format::ModuleEntry);
    if (vdso_size > 0) {
        add_section(h, format::kSectionVdsoImage, 1, offset, vdso_size);
        offset = align_up(offset + vdso_size, 64);
    }
    const size_t slot = format::thread_slot_size(settings.callers);
    add_section(h, format::kSectionThreads, uint32_t(slot), offset, uint64_t(settings.threads) + 1);
    offset += slot * (size_t(settings.threads) + 1);
    if (settings.sample > 0) {
        format::Header::Sampling s{};
        s.period = settings.sample;
        s.max_depth = settings.sample_depth;
        s.unwinder = settings.frame_pointers   ? format::kUnwinderFramePointer
                     : settings.libunwind_only ? format::kUnwinderLibunwind
                                               : format::kUnwinderCfi;
        s.stack_capacity = settings.stacks;
        s.count_capacity = settings.stack_counts;
        s.ring_capacity = settings.sample_ring;
        s.frame_capacity = settings.stacks * 16;  // 16 frames a stack on average
        add_section(h, format::kSectionStacks, sizeof(format::StackEntry), offset, s.stack_capacity);
        offset = align_up(offset + size_t(s.stack_capacity) * sizeof(format::StackEntry), 64);
        add_section(h, format::kSectionStackFrames, sizeof(uint64_t), offset, s.frame_capacity);
        offset += size_t(s.frame_capacity) * sizeof(uint64_t);
        const size_t sample_slot = align_up(format::sample_slot_size(s.count_capacity, s.ring_capacity), 64);
        add_section(h, format::kSectionSampleSlots, uint32_t(sample_slot), offset, uint64_t(settings.threads) + 1);
        offset += sample_slot * (size_t(settings.threads) + 1);
        if (h != nullptr) h->sampling = s;
    }
    add_section(h, format::kSectionCrash, sizeof(format::CrashRecord), offset, 1);
    offset += sizeof(format::CrashRecord);
    add_section(h, format::kSectionExitedThreads, uint32_t(slot), offset, 1);
    offset += slot;
    add_section(h, format::kSectionThreadLog, sizeof(format::ExitedThreadEntry), offset, format::kThreadLogEntries);
    offset += sizeof(format::ExitedThreadEntry) * format::kThreadLogEntries;
    add_section(h, format::kSectionHeadroom, sizeof(format::HeadroomEntry), offset, format::kHeadroomEntries);
    offset += sizeof(format::HeadroomEntry) * format::kHeadroomEntries;
    add_section(h, format::kSectionWrapperSites, sizeof(format::WrapperSiteEntry), offset, format::kWrapperSiteCapacity);
    offset += sizeof(format::WrapperSiteEntry) * format::kWrapperSiteCapacity;
    add_section(h, format::kSectionPythonSites, sizeof(format::PythonSiteEntry), offset, format::kPythonSiteCapacity);
    offset += sizeof(format::PythonSiteEntry) * format::kPythonSiteCapacity;
    add_section(h, format::kSectionRuntimes, sizeof(format::RuntimeEntry), offset, format::kRuntimeCapacity);
    offset += sizeof(format::RuntimeEntry) * format::kRuntimeCapacity;
    add_section(h, format::kSectionRetiredCallers, sizeof(format::RetiredCallerEntry), offset,
                format::kRetiredCallerCapacity);
    offset += sizeof(format::RetiredCallerEntry) * format::kRetiredCallerCapacity;
    const size_t size = align_up(offset, 4096);
    if (h == nullptr) return size;
    h->thread_capacity = settings.threads;
    h->caller_capacity = settings.callers;
    h->module_capacity = settings.modules;
    memcpy(h->magic, format::kMagic, sizeof h->magic);
    h->major = format::kMajor;
    h->minor = format::kMinor;
    h->header_size = format::kHeaderSize;
    h->byte_order = format::kByteOrderMark;
    h->segment_size = size;
    return size;
}

void bind_segment(format::Header* h, Segment* seg) {
    auto* base = reinterpret_cast<unsigned char*>(h);
    seg->header = h;
    seg->size = h->segment_size;
    for (uint32_t i = 0; i < h->section_count; ++i) {
        const format::SectionEntry& s = h->sections[i];
        if (s.kind == format::kSectionModules) {
            seg->modules = reinterpret_cast<format::ModuleEntry*>(base + s.offset);
            seg->module_capacity = uint32_t(s.count);
        } else if (s.kind == format::kSectionThreads) {
            seg->threads = base + s.offset;
            seg->thread_capacity = uint32_t(s.count - 1);
            seg->slot_size = s.entry_size;
        } else if (s.kind == format::kSectionStacks) {
            seg->stacks = reinterpret_cast<format::StackEntry*>(base + s.offset);
        } else if (s.kind == format::kSectionStackFrames) {
            seg->frames = reinterpret_cast<uint64_t*>(base + s.offset);
        } else if (s.kind == format::kSectionSampleSlots) {
            seg->sample_slots = base + s.offset;
            seg->sample_slot_size = s.entry_size;
        } else if (s.kind == format::kSectionCrash) {
            seg->crash = reinterpret_cast<format::CrashRecord*>(base + s.offset);
        } else if (s.kind == format::kSectionExitedThreads) {
            seg->exited_slot = base + s.offset;
        } else if (s.kind == format::kSectionThreadLog) {
            seg->thread_log = reinterpret_cast<format::ExitedThreadEntry*>(base + s.offset);
            seg->thread_log_capacity = uint32_t(s.count);
        } else if (s.kind == format::kSectionHeadroom) {
            seg->headroom = reinterpret_cast<format::HeadroomEntry*>(base + s.offset);
            seg->headroom_capacity = uint32_t(s.count);
        } else if (s.kind == format::kSectionWrapperSites) {
            seg->wrapper_sites = reinterpret_cast<format::WrapperSiteEntry*>(base + s.offset);
            seg->wrapper_site_capacity = uint32_t(s.count);
        } else if (s.kind == format::kSectionPythonSites) {
            seg->python_sites = reinterpret_cast<format::PythonSiteEntry*>(base + s.offset);
            seg->python_site_capacity = uint32_t(s.count);
        } else if (s.kind == format::kSectionRuntimes) {
            seg->runtimes = reinterpret_cast<format::RuntimeEntry*>(base + s.offset);
            seg->runtime_capacity = uint32_t(s.count);
        } else if (s.kind == format::kSectionRetiredCallers) {
            seg->retired = reinterpret_cast<format::RetiredCallerEntry*>(base + s.offset);
            seg->retired_capacity = uint32_t(s.count);
        }
    }
}

bool create_segment(const Settings& settings, Segment* out, char* error, size_t error_size) {
    TextBuffer err(error, error_size);

    vdso::Image vdso;
    const bool have_vdso = vdso::parse_live(&vdso) == vdso::ParseError::kNone;

    // Static, not on the stack: the first clock call of a process may come from a thread with a
    // small stack (issue 12; this 4 KiB header was most of the first call's 7.6 KB). Segments are
    // created by one thread at a time (the recorder's state machine), so it is never shared.
    static format::Header plan;
    plan = format::Header{};
    const size_t size = plan_layout(settings, have_vdso ? vdso.size : 0, &plan);

    const uint64_t segment_id = random_u64();
    TextBuffer name(out->name, sizeof out->name);
    name.add("/")->add(format::kShmPrefix)->add_u64(getuid())->add("-")->add(settings.session);
    name.add("-")->add_u64(uint64_t(getpid()))->add("-")->add_hex(segment_id, 16);

    // A file size limit (ulimit -f) below the segment's size: fallocate would raise SIGXFSZ, whose
    // default action kills the program (issue 12). Checked before anything exists, so no empty
    // recording stays behind either.
    rlimit fsize{};
    if (getrlimit(RLIMIT_FSIZE, &fsize) == 0 && fsize.rlim_cur != RLIM_INFINITY && fsize.rlim_cur < size) {
        err.add("the recording needs ")->add_u64(size / 1024)->add(" KiB, more than the file size limit (ulimit -f) of ");
        err.add_u64(uint64_t(fsize.rlim_cur) / 1024)->add(" KiB");
        return false;
    }
    // O_EXCL: never open a segment somebody else prepared under our name. 0600: only our user.
    int fd = shm_open(out->name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        err.add("cannot create /dev/shm")->add(out->name)->add(": ");
        describe_errno(&err, errno);
        return false;
    }
    // Reserve every page now: a segment only ftruncate'd would raise SIGBUS in the middle of a
    // clock call when tmpfs fills up later.
    int rc = posix_fallocate(fd, 0, off_t(size));
    if (rc != 0) {
        err.add("cannot reserve ")->add_u64(size / 1024)->add(" KiB in /dev/shm: ");
        describe_errno(&err, rc);
        close(fd);
        shm_unlink(out->name);
        return false;
    }
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int map_errno = errno;
    // The mapping outlives the descriptor: daemons that close every descriptor don't hurt us.
    close(fd);
    if (p == MAP_FAILED) {
        err.add("cannot map the segment: ");
        describe_errno(&err, map_errno);
        shm_unlink(out->name);
        return false;
    }

    auto* h = static_cast<format::Header*>(p);
    memcpy(h, &plan, sizeof plan);
    h->uid = getuid();
    h->start_realtime_ns = realtime_ns();
    h->start_monotonic_ns = monotonic_ns();
    TextBuffer(h->session, sizeof h->session).add(settings.session);
    h->tree.segment_id = segment_id;
    fill_process_info(h);
    memcpy(&h->doctor, &g_doctor_header, sizeof h->doctor);
    bind_segment(h, out);
    for (uint32_t i = 0; i < h->section_count; ++i) {
        if (h->sections[i].kind != format::kSectionVdsoImage) continue;
        unsigned char* copy = reinterpret_cast<unsigned char*>(h) + h->sections[i].offset;
        memcpy(copy, vdso.base, vdso.size);
        undo_vdso_patches(copy, vdso.size);  // the kernel's vDSO, not the shim's redirections
    }
    h->flags |= vdso_redirect_flags();
    // The shared overflow slot is marked once, so readers can tell it from a thread.
    reinterpret_cast<format::ThreadSlotHeader*>(out->threads + out->slot_size * out->thread_capacity)->state =
        format::kThreadShared;
    __atomic_store_n(&h->state, uint32_t(format::kStateRunning), __ATOMIC_RELEASE);
    return true;
}

}  // namespace vdsotrace::tracer
