// Synthetic recordings for the reader's benchmark (tests/bench/reader_bench.py), written with the
// recording engine's own layout code (tracer/engine/segment_create.h), so they are what the shim writes.
//
// usage: make_recordings big SESSION THREADS CALL_SITES SAMPLES
//          one finished recording: THREADS thread slots, CALL_SITES distinct call sites (spread
//          over libc's code, so that naming them is real work), and SAMPLES sampled stacks of 12
//          frames, one stack per call site; prints its path.
//        make_recordings live SESSION N
//          N processes, each with its own small recording, alive until this program's stdin
//          closes (then they remove their recordings); prints "ready" when all are there.
#include <link.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tracer/engine/module_map.h"
#include "tracer/format/caller_table.h"
#include "tracer/engine/segment_create.h"
#include "tracer/engine/segment_growth.h"

namespace f = vdsotrace::format;
namespace t = vdsotrace::tracer;

namespace {

// Addresses spread over libc's code (its executable segment): real functions of a real module
// with a build id, as return addresses are.
struct CodeRange {
    uintptr_t start = 0, size = 0;
    uintptr_t at(uint64_t i, uint64_t n) const { return start + (size / (n + 1)) * (i + 1); }
};

int find_libc_text(dl_phdr_info* info, size_t, void* data) {
    auto* r = static_cast<CodeRange*>(data);
    if (strstr(info->dlpi_name, "libc.so") == nullptr) return 0;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
            r->start = info->dlpi_addr + ph.p_vaddr;
            r->size = ph.p_memsz;
            return 1;
        }
    }
    return 0;
}

CodeRange libc_code() {
    CodeRange r;
    dl_iterate_phdr(find_libc_text, &r);
    return r;
}

void set_session(t::Settings* s, const char* session) {
    snprintf(s->session, sizeof s->session, "%s", session);
}

bool create(const t::Settings& s, t::Segment* seg) {
    char error[384];
    if (!t::create_segment(s, seg, error, sizeof error)) {
        fprintf(stderr, "make_recordings: %s\n", error);
        return false;
    }
    // A recording starts small and grows where the engine writes (segment_growth.h); this program
    // writes slots and tables directly, so it backs the whole layout first (touching an unbacked
    // page past the file's end is SIGBUS).
    if (!t::reserve_whole(seg)) {
        fprintf(stderr, "make_recordings: could not back the whole recording\n");
        return false;
    }
    return true;
}

// Counts `n` calls of `counter` from `caller` in a thread slot, where the engine would: the
// writers' one caller-table walk (format::find_caller_entry), unattributed when it finds no room.
void count(unsigned char* slot, uint32_t caller_mask, unsigned counter, uintptr_t caller, uint64_t n) {
    auto* callers = reinterpret_cast<f::CallerEntry*>(slot + f::kSlotCallersOffset);
    const uint64_t key = f::caller_key(counter, caller);
    // One writer (this program): a plain store claims an empty entry.
    auto claim = [](uint64_t* at, uint64_t, uint64_t desired) {
        *at = desired;
        return uint64_t(0);
    };
    const f::CallerMatch found = f::find_caller_entry(
        callers, caller_mask, f::caller_first_probe(counter, caller, caller_mask), key, key, claim,
        [key] { return key; }, [] {});
    if (found.entry != nullptr)
        found.entry->count += n;
    else
        reinterpret_cast<uint64_t*>(slot + f::kSlotUnattributedOffset)[counter] += n;
}

int big(const char* session, uint32_t threads, uint32_t sites, uint64_t samples) {
    const CodeRange code = libc_code();
    if (code.size == 0) return 1;
    t::Settings s;
    set_session(&s, session);
    s.threads = threads;
    s.callers = 128;  // 50 sites a thread (below) fit within find_caller_entry's probe limit
    s.sample = 1;
    s.sample_depth = 12;
    s.stacks = 16384;
    s.stack_counts = 64;
    s.sample_ring = 128;
    t::Segment seg;
    if (!create(s, &seg)) return 1;
    t::ensure_module(&seg, code.at(0, 1));
    const uint32_t caller_mask = s.callers - 1;
    const unsigned counter = f::counter_index(f::kClockGettime, 1);
    // Stack k: call site k, then 11 frames from a pool of 2,000 functions.
    constexpr uint32_t kDepth = 12, kPool = 2000;
    auto& cfg = seg.header->sampling;
    for (uint32_t k = 0; k < sites; ++k) {
        uint64_t* frames = seg.frames + uint64_t(k) * kDepth;
        frames[0] = code.at(k, sites);
        for (uint32_t d = 1; d < kDepth; ++d) frames[d] = code.at((k * 7 + d * 131) % kPool, kPool);
        f::StackEntry& e = seg.stacks[k];
        e.hash = k + 1;
        e.first_frame = uint64_t(k) * kDepth;
        e.depth = kDepth;
        e.state = f::kStackReady;
    }
    cfg.stacks_claimed = sites;
    cfg.frames_claimed = sites * kDepth;
    // Thread i calls from 50 call sites (so each site is shared by 5 threads) and samples evenly.
    const uint64_t per_thread = samples / threads;
    constexpr uint32_t kSitesPerThread = 50;
    for (uint32_t i = 0; i < threads; ++i) {
        unsigned char* slot = seg.threads + size_t(i) * seg.slot_size;
        auto* h = reinterpret_cast<f::ThreadSlotHeader*>(slot);
        h->tid = int32_t(100000 + i);
        snprintf(h->name, sizeof h->name, "w-%u", i % 100000u);
        h->state = f::kThreadLive;
        unsigned char* sample_slot = seg.sample_slots + size_t(i) * seg.sample_slot_size;
        auto* sh = reinterpret_cast<f::SampleSlotHeader*>(sample_slot);
        auto* counts = reinterpret_cast<f::StackCount*>(sample_slot + f::kSampleCountsOffset);
        auto* ring = reinterpret_cast<f::RingEntry*>(sample_slot + f::sample_ring_offset(cfg.count_capacity));
        for (uint32_t j = 0; j < kSitesPerThread; ++j) {
            const uint32_t site = (i * 10 + j) % sites;
            const uint64_t n = per_thread / kSitesPerThread + (j < per_thread % kSitesPerThread ? 1 : 0);
            count(slot, caller_mask, counter, code.at(site, sites), n * 100);
            counts[j].key = f::stack_count_key(counter, site);
            counts[j].count = n;
        }
        sh->sampled = per_thread;
        for (uint32_t r = 0; r < cfg.ring_capacity; ++r) {
            const uint64_t seq = per_thread - cfg.ring_capacity + r;
            f::RingEntry& e = ring[seq % cfg.ring_capacity];
            e.monotonic_ns = seg.header->start_monotonic_ns + seq * 1000;
            e.stack_id = (i * 10 + uint32_t(seq % kSitesPerThread)) % sites;
            e.counter = counter;
            e.tid = h->tid;
            e.seq = 2 * seq + 2;
        }
        sh->ring_written = per_thread;
    }
    seg.header->threads_claimed = threads;
    seg.header->end_monotonic_ns = seg.header->start_monotonic_ns + 10'000'000'000ull;
    seg.header->end_realtime_ns = seg.header->start_realtime_ns + 10'000'000'000ull;
    seg.header->exit_value = 0;
    seg.header->state = f::kStateExited;
    printf("/dev/shm%s\n", seg.name);
    return 0;
}

int live(const char* session, int n) {
    std::vector<pid_t> children;
    int ready[2], release[2];
    if (pipe(ready) != 0 || pipe(release) != 0) return 1;
    for (int i = 0; i < n; ++i) {
        const pid_t pid = fork();
        if (pid < 0) break;
        if (pid == 0) {
            close(ready[0]);
            close(release[1]);
            t::Settings s;
            set_session(&s, session);
            s.threads = 4;
            s.callers = 16;
            s.modules = 8;
            t::Segment seg;
            const bool ok = create(s, &seg);
            if (ok) {
                count(seg.threads, s.callers - 1, f::counter_index(f::kClockGettime, 1),
                      reinterpret_cast<uintptr_t>(&live), 1000 + uint64_t(i));
                reinterpret_cast<f::ThreadSlotHeader*>(seg.threads)->tid = getpid();
                reinterpret_cast<f::ThreadSlotHeader*>(seg.threads)->state = f::kThreadLive;
                seg.header->threads_claimed = 1;
            }
            char c = ok ? 1 : 0;
            if (write(ready[1], &c, 1) != 1) _exit(1);
            // Alive until the parent lets go (end of file), then the recording goes with us.
            while (read(release[0], &c, 1) > 0) {
            }
            if (ok) shm_unlink(seg.name);
            _exit(0);
        }
        children.push_back(pid);
    }
    close(ready[1]);
    close(release[0]);
    int made = 0;
    char c;
    while (made < int(children.size()) && read(ready[0], &c, 1) == 1) made += c;
    printf(made == n ? "ready\n" : "only %d\n", made);
    fflush(stdout);
    while (read(STDIN_FILENO, &c, 1) > 0) {
    }
    close(release[1]);
    for (pid_t pid : children) waitpid(pid, nullptr, 0);
    return made == n ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 6 && strcmp(argv[1], "big") == 0)
        return big(argv[2], uint32_t(atoi(argv[3])), uint32_t(atoi(argv[4])), uint64_t(atoll(argv[5])));
    if (argc == 4 && strcmp(argv[1], "live") == 0) return live(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: make_recordings big SESSION THREADS CALL_SITES SAMPLES | live SESSION N\n");
    return 2;
}
