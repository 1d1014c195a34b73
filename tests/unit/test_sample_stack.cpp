// The shim's own stacks for samples (tracer/engine/sample_stack.h): the shared ones claimed per
// use, and those a thread owns from its first sampled call to its exit. A thread's samples switch
// to its own stack without a claim; owning never takes a shared one away.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>

#include "tracer/engine/sample_stack.h"

namespace tracer = vdsotrace::tracer;

namespace {

struct Seen {
    bool on = false;
    uintptr_t sp = 0, low = 0, high = 0, origin = 0;
};

void note_stack(void* arg) {
    auto* s = static_cast<Seen*>(arg);
    uintptr_t sp;
    asm volatile("mov %%rsp, %0" : "=r"(sp));
    s->sp = sp;
    s->on = tracer::on_sample_stack(sp, &s->low, &s->high, &s->origin);
}

#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
TEST(SampleStack, EightThreadsOwnAStackEachAndTheSharedOnesStay) {
    ASSERT_TRUE(tracer::sample_stacks_start());
    std::set<uintptr_t> lows;
    uint32_t owned[8];
    for (uint32_t& own : owned) {
        own = tracer::claim_own_sample_stack();
        ASSERT_NE(own, 0u);
        Seen s;
        uintptr_t here;
        asm volatile("mov %%rsp, %0" : "=r"(here));
        tracer::run_on_own_sample_stack(own, note_stack, &s);
        ASSERT_TRUE(s.on);
        EXPECT_GE(s.sp, s.low);
        EXPECT_LT(s.sp, s.high);
        // The switch's frame sits just below the stack pointer it switched from.
        EXPECT_LT(s.origin, here);
        EXPECT_GT(s.origin + 256, here);
        lows.insert(s.low);
    }
    EXPECT_EQ(lows.size(), 8u);  // eight different stacks
    EXPECT_EQ(tracer::claim_own_sample_stack(), 0u);  // none left to own
    // A shared stack is still there for everyone else, and it is none of the owned ones.
    Seen shared;
    tracer::run_on_sample_stack(note_stack, &shared);
    ASSERT_TRUE(shared.on);
    EXPECT_EQ(lows.count(shared.low), 0u);
    // A stack given back (its thread exited) goes to the next thread that asks.
    tracer::release_own_sample_stack(owned[3]);
    EXPECT_EQ(tracer::claim_own_sample_stack(), owned[3]);
    for (uint32_t own : owned) tracer::release_own_sample_stack(own);
    EXPECT_NE(tracer::claim_own_sample_stack(), 0u);
}

// A fork's child has only the forking thread: the stacks the parent's other threads owned are
// free there, this thread's own is still its own.
TEST(SampleStack, AForksChildKeepsOnlyItsThreadsStack) {
    ASSERT_TRUE(tracer::sample_stacks_start());
    uint32_t mine = tracer::claim_own_sample_stack();
    while (tracer::claim_own_sample_stack() != 0) {
    }  // the other seven: owned by other threads of the parent
    uintptr_t sp;
    asm volatile("mov %%rsp, %0" : "=r"(sp));
    tracer::sample_stacks_after_fork(mine, sp);
    std::set<uint32_t> claimed;
    for (uint32_t own; (own = tracer::claim_own_sample_stack()) != 0;) claimed.insert(own);
    EXPECT_EQ(claimed.size(), 7u);
    EXPECT_EQ(claimed.count(mine), 0u);
    for (uint32_t own : claimed) tracer::release_own_sample_stack(own);
    tracer::release_own_sample_stack(mine);
}
#endif

}  // namespace
