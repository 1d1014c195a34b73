// The fast unwinder (tracer/unwind/fast_unwind.h) against libunwind, the reference, at the same
// moment on the same stack: a deep stack built without frame pointers (fixtures/unwind_deep.c,
// -O2 -fomit-frame-pointer: frames without a frame pointer, with the CFA in %rbp after alloca,
// a 3 KB frame, saved registers, and calls through the PLT into another library and back), from a
// synchronous signal handler, from a timer's handler that interrupts a loop at any instruction,
// and on another thread. The frames must be equal one by one, and the walk must leave to
// libunwind what it cannot read (code without unwind tables) and stay within the stack it is given.
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/time.h>

#include <gtest/gtest.h>

#include <algorithm>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/unit/fixtures/unwind_fixture.h"
#include "tracer/unwind/eh_frame_rules.h"
#include "tracer/unwind/fast_unwind.h"

namespace unwind = vdsotrace::tracer::unwind;

namespace {

using Backtrace = int (*)(void**, int);
Backtrace g_unw_backtrace;

constexpr int kMaxFrames = 200;
constexpr int kDepth = 40;

// The calling thread's stack (found before any signal handler needs it).
thread_local uintptr_t t_stack_high;

void learn_stack() {
    pthread_attr_t attr;
    ASSERT_EQ(pthread_getattr_np(pthread_self(), &attr), 0);
    void* addr = nullptr;
    size_t size = 0;
    ASSERT_EQ(pthread_attr_getstack(&attr, &addr, &size), 0);
    pthread_attr_destroy(&attr);
    t_stack_high = reinterpret_cast<uintptr_t>(addr) + size;
}

struct Comparison {
    int fast_n = 0;
    int libunwind_n = 0;
    uintptr_t fast[kMaxFrames];
    uintptr_t libunwind[kMaxFrames];

    bool equal() const {
        return fast_n == libunwind_n && memcmp(fast, libunwind, sizeof(uintptr_t) * size_t(fast_n)) == 0;
    }
    std::string describe() const {
        std::string s = "fast " + std::to_string(fast_n) + " frames, libunwind " + std::to_string(libunwind_n) + ":\n";
        for (int i = 0; i < std::max(fast_n, libunwind_n) && i < kMaxFrames; ++i) {
            char line[96];
            snprintf(line, sizeof line, "%3d %#14lx %#14lx%s\n", i, i < fast_n ? fast[i] : 0ul,
                     i < libunwind_n ? libunwind[i] : 0ul,
                     i < fast_n && i < libunwind_n && fast[i] == libunwind[i] ? "" : "  <--");
            s += line;
        }
        return s;
    }
};

// Both walks from here: libunwind's first frame is the return address into this function, the
// fast walk starts at this function's own return address (this file keeps frame pointers, so the
// saved %rbp is the caller's). Async-signal-safe.
__attribute__((noinline)) void compare_here(Comparison* c, uint32_t depth = kMaxFrames,
                                            unwind::WalkCache* cache = nullptr) {
    void* raw[kMaxFrames + 1];
    const int n = g_unw_backtrace(raw, int(depth) + 1);
    const unwind::StartFrame start{reinterpret_cast<uintptr_t>(__builtin_return_address(0)),
                                   reinterpret_cast<uintptr_t>(__builtin_dwarf_cfa()),
                                   *static_cast<const uintptr_t*>(__builtin_frame_address(0))};
    c->fast_n = unwind::backtrace(start, start.sp, t_stack_high, c->fast, depth, nullptr, 0, cache);
    c->libunwind_n = n > 0 ? n - 1 : 0;
    for (int i = 1; i < n; ++i) c->libunwind[i - 1] = reinterpret_cast<uintptr_t>(raw[i]);
}

class FastUnwind : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        void* lib = dlopen("libunwind.so.8", RTLD_LOCAL | RTLD_NOW);
        if (lib != nullptr) g_unw_backtrace = reinterpret_cast<Backtrace>(dlsym(lib, "unw_backtrace"));
        ASSERT_TRUE(unwind::prepare());
    }
    void SetUp() override {
        if (g_unw_backtrace == nullptr) GTEST_SKIP() << "libunwind.so.8 is not installed (package libunwind8)";
        learn_stack();
    }
};

Comparison g_leaf_result;
int leaf_compare(UnwindJob*) {
    compare_here(&g_leaf_result);
    return 0;
}

// The same into the Comparison the job carries.
int compare_into_context(UnwindJob* j) {
    compare_here(static_cast<Comparison*>(j->context));
    return 0;
}

TEST_F(FastUnwind, DeepStackWithoutFramePointersEqualsLibunwind) {
    UnwindJob job{leaf_compare, nullptr, nullptr};
    unwind_fixture_deep(kDepth, &job);
    EXPECT_TRUE(g_leaf_result.equal()) << g_leaf_result.describe();
    // Every fixture frame (plus one per bounce through the library), then gtest's and main's.
    EXPECT_GT(g_leaf_result.fast_n, kDepth + kDepth / 4);
    // Again, now from the rule table (the first walk filled it).
    Comparison again;
    UnwindJob job2{compare_into_context, nullptr, &again};
    unwind_fixture_deep(kDepth, &job2);
    EXPECT_TRUE(again.equal()) << again.describe();
}

// A recursion returns to one call site frame after frame: the walk keeps the rule it looked up
// and steps on with it (fast_unwind.cpp's recursion loop). Equal to libunwind's, first from the
// rule table being empty for this site, then from it filled, and on to the stack's start.
TEST_F(FastUnwind, ARecursionEqualsLibunwind) {
    for (int round = 0; round < 2; ++round) {
        Comparison c;
        UnwindJob job{compare_into_context, nullptr, &c};
        unwind_fixture_recurse(kDepth, &job);
        EXPECT_TRUE(c.equal()) << c.describe();
        // The leaf's frames (two when optimised, more at -O0), then kDepth frames returning to
        // one address (the recursive call's): the address seen most often, exactly kDepth times.
        ASSERT_GT(c.fast_n, kDepth + 2) << c.describe();
        int same = 0;
        for (int i = 0; i < c.fast_n; ++i) {
            int n = 0;
            for (int j = 0; j < c.fast_n; ++j) n += c.fast[j] == c.fast[i];
            same = std::max(same, n);
        }
        EXPECT_EQ(same, kDepth) << c.describe();
    }
}

// Stopped by the end of the stack it is given in the middle of a recursion (1 KiB up: about 16 of
// its 64-byte frames): the walk hands the stack to libunwind rather than step past it. Both walks
// stop at 30 frames, inside the recursion; over the whole stack it gets there.
TEST_F(FastUnwind, ARecursionStopsAtTheEndOfTheStackItIsGiven) {
    static int whole = 0;
    static int cut = 0;
    UnwindJob job{[](UnwindJob*) {
                      uintptr_t out[kMaxFrames];
                      const unwind::StartFrame start{reinterpret_cast<uintptr_t>(__builtin_return_address(0)),
                                                     reinterpret_cast<uintptr_t>(__builtin_dwarf_cfa()),
                                                     *static_cast<const uintptr_t*>(__builtin_frame_address(0))};
                      whole = unwind::backtrace(start, start.sp, t_stack_high, out, 30);
                      cut = unwind::backtrace(start, start.sp, start.sp + 1024, out, 30);
                      return 0;
                  },
                  nullptr, nullptr};
    unwind_fixture_recurse(kDepth, &job);
    EXPECT_EQ(whole, 30);
    EXPECT_EQ(cut, unwind::kNeedsLibunwind);
}

// compare_here() with a WalkHint kept from one walk to the next, as the sampler keeps it.
struct HintedJob {
    Comparison* c;
    unwind::WalkHint* hint;
    uint32_t epoch;
    unwind::WalkCache* cache = nullptr;
};
__attribute__((noinline)) void compare_here_hinted(HintedJob* j) {
    void* raw[kMaxFrames + 1];
    const int n = g_unw_backtrace(raw, kMaxFrames + 1);
    const unwind::StartFrame start{reinterpret_cast<uintptr_t>(__builtin_return_address(0)),
                                   reinterpret_cast<uintptr_t>(__builtin_dwarf_cfa()),
                                   *static_cast<const uintptr_t*>(__builtin_frame_address(0))};
    j->c->fast_n =
        unwind::backtrace(start, start.sp, t_stack_high, j->c->fast, kMaxFrames, j->hint, j->epoch, j->cache);
    j->c->libunwind_n = n > 0 ? n - 1 : 0;
    for (int i = 1; i < n; ++i) j->c->libunwind[i - 1] = reinterpret_cast<uintptr_t>(raw[i]);
}
Comparison hinted_walk(unwind::WalkHint* hint, uint32_t epoch, unwind::WalkCache* cache = nullptr) {
    Comparison c;
    HintedJob hj{&c, hint, epoch, cache};
    UnwindJob job{[](UnwindJob* j) {
                      compare_here_hinted(static_cast<HintedJob*>(j->context));
                      return 0;
                  },
                  nullptr, &hj};
    unwind_fixture_deep(kDepth, &job);
    return c;
}

TEST_F(FastUnwind, AWalkBeginsWithItsHintOnlyUnderTheSameEpoch) {
    unwind::WalkHint hints[unwind::kWalkHints]{};
    unwind::WalkHint& hint = hints[0];  // the first frame's
    Comparison first = hinted_walk(hints, 1);
    EXPECT_TRUE(first.equal()) << first.describe();
    ASSERT_NE(hint.address, 0u);  // the first frame's lookup address, module and rule kept
    EXPECT_EQ(hint.address, first.fast[0] - 1);
    EXPECT_EQ(hint.epoch, 1u);
    Comparison second = hinted_walk(hints, 1);
    EXPECT_TRUE(second.equal()) << second.describe();
    // A wrong rule in the hint (CFA = SP + 4096; Step: kind 1 = from SP, offset in the high 32
    // bits) is followed under the same epoch, which shows the hint is used...
    const unwind::WalkHint good = hint;
    hint.step = uint64_t(1) | uint64_t(4096) << 32;
    Comparison misled = hinted_walk(hints, 1);
    EXPECT_FALSE(misled.equal()) << misled.describe();
    // ...and ignored under another (a module may have been unloaded since), then replaced.
    Comparison fresh = hinted_walk(hints, 2);
    EXPECT_TRUE(fresh.equal()) << fresh.describe();
    EXPECT_EQ(hint.epoch, 2u);
    EXPECT_EQ(hint.step, good.step);
    EXPECT_EQ(hint.module, good.module);
    // The next lookups are kept too, one entry each (the fixture's frames all return to different
    // addresses), and followed: a wrong rule in the third misleads the walk from its frame on.
    for (unsigned k = 1; k < unwind::kWalkHints; ++k) {
        EXPECT_EQ(hints[k].address, fresh.fast[k] - 1) << k;
        EXPECT_EQ(hints[k].epoch, 2u) << k;
    }
    hints[2].step = uint64_t(1) | uint64_t(4096) << 32;
    Comparison misled_later = hinted_walk(hints, 2);
    EXPECT_FALSE(misled_later.equal()) << misled_later.describe();
    EXPECT_EQ(memcmp(misled_later.fast, fresh.fast, 3 * sizeof(uintptr_t)), 0) << misled_later.describe();
}

// The rule cache (WalkCache's entries), kept from one walk to the next as the sampler keeps it: a
// slot's rule is taken only for the lookup whose key it holds. Rules are the Step of fast_unwind.cpp (kind 1 =
// CFA from SP, its offset in the high 32 bits).
TEST_F(FastUnwind, ARuleCacheGivesEachAddressOnlyItsOwnRule) {
    const uint64_t wrong = uint64_t(1) | uint64_t(4096) << 32;
    auto cache = std::make_unique<unwind::WalkCache>();
    auto& slots = cache->entries;
    auto rules_walk = [&](uint32_t epoch) {  // by the rules, not a replay of the last walk
        cache->last.frames = 0;
        return hinted_walk(nullptr, epoch, cache.get());
    };
    Comparison plain = hinted_walk(nullptr, 1);
    ASSERT_TRUE(plain.equal()) << plain.describe();
    ASSERT_GT(plain.fast_n, 8);
    // Each frame's return address - 1 is looked up, but where it repeats the one below it (a
    // recursion's frames are stepped without a lookup). The walks' frames are the same but for
    // the return address into this function, which each call site has of its own.
    auto lookups = [](const Comparison& c) {
        std::vector<uintptr_t> looked_up;
        for (int k = 0; k < c.fast_n; ++k)
            if (k == 0 || c.fast[k] != c.fast[k - 1]) looked_up.push_back(c.fast[k] - 1);
        return looked_up;
    };
    std::vector<uintptr_t> looked_up = lookups(plain);
    auto last_in_slot = [&](uintptr_t a) {  // the last address the walk looks up in a's slot
        uintptr_t last = 0;
        for (uintptr_t b : looked_up)
            if (unwind::WalkCache::slot(b) == unwind::WalkCache::slot(a)) last = b;
        return last;
    };

    // Every slot holds a wrong rule under a key sharing the slot with the walk's lookups: some
    // address nobody looks up, and in each looked-up address's slot that address as a signal
    // frame's interrupted instruction (`exact`).
    for (uintptr_t a = 0x10000; a < 0x10000 + 64 * unwind::WalkCache::kSlots; ++a)
        slots[unwind::WalkCache::slot(a)] = {unwind::WalkCache::key(a, false), wrong};
    for (uintptr_t a : looked_up) slots[unwind::WalkCache::slot(a)] = {unwind::WalkCache::key(a, true), wrong};
    cache->epoch = 1;
    Comparison collided = rules_walk(1);
    EXPECT_TRUE(collided.equal()) << collided.describe();
    // The walk kept its lookups' rules, each under its own key (the last of those sharing a slot).
    looked_up = lookups(collided);
    for (uintptr_t a : looked_up) {
        const auto& e = slots[unwind::WalkCache::slot(a)];
        EXPECT_EQ(e.key, unwind::WalkCache::key(last_in_slot(a), false)) << std::hex << a;
        EXPECT_NE(e.step, wrong) << std::hex << a;
    }
    Comparison again = rules_walk(1);
    EXPECT_TRUE(again.equal()) << again.describe();

    // Return addresses of the walk with different rules, each in another's slot: a cache that
    // did not compare the whole key would give one frame the other's rule.
    std::vector<std::pair<uintptr_t, uint64_t>> kept;  // (address, its rule)
    for (uintptr_t a : looked_up)
        if (last_in_slot(a) == a) kept.emplace_back(a, slots[unwind::WalkCache::slot(a)].step);
    ASSERT_GT(kept.size(), 8u);
    int swapped = 0;
    for (size_t i = 0; i < kept.size(); ++i) {
        for (size_t d = 1; d < kept.size(); ++d) {
            const auto& other = kept[(i + d) % kept.size()];
            if (other.second == kept[i].second) continue;
            slots[unwind::WalkCache::slot(kept[i].first)] = {unwind::WalkCache::key(other.first, false), other.second};
            ++swapped;
            break;
        }
    }
    EXPECT_GT(swapped, 8);
    Comparison swapped_walk = rules_walk(1);
    EXPECT_TRUE(swapped_walk.equal()) << swapped_walk.describe();

    // The cache is used: a wrong rule under a frame's own key misleads the walk from that frame
    // on (so the walks above equal libunwind's because the keys were compared)... Frame k from
    // the third on, the first whose lookup no later one displaces (slots depend on where ASLR
    // put the code).
    int k = 2;
    while (k < kDepth && last_in_slot(plain.fast[k] - 1) != plain.fast[k] - 1) ++k;
    ASSERT_LT(k, kDepth);
    const uintptr_t kth = plain.fast[k] - 1;
    slots[unwind::WalkCache::slot(kth)] = {unwind::WalkCache::key(kth, false), wrong};
    Comparison misled = rules_walk(1);
    EXPECT_FALSE(misled.equal()) << misled.describe();
    EXPECT_EQ(memcmp(misled.fast, plain.fast, size_t(k + 1) * sizeof(uintptr_t)), 0) << k << misled.describe();
    // ...and emptied under another epoch (a module may have been unloaded since).
    Comparison fresh = rules_walk(2);
    EXPECT_TRUE(fresh.equal()) << fresh.describe();
    EXPECT_EQ(cache->epoch, 2u);
    EXPECT_NE(slots[unwind::WalkCache::slot(kth)].step, wrong);
}

// The last walk replayed (WalkCache::Last): walks made from one call site in a loop start at the
// same place on the same stack words each time, as a program's loop's samples do.
struct ReplayJob {
    unwind::WalkCache* cache;
    uint32_t epoch;
    uint32_t depth;
    uintptr_t fp_change;  // xored into the start's frame pointer
    Comparison* c;
};
__attribute__((noinline)) void compare_here_cached(ReplayJob* j) {
    void* raw[kMaxFrames + 1];
    const int n = g_unw_backtrace(raw, int(j->depth) + 1);
    const unwind::StartFrame start{
        reinterpret_cast<uintptr_t>(__builtin_return_address(0)), reinterpret_cast<uintptr_t>(__builtin_dwarf_cfa()),
        *static_cast<const uintptr_t*>(__builtin_frame_address(0)) ^ j->fp_change};
    j->c->fast_n = unwind::backtrace(start, start.sp, t_stack_high, j->c->fast, j->depth, nullptr, j->epoch, j->cache);
    j->c->libunwind_n = n > 0 ? n - 1 : 0;
    for (int i = 1; i < n; ++i) j->c->libunwind[i - 1] = reinterpret_cast<uintptr_t>(raw[i]);
}

// Round k's change to the cache or the walk asked for (test below). Out of line, as the rounds'
// loop's trip count is out of the compiler's sight: every walk is made from one call site.
constexpr int kReplayRounds = 8;
Comparison g_replayed[kReplayRounds];
uintptr_t g_flipped, g_kept_frames[kReplayRounds], g_start_fp_used;
volatile int g_replay_rounds = kReplayRounds;

__attribute__((noinline)) void before_round(int round, ReplayJob* r) {
    unwind::WalkCache* cache = r->cache;
    const uint64_t wrong = uint64_t(1) | uint64_t(4096) << 32;  // CFA = SP + 4096
    r->depth = 30;
    r->fp_change = 0;
    r->c = &g_replayed[round];
    switch (round) {
    case 1:  // every rule wrong: a walk would be misled, a replay is not
        for (auto& e : cache->entries) e.step = wrong;
        break;
    case 2:  // what a replay gives is the kept frames
        g_flipped = cache->last.frame[5] ^= 1;
        break;
    case 3:  // a word read changed: walked again (by the rules, found again)
        memset(cache->entries, 0, sizeof cache->entries);
        cache->last.read[cache->last.reads / 2].value ^= 1;
        break;
    case 4:  // another depth
        cache->last.frame[5] ^= 1;
        r->depth = 7;
        break;
    case 6:  // another epoch: emptied
        cache->last.frame[5] ^= 1;
        r->epoch = 2;
        break;
    case 7:  // another frame pointer at the start, which the first frame's rule reads
        g_start_fp_used = cache->last.start_fp_used;
        cache->last.frame[5] ^= 1;
        r->fp_change = 0x10;
        break;
    }
}

TEST_F(FastUnwind, AWalkWhereTheLastOneStartedGivesItsFramesWhileItsWordsHoldTheirValues) {
    Comparison* c = g_replayed;
    auto cache = std::make_unique<unwind::WalkCache>();
    UnwindJob job{[](UnwindJob* j) {
                      auto* cache = static_cast<unwind::WalkCache*>(j->context);
                      ReplayJob r{cache, 1, 30, 0, nullptr};
                      for (int round = 0; round < g_replay_rounds; ++round) {
                          before_round(round, &r);
                          compare_here_cached(&r);
                          g_kept_frames[round] = cache->last.frames;
                      }
                      return 0;
                  },
                  nullptr, cache.get()};
    unwind_fixture_deep(kDepth, &job);
    for (int round : {0, 1, 3, 5, 6}) {
        EXPECT_TRUE(c[round].equal()) << round << ": " << c[round].describe();
        EXPECT_EQ(c[round].fast_n, 30) << round;
        EXPECT_EQ(g_kept_frames[round], 30u) << round;
    }
    // Round 2 replayed the kept frames, one changed on purpose: so round 1 was a replay too.
    ASSERT_EQ(c[2].fast_n, 30);
    EXPECT_EQ(c[2].fast[5], g_flipped);
    EXPECT_EQ(c[2].fast[5], c[0].fast[5] ^ 1);
    EXPECT_EQ(memcmp(c[2].fast, c[0].fast, 5 * sizeof(uintptr_t)), 0);
    EXPECT_EQ(memcmp(c[2].fast + 6, c[0].fast + 6, 24 * sizeof(uintptr_t)), 0);
    EXPECT_TRUE(c[4].equal()) << c[4].describe();
    EXPECT_EQ(c[4].fast_n, 7);
    EXPECT_EQ(cache->epoch, 2u);
    // This file keeps frame pointers: the caller's frame is found by %rbp.
    EXPECT_EQ(g_start_fp_used, 1u);
    EXPECT_FALSE(c[7].fast_n == 30 && c[7].fast[5] == (c[0].fast[5] ^ 1)) << c[7].describe();
}

TEST_F(FastUnwind, StopsAtTheDepthAskedFor) {
    Comparison c;
    UnwindJob job{[](UnwindJob* j) {
                      compare_here(static_cast<Comparison*>(j->context), 7);
                      return 0;
                  },
                  nullptr, &c};
    unwind_fixture_deep(kDepth, &job);
    EXPECT_EQ(c.fast_n, 7);
    EXPECT_TRUE(c.equal()) << c.describe();
}

// A handler run by raise(): the stack goes handler, libc's sigreturn trampoline, the interrupted
// system call in raise(), the leaf, the deep fixture frames.
Comparison g_handler_result;
void compare_in_handler(int) { compare_here(&g_handler_result); }

TEST_F(FastUnwind, ThroughASignalFrameEqualsLibunwind) {
    struct sigaction sa {}, old {};
    sa.sa_handler = compare_in_handler;
    ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
    UnwindJob job{[](UnwindJob*) { return raise(SIGUSR1); }, nullptr, nullptr};
    unwind_fixture_deep(kDepth, &job);
    sigaction(SIGUSR1, &old, nullptr);
    EXPECT_TRUE(g_handler_result.equal()) << g_handler_result.describe();
    EXPECT_GT(g_handler_result.fast_n, kDepth + kDepth / 4);
}

// A 10 kHz timer (ITIMER_REAL: a CPU-time timer only ticks at the scheduler's rate) interrupts a
// busy leaf wherever it is (prologues, epilogues, the loop): every walk the fast unwinder makes
// equals libunwind's, and it makes them all (no frame there lacks a rule it can follow).
std::atomic<int> g_compared, g_mismatched, g_left_to_libunwind;
Comparison g_first_mismatch;
int g_stop;
unwind::WalkCache* g_timer_cache;  // the walks' cache, if any (then 40 frames deep: kept walks)

void compare_on_timer(int) {
    Comparison c;
    if (g_timer_cache != nullptr)
        compare_here(&c, 40, g_timer_cache);
    else
        compare_here(&c);
    if (c.fast_n == unwind::kNeedsLibunwind) {
        g_left_to_libunwind.fetch_add(1);
    } else if (!c.equal()) {
        if (g_mismatched.fetch_add(1) == 0) g_first_mismatch = c;
    }
    if (g_compared.fetch_add(1) + 1 >= 2000) __atomic_store_n(&g_stop, 1, __ATOMIC_RELAXED);
}

void compare_at_interrupted_instructions(unwind::WalkCache* cache) {
    g_timer_cache = cache;
    g_compared = 0;
    g_mismatched = 0;
    g_left_to_libunwind = 0;
    struct sigaction sa {}, old {};
    sa.sa_handler = compare_on_timer;
    sa.sa_flags = SA_RESTART;
    ASSERT_EQ(sigaction(SIGALRM, &sa, &old), 0);
    g_stop = 0;
    itimerval fast{{0, 100}, {0, 100}}, off{};
    ASSERT_EQ(setitimer(ITIMER_REAL, &fast, nullptr), 0);
    UnwindJob job{unwind_fixture_spin, &g_stop, nullptr};
    unwind_fixture_deep(kDepth, &job);
    ASSERT_EQ(setitimer(ITIMER_REAL, &off, nullptr), 0);
    sigaction(SIGALRM, &old, nullptr);
    EXPECT_GE(g_compared.load(), 2000);
    EXPECT_EQ(g_mismatched.load(), 0) << g_first_mismatch.describe();
    EXPECT_EQ(g_left_to_libunwind.load(), 0);
    g_timer_cache = nullptr;
}

TEST_F(FastUnwind, AtAnyInterruptedInstructionEqualsLibunwind) { compare_at_interrupted_instructions(nullptr); }

// The same with a walk cache kept from one interruption to the next, as the sampler keeps it: the
// loop is interrupted at its few instructions again and again, with the same registers (a replay
// of the last walk, whose words include the interrupted ones) or others (a walk by the rules, the
// interrupted instruction's rule kept as `exact`).
TEST_F(FastUnwind, AtAnyInterruptedInstructionWithAWalkCacheEqualsLibunwind) {
    auto cache = std::make_unique<unwind::WalkCache>();
    compare_at_interrupted_instructions(cache.get());
}

// On another thread the stack ends at the thread's start (clone3, whose return address is
// undefined in its unwind table): both stop there.
TEST_F(FastUnwind, OnAThreadEqualsLibunwindToItsStart) {
    Comparison c;
    std::thread t([&] {
        learn_stack();
        UnwindJob job{compare_into_context, nullptr, &c};
        unwind_fixture_deep(kDepth, &job);
    });
    t.join();
    EXPECT_TRUE(c.equal()) << c.describe();
    EXPECT_GT(c.fast_n, kDepth);
    EXPECT_LT(c.fast_n, kMaxFrames);  // it ended by itself
}

// Code that no module holds (as a JIT compiler makes it) has no unwind table: the walk says so
// instead of guessing, and the sampler hands the stack to libunwind.
TEST_F(FastUnwind, CodeWithoutUnwindTablesIsLeftToLibunwind) {
    void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(page, MAP_FAILED);
    // sub $8,%rsp; movabs $fn,%rax; call *%rax; add $8,%rsp; ret
    static Comparison c;
    void (*fn)() = [] { compare_here(&c); };
    unsigned char code[] = {0x48, 0x83, 0xec, 0x08, 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
                            0xff, 0xd0, 0x48, 0x83, 0xc4, 0x08, 0xc3};
    memcpy(code + 6, &fn, 8);
    memcpy(page, code, sizeof code);
    ASSERT_EQ(mprotect(page, 4096, PROT_READ | PROT_EXEC), 0);
    reinterpret_cast<void (*)()>(page)();
    munmap(page, 4096);
    EXPECT_EQ(c.fast_n, unwind::kNeedsLibunwind);
    EXPECT_GT(c.libunwind_n, 2);  // libunwind guesses its way through by the frame pointer
}

// Every read stays within [low, high): a range that ends right above the first frame stops the
// walk before anything beyond it is read.
TEST_F(FastUnwind, ReadsOnlyWithinTheStackItIsGiven) {
    static int frames = 0;
    UnwindJob job{[](UnwindJob*) {
                      uintptr_t out[kMaxFrames];
                      const unwind::StartFrame start{reinterpret_cast<uintptr_t>(__builtin_return_address(0)),
                                                     reinterpret_cast<uintptr_t>(__builtin_dwarf_cfa()),
                                                     *static_cast<const uintptr_t*>(__builtin_frame_address(0))};
                      frames = unwind::backtrace(start, start.sp, start.sp + 8, out, kMaxFrames);
                      return 0;
                  },
                  nullptr, nullptr};
    unwind_fixture_deep(kDepth, &job);
    EXPECT_EQ(frames, unwind::kNeedsLibunwind);
}

// The rules the table is filled from, for a function whose shape is known: its first instruction
// (CFA = SP + 8, the return address just below, the frame pointer untouched).
TEST(EhFrameRules, AFunctionsFirstInstruction) {
    dl_find_object found;
    const auto pc = reinterpret_cast<uintptr_t>(&unwind_fixture_bounce);
    ASSERT_EQ(_dl_find_object(reinterpret_cast<void*>(pc), &found), 0);
    unwind::FrameRule rule;
    ASSERT_TRUE(unwind::frame_rule_at(found.dlfo_eh_frame, pc, &rule));
    EXPECT_FALSE(rule.cfa_from_fp);
    EXPECT_EQ(rule.cfa_offset, 8);
    EXPECT_EQ(rule.fp_saved_at, unwind::kFpNotSaved);
    EXPECT_TRUE(rule.fp_known);
    EXPECT_TRUE(rule.ra_known);
    EXPECT_FALSE(rule.outermost);
    EXPECT_FALSE(rule.signal_frame);
}

}  // namespace
