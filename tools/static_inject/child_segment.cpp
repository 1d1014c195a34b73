#include "tools/static_inject/child_segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "tracer/common/process_info.h"
#include "tracer/format/segment_layout.h"

namespace vdsotrace::inject {

namespace f = vdsotrace::format;

namespace {

uint64_t now_ns(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

void fill_module(f::ModuleEntry* m, uint32_t flags, uint64_t bias, uint64_t start, uint64_t end,
                 const std::string& build_id, const std::string& path) {
    m->flags = flags;
    m->load_bias = bias;
    m->start = start;
    m->end = end;
    m->build_id_size = uint32_t(std::min(build_id.size(), sizeof m->build_id));
    memcpy(m->build_id, build_id.data(), m->build_id_size);
    snprintf(m->path, sizeof m->path, "%s", path.c_str());
    m->state = f::kModuleReady;
}

// Identity of the child as the shim's fill_process_info() writes it, read from /proc/<pid>.
void fill_identity(f::Header* h, pid_t pid, const std::string& exe) {
    h->pid = pid;
    h->ppid = getpid();
    h->uid = getuid();
    h->proc_start_ticks = tracer::read_start_ticks(pid);
    snprintf(h->exe, sizeof h->exe, "%s", exe.c_str());
    std::ifstream in(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
    const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t c = std::min(cmdline.size(), sizeof h->cmdline);
    memcpy(h->cmdline, cmdline.data(), c);
    if (c < cmdline.size()) {  // cut at the last complete argument, as the shim does
        while (c > 0 && h->cmdline[c - 1] != '\0') --c;
        h->flags |= f::kFlagCmdlineTruncated;
    }
    h->cmdline_size = uint32_t(c);
}

}  // namespace

bool create_child_segment(pid_t pid, const std::string& session, const std::string& exe, const ChildProgram& program,
                          const ChildVdso& vdso, ChildSegment* out, std::string* why) {
    f::LayoutSizes sizes;
    // One slot per CPU (see child_segment.h); the shared slot stays for when no CPU number is known.
    const long cpus = sysconf(_SC_NPROCESSORS_CONF);
    sizes.threads = uint32_t(cpus < 1 ? 1 : cpus > long(kMaxCpuSlots) ? long(kMaxCpuSlots) : cpus);
    sizes.callers = kStaticCallerCapacity;
    sizes.modules = 8;
    f::Header plan{};
    const size_t size = f::plan_layout(sizes, vdso.image.size(), &plan);

    uint64_t id = 0;
    if (getrandom(&id, sizeof id, 0) != ssize_t(sizeof id)) id = now_ns(CLOCK_MONOTONIC) * 0x9E3779B97F4A7C15ull;
    const std::string name = fmt::format("/{}{}-{}-{}-{:016x}", f::kShmPrefix, getuid(), session, pid, id);
    out->path = "/dev/shm" + name;
    const int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        *why = fmt::format("cannot create {}: {}", out->path, strerror(errno));
        return false;
    }
    const int rc = posix_fallocate(fd, 0, off_t(size));  // no SIGBUS in the program when tmpfs fills
    void* p = rc == 0 ? mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    const int err = rc != 0 ? rc : errno;
    close(fd);
    if (p == MAP_FAILED) {
        *why = fmt::format("cannot reserve {} KiB in /dev/shm: {}", size / 1024, strerror(err));
        shm_unlink(name.c_str());
        return false;
    }
    auto* h = static_cast<f::Header*>(p);
    memcpy(h, &plan, sizeof plan);
    snprintf(h->session, sizeof h->session, "%s", session.c_str());
    h->tree.segment_id = id;
    h->start_realtime_ns = now_ns(CLOCK_REALTIME);
    h->start_monotonic_ns = now_ns(CLOCK_MONOTONIC);
    fill_identity(h, pid, exe);

    f::Segment seg;
    f::bind_segment(h, &seg);
    fill_module(&seg.modules[0], f::kModuleMainProgram, program.load_bias, program.start, program.end,
                program.build_id, exe);
    fill_module(&seg.modules[1], f::kModuleVdso, vdso.load_offset, vdso.base, vdso.end, "", "[vdso]");
    h->modules_claimed = 2;
    for (uint32_t i = 0; i < h->section_count; ++i)
        if (h->sections[i].kind == f::kSectionVdsoImage)
            memcpy(reinterpret_cast<unsigned char*>(h) + h->sections[i].offset, vdso.image.data(), vdso.image.size());
    for (uint32_t cpu = 0; cpu < seg.thread_capacity; ++cpu) {
        auto* slot = reinterpret_cast<f::ThreadSlotHeader*>(seg.threads + seg.slot_size * cpu);
        slot->state = f::kThreadLive;
        slot->tid = pid;
        snprintf(slot->name, sizeof slot->name, "cpu %u", cpu);
    }
    h->threads_claimed = seg.thread_capacity;
    h->flags |= f::kFlagCpuSlots;
    out->cpu_slots_offset = uint64_t(seg.threads - static_cast<unsigned char*>(p));
    out->cpu_slot_count = seg.thread_capacity;
    out->slot_size = seg.slot_size;
    unsigned char* shared = seg.threads + seg.slot_size * seg.thread_capacity;
    reinterpret_cast<f::ThreadSlotHeader*>(shared)->state = f::kThreadShared;
    out->shared_slot_offset = uint64_t(shared - static_cast<unsigned char*>(p));
    out->caller_mask = sizes.callers - 1;
    out->size = size;
    __atomic_store_n(&h->state, uint32_t(f::kStateRunning), __ATOMIC_RELEASE);
    munmap(p, size);
    return true;
}

}  // namespace vdsotrace::inject
