// The static-program trampoline's paths side by side, in this process (no ptrace, no child): the
// blob `vdsotrace run` injects is copied into an executable page here and filled as the injector
// fills it, with the real vDSO's clock_gettime as the function to continue to, this thread's rseq
// area (glibc registers one here as in a static program) and a stand-in for libc's clock_gettime
// wrapper with its row. Each variant times CALLS calls of clock_gettime(CLOCK_MONOTONIC) through
// that wrapper, in this thread's CPU time, alternately for ROUNDS rounds, and prints the minimum
// and median nanoseconds per call and the extra over the native call:
//   native            the wrapper calling the vDSO
//   fast path         static glibc: the assembly fast path (rseq, caller entry claimed, the
//                     wrapper the function's usual one)
//   ... rows' table   the same from a wrapper found in the rows' table instead
//   locked add        a program without rseq (Go, musl): the slow path, RDPID/RDTSCP and `lock add`
//   shared slot       neither rseq nor a CPU number: every call in the shared slot, `lock add`
// Every variant's counts are checked: a lost or extra count exits 1.
// usage: bench_trampoline [CALLS [ROUNDS]]
#include <cpuid.h>
#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "tools/static_inject/trampoline_abi.h"
#include "tools/static_inject/trampoline_blob.h"
#include "tracer/format/segment_format.h"

namespace f = vdsotrace::format;
namespace inject = vdsotrace::inject;

using ClockGettime = int (*)(long, timespec*);

// A stand-in for static glibc's __clock_gettime64: 8 bytes of frame, an indirect call to the vDSO
// pointer. Its row: the CFA is 16 above the stack pointer after the call returns.
extern "C" int wrapper_clock_gettime(ClockGettime fn, long clock, timespec* ts);
extern "C" char wrapper_return[];
asm(R"(
        .text
        .globl wrapper_clock_gettime
wrapper_clock_gettime:
        sub $8, %rsp
        mov %rdi, %rax
        mov %rsi, %rdi
        mov %rdx, %rsi
        call *%rax
        .globl wrapper_return
wrapper_return:
        add $8, %rsp
        ret
)");

namespace {

double thread_cpu_ns() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) * 1e9 + double(t.tv_nsec);
}

bool have_rdpid() {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 22));
}

struct Variant {
    Variant(std::string n, ClockGettime f) : name(std::move(n)), fn(f) {}
    std::string name;
    ClockGettime fn;
    unsigned char* page = nullptr;  // the blob's copy, null for native
    std::vector<unsigned char> slots;  // the CPU slots, then the shared slot
    std::vector<double> ns;
};

constexpr uint32_t kCallers = 256;
const size_t kSlotSize = f::thread_slot_size(kCallers);
const uint32_t kCpus = uint32_t(sysconf(_SC_NPROCESSORS_CONF));

// The blob filled for `mode` ("fast", "locked", "shared"), as the injector would for a program.
Variant trampoline(const char* name, const char* mode, ClockGettime vdso) {
    Variant v{name, nullptr};
    const size_t page_size = (inject::kTrampolineSize + 4095) / 4096 * 4096;
    v.page = static_cast<unsigned char*>(
        mmap(nullptr, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (v.page == MAP_FAILED) perror("mmap"), exit(2);
    memcpy(v.page, inject::kTrampolineBlob, inject::kTrampolineSize);
    const bool rseq = strncmp(mode, "fast", 4) == 0;
    if (!inject::place_blob(v.page, inject::kTrampolineSize, reinterpret_cast<uint64_t>(v.page),
                            rseq ? reinterpret_cast<uint64_t>(&__rseq_offset) : 0))
        fprintf(stderr, "bench_trampoline: the blob's entries are not as expected\n"), exit(2);
    auto& d = *reinterpret_cast<inject::TrampolineData*>(v.page);
    v.slots.assign(kSlotSize * (kCpus + 1), 0);
    d.shared_slot = reinterpret_cast<uint64_t>(v.slots.data() + kSlotSize * kCpus);
    inject::set_caller_mask(d, kCallers - 1);
    for (int fn = 0; fn < f::kFunctionCount; ++fn) d.original[fn] = reinterpret_cast<uint64_t>(vdso);
    if (strcmp(mode, "shared") != 0) {
        d.cpu_slots = reinterpret_cast<uint64_t>(v.slots.data());
        d.slot_size = kSlotSize;
        d.cpu_slot_count = kCpus;
        d.cpu_id_mode = have_rdpid() ? inject::kCpuIdRdpid : inject::kCpuIdRdtscp;
    }
    if (rseq) {
        d.rseq_offset_at = reinterpret_cast<uint64_t>(&__rseq_offset);
        d.rseq_size_at = reinterpret_cast<uint64_t>(&__rseq_size);
    }
    // The wrapper's row among others, as glibc has a dozen; the usual wrapper of clock_gettime,
    // as the injector finds static glibc's __clock_gettime, but for "fast-rows" (the rows' table
    // searched, as for a wrapper that is not the function's usual one).
    const inject::WrapperRow row{reinterpret_cast<uint64_t>(wrapper_return), 1, 16};
    inject::add_wrapper_row(d, row);
    for (uint64_t k = 1; k < 12; ++k) inject::add_wrapper_row(d, {reinterpret_cast<uint64_t>(wrapper_return) - 40 * k, 1, 16});
    if (strcmp(mode, "fast-rows") != 0) inject::set_usual_wrapper(d, f::kClockGettime, row);
    if (mprotect(v.page, page_size, PROT_READ | PROT_EXEC) != 0) perror("mprotect"), exit(2);
    v.fn = reinterpret_cast<ClockGettime>(v.page + d.entries[f::kClockGettime]);
    return v;
}

uint64_t counted(const Variant& v) {
    uint64_t n = 0;
    for (uint32_t s = 0; s <= kCpus; ++s) {
        const unsigned char* slot = v.slots.data() + s * kSlotSize;
        const auto* callers = reinterpret_cast<const f::CallerEntry*>(slot + f::kSlotCallersOffset);
        for (uint32_t i = 0; i < kCallers; ++i) n += callers[i].count;
        const auto* unattributed = reinterpret_cast<const uint64_t*>(slot + f::kSlotUnattributedOffset);
        for (int c = 0; c < f::kSlotUnattributedCounters; ++c) n += unattributed[c];
    }
    return n;
}

}  // namespace

int main(int argc, char** argv) {
    const long calls = argc > 1 ? atol(argv[1]) : 5'000'000;
    const int rounds = argc > 2 ? atoi(argv[2]) : 9;
    if (calls <= 0 || rounds <= 0) {
        fprintf(stderr, "usage: bench_trampoline [CALLS [ROUNDS]]\n");
        return 2;
    }
    void* vdso_image = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
    auto vdso = vdso_image ? reinterpret_cast<ClockGettime>(dlsym(vdso_image, "__vdso_clock_gettime")) : nullptr;
    if (vdso == nullptr) {
        fprintf(stderr, "bench_trampoline: no vDSO clock_gettime here\n");
        return 77;
    }
    std::vector<Variant> variants;
    variants.emplace_back("native (libc wrapper -> vDSO)", vdso);
    if (__rseq_size != 0) variants.push_back(trampoline("fast path (rseq, static glibc)", "fast", vdso));
    if (__rseq_size != 0) variants.push_back(trampoline("fast path, rows' table searched", "fast-rows", vdso));
    variants.push_back(trampoline("locked add (no rseq: Go, musl)", "locked", vdso));
    variants.push_back(trampoline("shared slot (no CPU number)", "shared", vdso));

    timespec ts;
    long sink = 0;
    for (int r = 0; r < rounds; ++r)
        for (auto& v : variants) {
            const double start = thread_cpu_ns();
            for (long i = 0; i < calls; ++i) {
                wrapper_clock_gettime(v.fn, CLOCK_MONOTONIC, &ts);
                sink += ts.tv_nsec;
            }
            v.ns.push_back((thread_cpu_ns() - start) / double(calls));
        }
    const double load = [] {
        double l[1] = {0};
        return getloadavg(l, 1) == 1 ? l[0] : -1;
    }();
    printf("clock_gettime(CLOCK_MONOTONIC) through a libc-like wrapper, %ld calls x %d rounds, thread CPU time, "
           "load average %.1f%s\n",
           calls, rounds, load, __rseq_size == 0 ? " (no rseq here: no fast path)" : "");
    printf("%-34s %10s %10s %14s\n", "path", "min ns", "median ns", "extra min/med");
    int status = sink == 42 ? 3 : 0;
    double native_min = 0, native_med = 0;
    for (auto& v : variants) {
        std::sort(v.ns.begin(), v.ns.end());
        const double lo = v.ns.front(), med = v.ns[v.ns.size() / 2];
        if (v.page == nullptr) native_min = lo, native_med = med;
        printf("%-34s %10.2f %10.2f %+6.2f/%+6.2f\n", v.name.c_str(), lo, med, lo - native_min, med - native_med);
        if (v.page != nullptr && counted(v) != uint64_t(calls) * uint64_t(rounds)) {
            fprintf(stderr, "%s: counted %llu calls of %llu\n", v.name.c_str(), (unsigned long long)counted(v),
                    (unsigned long long)(uint64_t(calls) * uint64_t(rounds)));
            status = 1;
        }
    }
    return status;
}
