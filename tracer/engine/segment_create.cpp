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
#include "tracer/engine/process_tree.h"
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

format::DoctorHeader g_doctor_header;

void set_engine_clock(int (*vdso_clock_gettime)(clockid_t, timespec*)) {
    __atomic_store_n(&g_engine_clock, vdso_clock_gettime, __ATOMIC_RELAXED);
}

uint64_t monotonic_ns() { return clock_ns(CLOCK_MONOTONIC); }
uint64_t realtime_ns() { return clock_ns(CLOCK_REALTIME); }

size_t plan_layout(const Settings& settings, size_t vdso_size, format::Header* h) {
    if (h != nullptr) h->section_count = 0;
    const size_t slot = format::thread_slot_size(settings.callers);
    const uint64_t slots = uint64_t(settings.threads) + 1;  // the last one is shared
    // Offsets in the order programs fill the sections (format 2: the file grows as a prefix of
    // this layout). First what every recording has, reserved at creation: the small fixed tables
    // and the vDSO image.
    size_t offset = format::kHeaderSize;
    auto place = [&offset](size_t bytes, size_t align = 64) {
        offset = align_up(offset, align);
        const size_t at = offset;
        offset += bytes;
        return at;
    };
    const size_t crash = place(sizeof(format::CrashRecord));
    const size_t headroom = place(sizeof(format::HeadroomEntry) * format::kHeadroomEntries);
    const size_t runtimes = place(sizeof(format::RuntimeEntry) * format::kRuntimeCapacity);
    const size_t exited = place(slot);
    const size_t vdso = place(vdso_size);
    // Then the tables that grow entry by entry: the few modules and wrapper sites every program
    // has, the thread slots (a short process uses one), and behind them what only some programs
    // use (threads that exit, Python code, stack samples).
    const size_t modules = place(size_t(settings.modules) * sizeof(format::ModuleEntry), 4096);
    const size_t wrappers = place(sizeof(format::WrapperSiteEntry) * format::kWrapperSiteCapacity);
    const size_t threads = place(slot * slots);
    const size_t thread_log = place(sizeof(format::ExitedThreadEntry) * format::kThreadLogEntries);
    const size_t python = place(sizeof(format::PythonSiteEntry) * format::kPythonSiteCapacity);
    const size_t retired = place(sizeof(format::RetiredCallerEntry) * format::kRetiredCallerCapacity);
    format::Header::Sampling sampling{};
    size_t stacks = 0, frames = 0, sample_slots = 0, sample_slot = 0;
    if (settings.sample > 0) {
        sampling.period = settings.sample;
        sampling.max_depth = settings.sample_depth;
        sampling.unwinder = settings.frame_pointers ? format::kUnwinderFramePointer : format::kUnwinderLibunwind;
        sampling.stack_capacity = settings.stacks;
        sampling.count_capacity = settings.stack_counts;
        sampling.ring_capacity = settings.sample_ring;
        sampling.frame_capacity = settings.stacks * 16;  // 16 frames a stack on average
        stacks = place(size_t(sampling.stack_capacity) * sizeof(format::StackEntry));
        frames = place(size_t(sampling.frame_capacity) * sizeof(uint64_t));
        sample_slot = align_up(format::sample_slot_size(sampling.count_capacity, sampling.ring_capacity), 64);
        sample_slots = place(sample_slot * slots);
    }
    // The directory keeps the order of format 1 (readers list what they find in this order).
    add_section(h, format::kSectionModules, sizeof(format::ModuleEntry), modules, settings.modules);
    if (vdso_size > 0) add_section(h, format::kSectionVdsoImage, 1, vdso, vdso_size);
    add_section(h, format::kSectionThreads, uint32_t(slot), threads, slots);
    if (settings.sample > 0) {
        add_section(h, format::kSectionStacks, sizeof(format::StackEntry), stacks, sampling.stack_capacity);
        add_section(h, format::kSectionStackFrames, sizeof(uint64_t), frames, sampling.frame_capacity);
        add_section(h, format::kSectionSampleSlots, uint32_t(sample_slot), sample_slots, slots);
        if (h != nullptr) h->sampling = sampling;
    }
    add_section(h, format::kSectionCrash, sizeof(format::CrashRecord), crash, 1);
    add_section(h, format::kSectionExitedThreads, uint32_t(slot), exited, 1);
    add_section(h, format::kSectionThreadLog, sizeof(format::ExitedThreadEntry), thread_log, format::kThreadLogEntries);
    add_section(h, format::kSectionHeadroom, sizeof(format::HeadroomEntry), headroom, format::kHeadroomEntries);
    add_section(h, format::kSectionWrapperSites, sizeof(format::WrapperSiteEntry), wrappers, format::kWrapperSiteCapacity);
    add_section(h, format::kSectionPythonSites, sizeof(format::PythonSiteEntry), python, format::kPythonSiteCapacity);
    add_section(h, format::kSectionRuntimes, sizeof(format::RuntimeEntry), runtimes, format::kRuntimeCapacity);
    add_section(h, format::kSectionRetiredCallers, sizeof(format::RetiredCallerEntry), retired,
                format::kRetiredCallerCapacity);
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

size_t section_offset(const format::Header& h, uint32_t kind) {
    for (uint32_t i = 0; i < h.section_count && i < format::kMaxSections; ++i)
        if (h.sections[i].kind == kind) return h.sections[i].offset;
    return h.segment_size;
}

size_t fixed_part_size(const format::Header& h) { return section_offset(h, format::kSectionModules); }

void bind_segment(format::Header* h, Segment* seg) {
    auto* base = reinterpret_cast<unsigned char*>(h);
    seg->header = h;
    seg->size = h->segment_size;
    seg->growable = false;  // a whole layout in memory: create_segment says otherwise
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

    // Who we are first (pid, start time, executable, command line): the segment's name derives
    // from the first two (process_tree.h), so an exec'd image can find this one.
    fill_process_info(&plan);
    uint64_t segment_id = choose_segment_id(uint32_t(getuid()), settings.session, plan.pid, plan.proc_start_ticks);
    if (segment_id == 0) segment_id = random_u64();
    auto make_name = [&] {
        TextBuffer name(out->name, sizeof out->name);
        name.add("/")->add(format::kShmPrefix)->add_u64(getuid())->add("-")->add(settings.session);
        name.add("-")->add_u64(uint64_t(getpid()))->add("-")->add_hex(segment_id, 16);
    };
    make_name();

    // Created with what every recording holds (header, fixed tables, vDSO image); the rest grows
    // on the slow paths (segment_growth.h) inside this one mapping of the whole layout.
    // Plus the first page of module entries and the first thread slot, which the creating thread
    // takes at once: reserved here, on the descriptor at hand.
    const size_t initial = fixed_part_size(plan);
    const size_t modules_at = section_offset(plan, format::kSectionModules);
    const size_t threads_at = section_offset(plan, format::kSectionThreads);
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
    // O_EXCL: never open a segment somebody else prepared under our name. 0600: only our user.
    int fd = shm_open(out->name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {  // somebody made a file of that name: a random one instead
        segment_id = random_u64();
        make_name();
        fd = shm_open(out->name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (fd < 0) {
        err.add("cannot create /dev/shm")->add(out->name)->add(": ");
        describe_errno(&err, errno);
        return false;
    }
    // Reserve every page written now: a segment only ftruncate'd would raise SIGBUS in the middle
    // of a clock call when tmpfs fills up later.
    int rc = posix_fallocate(fd, 0, off_t(initial));
    if (rc == 0) rc = posix_fallocate(fd, off_t(modules_at), off_t(first_modules));
    if (rc == 0) rc = posix_fallocate(fd, off_t(threads_at), off_t(first_slot));
    struct stat st {};
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
    h->uid = getuid();
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
    out->growable = true;  // (bind_segment took it for a whole one)
    out->modules_reserved = first_modules;
    out->threads_reserved = first_slot;
    out->file_dev = uint64_t(st.st_dev);
    out->file_ino = uint64_t(st.st_ino);
    __atomic_store_n(&h->state, uint32_t(format::kStateRunning), __ATOMIC_RELEASE);
    return true;
}

}  // namespace vdsotrace::tracer
