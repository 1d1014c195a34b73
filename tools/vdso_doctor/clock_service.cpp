#include "tools/vdso_doctor/clock_service.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <system_error>
#include <thread>

#include "tracer/format/segment_format.h"
#include "tracer/common/vdso_image.h"

namespace vdsotrace::doctor {

namespace {

namespace f = vdsotrace::format;

constexpr int kMaxClock = 11;  // CLOCK_TAI
// The errno the filter answers with: no time system call ever returns it.
constexpr int kMarkErrno = ENOTRECOVERABLE;

using ClockFn = int (*)(clockid_t, timespec*);
using TodFn = int (*)(timeval*, void*);
using TimeFn = time_t (*)(time_t*);
using CpuFn = long (*)(unsigned*, unsigned*, void*);

struct Entries {
    ClockFn clock_gettime = nullptr;
    TodFn gettimeofday = nullptr;
    TimeFn time = nullptr;
    CpuFn getcpu = nullptr;
    ClockFn clock_getres = nullptr;
};

Entries find_entries() {
    Entries e;
    vdso::Image img;
    if (vdso::parse_live(&img) != vdso::ParseError::kNone) return e;
    const vdso::ArchNames& n = vdso::arch_names();
    auto find = [&](const char* name) { return name ? vdso::lookup(img, name, n.version) : nullptr; };
    e.clock_gettime = reinterpret_cast<ClockFn>(const_cast<void*>(find(n.clock_gettime)));
    e.gettimeofday = reinterpret_cast<TodFn>(const_cast<void*>(find(n.gettimeofday)));
    e.time = reinterpret_cast<TimeFn>(const_cast<void*>(find(n.time)));
    e.getcpu = reinterpret_cast<CpuFn>(const_cast<void*>(find(n.getcpu)));
    e.clock_getres = reinterpret_cast<ClockFn>(const_cast<void*>(find(n.clock_getres)));
    return e;
}

// The rows in order: clock_gettime 0..11, gettimeofday, time, getcpu, clock_getres 0..11.
struct Probe {
    int function;
    int clock;
};
std::vector<Probe> probes() {
    std::vector<Probe> p;
    for (int c = 0; c <= kMaxClock; ++c) p.push_back({f::kClockGettime, c});
    p.push_back({f::kGettimeofday, -1});
    p.push_back({f::kTime, -1});
    p.push_back({f::kGetcpu, -1});
    for (int c = 0; c <= kMaxClock; ++c) p.push_back({f::kClockGetres, c});
    return p;
}

// Calls the vDSO entry; returns its raw result (-errno on failure, as the vDSO does).
long call_vdso(const Entries& e, const Probe& p) {
    timespec ts{};
    timeval tv{};
    unsigned cpu = 0, node = 0;
    switch (p.function) {
        case f::kClockGettime: return e.clock_gettime ? e.clock_gettime(p.clock, &ts) : -ENOSYS;
        case f::kGettimeofday: return e.gettimeofday ? e.gettimeofday(&tv, nullptr) : -ENOSYS;
        case f::kTime: return e.time ? long(e.time(nullptr)) : -ENOSYS;
        case f::kGetcpu: return e.getcpu ? e.getcpu(&cpu, &node, nullptr) : -ENOSYS;
        case f::kClockGetres: return e.clock_getres ? e.clock_getres(p.clock, &ts) : -ENOSYS;
    }
    return -ENOSYS;
}

long call_syscall(const Probe& p) {
    timespec ts{};
    timeval tv{};
    unsigned cpu = 0, node = 0;
    switch (p.function) {
        case f::kClockGettime: return syscall(SYS_clock_gettime, p.clock, &ts);
        case f::kGettimeofday: return syscall(SYS_gettimeofday, &tv, nullptr);
#ifdef SYS_time
        case f::kTime: return syscall(SYS_time, nullptr);
#endif
        case f::kGetcpu: return syscall(SYS_getcpu, &cpu, &node, nullptr);
        case f::kClockGetres: return syscall(SYS_clock_getres, p.clock, &ts);
    }
    return -1;
}

bool has_entry(const Entries& e, int fn) {
    switch (fn) {
        case f::kClockGettime: return e.clock_gettime;
        case f::kGettimeofday: return e.gettimeofday;
        case f::kTime: return e.time;
        case f::kGetcpu: return e.getcpu;
        case f::kClockGetres: return e.clock_getres;
    }
    return false;
}

// In a thread of its own: make the time system calls fail with kMarkErrno, call every probe
// through the vDSO, and set one byte per probe (1: went to the kernel). A filter installed without
// SECCOMP_FILTER_FLAG_TSYNC, like no_new_privs, holds for the calling thread only and ends with it,
// so no child process is needed (a fork of the reader, with its recordings in memory, was most of
// the probe's cost).
bool seccomp_probe(const Entries& e, const std::vector<Probe>& ps, std::vector<char>* result) {
    std::vector<sock_filter> prog;
    prog.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
    const unsigned nrs[] = {SYS_clock_gettime, SYS_gettimeofday, SYS_getcpu, SYS_clock_getres,
#ifdef SYS_time
                            SYS_time
#endif
    };
    const unsigned count = sizeof nrs / sizeof nrs[0];
    for (unsigned i = 0; i < count; ++i)
        prog.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nrs[i], uint8_t(count - i), 0));
    prog.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    prog.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (kMarkErrno & SECCOMP_RET_DATA)));
    sock_fprog fprog{uint16_t(prog.size()), prog.data()};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) != 0)
        return false;
    result->assign(ps.size(), 0);
    for (size_t i = 0; i < ps.size(); ++i) {
        const long r = call_vdso(e, ps[i]);
        // time() returns the time itself; if it ever fell back, the filtered system call's raw
        // -errno would show as a negative time.
        (*result)[i] = char(r == -kMarkErrno || (ps[i].function == f::kTime && r < 0));
    }
    return true;
}

bool probe_with_seccomp(const Entries& e, const std::vector<Probe>& ps, std::vector<char>* out) {
    bool ok = false;
    try {
        std::thread probe([&] { ok = seccomp_probe(e, ps, out); });
        probe.join();
    } catch (const std::system_error&) {
        return false;  // no thread to be had: fallback is judged by timing
    }
    return ok;
}

template <class Fn>
double ns_per_call(Fn fn, int calls) {
    double best = 1e18;
    for (int sample = 0; sample < 5; ++sample) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < calls; ++i) fn();
        const auto t1 = std::chrono::steady_clock::now();
        best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / calls);
    }
    return best;
}

}  // namespace

ClockService measure_clock_service(int calls_per_sample, const std::function<bool(const ServiceRow&)>& time_row) {
    ClockService out;
    const Entries e = find_entries();
    const std::vector<Probe> ps = probes();
    std::vector<char> went_to_kernel;
    const bool exact = probe_with_seccomp(e, ps, &went_to_kernel);
    out.method = exact ? "seccomp" : "timing";
    if (!exact)
        out.note = "seccomp filters are not available here; fallback is judged by timing (a call costing more "
                   "than half a system call is taken to be one)";
    for (size_t i = 0; i < ps.size(); ++i) {
        const Probe& p = ps[i];
        ServiceRow row;
        row.function = f::kFunctionNames[p.function];
        row.clock_id = p.clock;
        if (p.clock >= 0) row.clock = f::kClockNames[p.clock];
        row.in_vdso = has_entry(e, p.function);
        row.kernel_rejects = call_syscall(p) == -1 && errno == EINVAL;
        row.known = exact;
        if (!time_row || time_row(row)) {
            row.syscall_ns = ns_per_call([&] { call_syscall(p); }, calls_per_sample);
            row.vdso_ns = row.in_vdso ? ns_per_call([&] { call_vdso(e, p); }, calls_per_sample) : row.syscall_ns;
        }
        if (!row.in_vdso)
            row.fallback = true;
        else if (exact)
            row.fallback = went_to_kernel[i] != 0;
        else
            row.fallback = row.vdso_ns > 0.5 * row.syscall_ns;
        out.rows.push_back(std::move(row));
    }
    return out;
}

}  // namespace vdsotrace::doctor
