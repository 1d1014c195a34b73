// The recording engine in-process, read back through the real reader: exact counts per counter,
// caller, thread; exactness against signal handlers that count on the same thread; overflow.
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "tracer/engine/lifecycle.h"
#include "tracer/engine/recorder.h"
#include "tracer/format/segment_format.h"
#include "tools/recordings/segment_reader.h"

namespace f = vdsotrace::format;
namespace tr = vdsotrace::tracer;
using vdsotrace::tools::Recording;

namespace {

// Call sites: addresses inside this executable, so the module table must name it.
__attribute__((noinline)) void site_a() { asm volatile(""); }
__attribute__((noinline)) void site_b() { asm volatile(""); }
uintptr_t addr_a() { return reinterpret_cast<uintptr_t>(&site_a) + 1; }
uintptr_t addr_b() { return reinterpret_cast<uintptr_t>(&site_b) + 1; }

const unsigned kMono = f::counter_index(f::kClockGettime, 1);
const unsigned kReal = f::counter_index(f::kClockGettime, 0);
const unsigned kTod = f::counter_index(f::kGettimeofday, 0);

// Settings are read once, when the first call creates the segment.
struct Environment : ::testing::Environment {
    void SetUp() override {
        setenv("VDSOTRACE_SESSION", ("unit" + std::to_string(getpid())).c_str(), 1);
        setenv("VDSOTRACE_CALLERS", "64", 1);
        setenv("VDSOTRACE_THREADS", "8", 1);
    }
    void TearDown() override {
        if (const char* name = tr::segment_name()) shm_unlink(name);
    }
};
const auto* const g_env = ::testing::AddGlobalTestEnvironment(new Environment);

// The recording as it is now; empty before the first call created the segment.
Recording snapshot() {
    const char* name = tr::segment_name();
    if (name == nullptr) {
        Recording empty;
        return empty;
    }
    std::string error;
    auto r = vdsotrace::tools::load_recording(std::string("/dev/shm") + name, &error);
    EXPECT_TRUE(r.has_value()) << error;
    return r ? *r : Recording{};
}

uint64_t total(const Recording& r, unsigned counter) {
    uint64_t n = 0;
    for (const auto& t : r.threads) n += t.counts[counter];
    return n;
}

uint64_t caller_calls(const Recording& r, unsigned counter, uintptr_t address) {
    uint64_t n = 0;
    for (const auto& t : r.threads)
        for (const auto& c : t.callers)
            if (c.counter == counter && c.address == address) n += c.calls;
    return n;
}

uint64_t unattributed(const Recording& r, unsigned counter) {
    uint64_t n = 0;
    for (const auto& t : r.threads) n += t.unattributed[counter];
    return n;
}

}  // namespace

TEST(Recorder, CountsExactlyPerCounterAndCaller) {
    const Recording before = snapshot();
    for (int i = 0; i < 1000; ++i) tr::record(kMono, addr_a());
    for (int i = 0; i < 300; ++i) tr::record(kReal, addr_a());
    for (int i = 0; i < 500; ++i) tr::record(kTod, addr_b());
    const Recording after = snapshot();

    EXPECT_EQ(total(after, kMono) - total(before, kMono), 1000u);
    EXPECT_EQ(total(after, kReal) - total(before, kReal), 300u);
    EXPECT_EQ(total(after, kTod) - total(before, kTod), 500u);
    EXPECT_EQ(caller_calls(after, kMono, addr_a()) - caller_calls(before, kMono, addr_a()), 1000u);
    EXPECT_EQ(caller_calls(after, kReal, addr_a()) - caller_calls(before, kReal, addr_a()), 300u);
    EXPECT_EQ(caller_calls(after, kTod, addr_b()) - caller_calls(before, kTod, addr_b()), 500u);
    EXPECT_EQ(after.pid, getpid());
    EXPECT_EQ(after.session, "unit" + std::to_string(getpid()));
    EXPECT_EQ(after.state, uint32_t(f::kStateRunning));
    EXPECT_EQ(after.caller_capacity, 64u);
    EXPECT_EQ(after.thread_capacity, 8u);

    // The module table names this executable as the callers' module, with its build id.
    bool found = false;
    for (const auto& m : after.modules) {
        if (addr_a() >= m.start && addr_a() < m.end) {
            found = true;
            EXPECT_TRUE(m.main_program);
            EXPECT_EQ(m.path, after.exe);
            EXPECT_EQ(m.build_id.size(), 40u);  // GNU ld's default sha1 build id
        }
    }
    EXPECT_TRUE(found);
    EXPECT_FALSE(after.vdso_image.empty());
}

TEST(Recorder, ThreadsGetTheirOwnSlots) {
    std::vector<int> tids(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([t, &tids] {
            tids[size_t(t)] = gettid();
            for (int i = 0; i < 10000 + t; ++i) tr::record(kMono, addr_b());
        });
    for (auto& t : threads) t.join();
    const Recording r = snapshot();
    // Each exited thread's slot was folded into the exited-threads slot and given back (the
    // pthread key destructor did it); the thread log keeps its tid, name and total.
    for (int t = 0; t < 4; ++t) {
        bool seen = false;
        for (const auto& e : r.exited_threads) {
            if (e.tid != tids[size_t(t)]) continue;
            seen = true;
            EXPECT_EQ(e.calls, uint64_t(10000 + t));
        }
        EXPECT_TRUE(seen) << "thread " << t;
        for (const auto& th : r.threads) EXPECT_NE(th.tid, tids[size_t(t)]) << "its slot was not recycled";
    }
    uint64_t recycled = 0;
    for (const auto& th : r.threads)
        if (th.recycled) recycled += th.counts[kMono];
    EXPECT_GE(recycled, uint64_t(4 * 10000 + 6));
}

// A signal handler counting the same counter and caller as the code it interrupts: with a
// load/add/store increment, handler counts would be lost; the single-instruction one loses none.
namespace {
std::atomic<int> g_handler_calls{0};
constexpr int kHandlerCalls = 500;
void count_in_handler(int) {
    tr::record(kMono, addr_a());
    g_handler_calls.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

TEST(Recorder, ExactUnderSignalsOnTheSameThread) {
    const Recording before = snapshot();
    struct sigaction sa {};
    sa.sa_handler = count_in_handler;
    sa.sa_flags = SA_RESTART;
    ASSERT_EQ(sigaction(SIGUSR1, &sa, nullptr), 0);
    g_handler_calls = 0;
    const pthread_t self = pthread_self();
    std::atomic<bool> stop{false};
    std::thread killer([&] {
        for (int i = 0; i < kHandlerCalls; ++i) {
            const int seen = g_handler_calls.load();
            pthread_kill(self, SIGUSR1);
            // Spin briefly before yielding: a yield on a loaded machine gives away a whole slice.
            for (int spin = 0; g_handler_calls.load() == seen; ++spin)
                if (spin > 1000) std::this_thread::yield();
        }
        stop = true;
    });
    uint64_t mine = 0;
    while (!stop.load(std::memory_order_relaxed)) {
        tr::record(kMono, addr_a());
        ++mine;
    }
    killer.join();
    signal(SIGUSR1, SIG_DFL);
    const Recording after = snapshot();
    EXPECT_EQ(g_handler_calls.load(), kHandlerCalls);
    EXPECT_EQ(total(after, kMono) - total(before, kMono), mine + kHandlerCalls);
    EXPECT_EQ(caller_calls(after, kMono, addr_a()) - caller_calls(before, kMono, addr_a()), mine + kHandlerCalls);
}

TEST(Recorder, FullCallerTableSpillsIntoUnattributed) {
    const Recording before = snapshot();
    // 200 distinct call sites into a 64-entry table: at most 64 get an entry.
    const uintptr_t base = addr_a() & ~uintptr_t(0xfff);
    uint64_t calls = 0;
    for (int site = 0; site < 200; ++site)
        for (int i = 0; i <= site % 5; ++i, ++calls) tr::record(kReal, base + uintptr_t(site) * 16);
    const Recording after = snapshot();
    const uint64_t counted = total(after, kReal) - total(before, kReal);
    const uint64_t lost = unattributed(after, kReal) - unattributed(before, kReal);
    uint64_t attributed = 0;
    for (int site = 0; site < 200; ++site)
        attributed += caller_calls(after, kReal, base + uintptr_t(site) * 16) -
                      caller_calls(before, kReal, base + uintptr_t(site) * 16);
    EXPECT_EQ(counted, calls);
    EXPECT_GT(lost, 0u);
    EXPECT_EQ(attributed + lost, calls);
}

TEST(Recorder, ThreadsBeyondCapacityShareTheOverflowSlot) {
    // Capacity is 8 slots (exited threads give theirs back). 12 threads alive at once: at least
    // 4 find every slot busy and share the overflow slot; all calls are counted.
    const Recording before = snapshot();
    std::vector<std::thread> threads;
    std::atomic<int> started{0};
    for (int t = 0; t < 12; ++t)
        threads.emplace_back([&started] {
            tr::record(kTod, addr_b());
            started.fetch_add(1);
            while (started.load() < 12) std::this_thread::yield();
            for (int i = 1; i < 1000; ++i) tr::record(kTod, addr_b());
        });
    for (auto& t : threads) t.join();
    const Recording after = snapshot();
    EXPECT_EQ(total(after, kTod) - total(before, kTod), 12000u);
    EXPECT_EQ(caller_calls(after, kTod, addr_b()) - caller_calls(before, kTod, addr_b()), 12000u);
    EXPECT_TRUE(after.flags & f::kFlagThreadsFull);
    bool shared = false;
    for (const auto& t : after.threads) shared |= t.shared && t.total() > 0;
    EXPECT_TRUE(shared);
}

TEST(Recorder, ProcessEndIsMarked) {
    tr::record(kMono, addr_a());
    tr::at_process_end();
    const Recording r = snapshot();
    EXPECT_EQ(r.state, uint32_t(f::kStateEnded));
    EXPECT_GE(r.end_monotonic_ns, r.start_monotonic_ns);
}
