// The log of unloaded libraries each thread catches up with (tracer/engine/unload_log.h): order,
// one entry for a library closed and reopened in a loop, and "too far behind" told apart.
#include "tracer/engine/unload_log.h"

#include <gtest/gtest.h>

#include <vector>

namespace tr = vdsotrace::tracer;

namespace {

std::vector<uint32_t> modules_since(uint32_t since, bool* complete) {
    std::vector<uint32_t> seen;
    *complete = tr::for_each_unload_since(since, [&](const tr::UnloadEvent& e) { seen.push_back(e.module); });
    return seen;
}

}  // namespace

// One process-wide log: the cases run in this order in one test.
TEST(UnloadLog, OrderCoalescingAndOverflow) {
    bool complete = false;
    EXPECT_TRUE(modules_since(0, &complete).empty());
    EXPECT_TRUE(complete);

    const uint32_t g1 = tr::log_unload(7, 0x1000, 0x2000);  // A
    const uint32_t g2 = tr::log_unload(8, 0x1000, 0x2000);  // B where A was
    const uint32_t g3 = tr::log_unload(7, 0x1000, 0x2000);  // A again
    EXPECT_EQ(g1, 1u);
    EXPECT_EQ(g2, 2u);
    EXPECT_EQ(g3, 3u);
    EXPECT_EQ(modules_since(0, &complete), (std::vector<uint32_t>{7, 8, 7}));
    EXPECT_TRUE(complete);
    EXPECT_EQ(modules_since(1, &complete), (std::vector<uint32_t>{8, 7}));
    EXPECT_EQ(modules_since(3, &complete), std::vector<uint32_t>{});

    // A plugin closed and reopened in a loop: one entry, whatever the count.
    for (int i = 0; i < 1000; ++i) tr::log_unload(7, 0x1000, 0x2000);
    EXPECT_EQ(modules_since(0, &complete), (std::vector<uint32_t>{7, 8, 7}));
    EXPECT_TRUE(complete);
    EXPECT_EQ(modules_since(500, &complete), std::vector<uint32_t>{7});
    EXPECT_TRUE(complete);

    // Alternating libraries overflow the log: a thread that saw none of them is told so; one that
    // saw all but the newest kUnloadLogEntries is not.
    uint32_t last = 0;
    for (uint32_t i = 0; i < tr::kUnloadLogEntries + 10; ++i) last = tr::log_unload(100 + (i & 1), 0x5000, 0x6000);
    modules_since(0, &complete);
    EXPECT_FALSE(complete);
    const std::vector<uint32_t> recent = modules_since(last - tr::kUnloadLogEntries, &complete);
    EXPECT_TRUE(complete);
    EXPECT_EQ(recent.size(), tr::kUnloadLogEntries);
    EXPECT_EQ(recent.back(), 100u + ((tr::kUnloadLogEntries + 9) & 1));
    EXPECT_EQ(modules_since(last - 1, &complete).size(), 1u);
    EXPECT_TRUE(complete);
}
