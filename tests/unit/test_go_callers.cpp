// The frame walk that attributes a Go program's vDSO call to the Go function past the runtime's
// time plumbing (tracer/common/go_callers.h), on hand-built frame chains; and the log that keeps the
// recording's copy of the vDSO as the kernel made it (tracer/engine/vdso_patch_log.h).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tracer/common/go_callers.h"
#include "tracer/common/go_pclntab.h"
#include "tracer/engine/vdso_patch_log.h"

namespace go = vdsotrace::tracer::go;

namespace {

// Code addresses of made-up functions: [0x1000, 0x1100) time.now, [0x1100, 0x1200) time.Now,
// [0x1200, 0x1300) time.Since; main.work lives at 0x5000.
go::Plumbing plumbing() {
    go::Plumbing p{};
    go::add_plumbing(p, {0x1000, 0x1100});
    go::add_plumbing(p, {0x1100, 0x1200});
    go::add_plumbing(p, {0x1200, 0x1300});
    return p;
}

// A frame-pointer chain as Go lays it out: each frame holds the caller's frame pointer, then the
// return address into the caller. frames[0] is the innermost frame.
struct Chain {
    alignas(8) uintptr_t words[16] = {};
    // Frame i at words[2 * i]: { next frame pointer, return address }.
    void link(int i, int next, uintptr_t ret) {
        words[2 * i] = next < 0 ? 0 : reinterpret_cast<uintptr_t>(&words[2 * next]);
        words[2 * i + 1] = ret;
    }
    uintptr_t fp(int i) { return reinterpret_cast<uintptr_t>(&words[2 * i]); }
};

}  // namespace

TEST(GoCallers, WalksPastTimeNowToTheGoCaller) {
    // vDSO call from time.now (ret 0x1010); time.now's frame returns into time.Now (0x1120),
    // time.Now's frame returns into main.work (0x5040).
    Chain c;
    c.link(0, 1, 0x1120);
    c.link(1, 2, 0x5040);
    c.link(2, -1, 0x9999);
    EXPECT_EQ(go::attribute_caller(plumbing(), 0x1010, c.fp(0)), 0x5040u);
}

TEST(GoCallers, StopsAtTheFirstAddressOutsideThePlumbing) {
    Chain c;
    c.link(0, 1, 0x5040);  // time.now called straight from main.work (time.Now inlined)
    c.link(1, -1, 0x1120);
    EXPECT_EQ(go::attribute_caller(plumbing(), 0x1010, c.fp(0)), 0x5040u);
}

TEST(GoCallers, ACallerOutsideThePlumbingIsKeptAsItIs) {
    Chain c;
    c.link(0, -1, 0x1120);
    EXPECT_EQ(go::attribute_caller(plumbing(), 0x5040, c.fp(0)), 0x5040u);  // a C caller, say
    EXPECT_EQ(go::attribute_caller(go::Plumbing{}, 0x1010, c.fp(0)), 0x1010u);  // no symbols: as is
}

TEST(GoCallers, ABrokenChainEndsTheWalkInsteadOfLooping) {
    Chain c;
    c.link(0, 0, 0x1120);  // points at itself
    EXPECT_EQ(go::attribute_caller(plumbing(), 0x1010, c.fp(0)), 0x1120u);
    EXPECT_EQ(go::attribute_caller(plumbing(), 0x1010, 0), 0x1010u);           // no frame pointer
    EXPECT_EQ(go::attribute_caller(plumbing(), 0x1010, c.fp(0) + 4), 0x1010u);  // misaligned
}

TEST(GoCallers, FollowsAtMostFourFrames) {
    Chain c;  // plumbing all the way up: the walk gives up after kMaxPlumbingFrames
    for (int i = 0; i < 6; ++i) c.link(i, i + 1, 0x1110 + uintptr_t(i));
    c.link(6, -1, 0x5040);
    EXPECT_EQ(go::attribute_caller(plumbing(), 0x1010, c.fp(0)), 0x1113u);
}

TEST(GoCallers, BoundsCoverEveryRange) {
    go::Plumbing p{};
    go::add_plumbing(p, {0x3000, 0x3100});
    go::add_plumbing(p, {0x1000, 0x1100});
    EXPECT_EQ(p.count, 2u);
    EXPECT_EQ(p.bounds.begin, 0x1000u);
    EXPECT_EQ(p.bounds.end, 0x3100u);
    EXPECT_TRUE(go::in_plumbing(p, 0x30ff));
    EXPECT_FALSE(go::in_plumbing(p, 0x2000));  // inside the bounds, in no range
    EXPECT_FALSE(go::in_plumbing(p, 0x3100));
}

TEST(VdsoPatchLog, TheCopyGetsTheOriginalValuesBack) {
    unsigned char image[64];
    memset(image, 0xAB, sizeof image);
    const uint64_t original = 0x1122334455667788;
    vdsotrace::tracer::note_vdso_patch(16, original);
    vdsotrace::tracer::note_vdso_patch(60, original);  // would overrun a 64-byte copy: skipped
    vdsotrace::tracer::undo_vdso_patches(image, sizeof image);
    uint64_t got = 0;
    memcpy(&got, image + 16, sizeof got);
    EXPECT_EQ(got, original);
    EXPECT_EQ(image[15], 0xAB);
    EXPECT_EQ(image[24], 0xAB);
    EXPECT_EQ(image[60], 0xAB);
}

TEST(GoPclntab, ReadsNamesAndRangesAndRefusesWhatItDoesNotKnow) {
    namespace go = vdsotrace::tracer::go;
    // Header (72 bytes), names at 72 ("main.f"), functab at 80: {entry 0x20, _func at +16},
    // {end 0x60}; the _func at 96: entryoff 0x20, nameoff 0.
    std::vector<unsigned char> tab(104, 0);
    const uint32_t magic = 0xfffffff0;
    memcpy(tab.data(), &magic, 4);
    tab[6] = 1;  // minLC
    tab[7] = 8;  // pointer size
    const uint64_t words[8] = {1, 0, 0x401000, 72, 0, 0, 0, 80};  // nfunc, nfiles, textStart, names, .., pcln
    memcpy(tab.data() + 8, words, sizeof words);
    memcpy(tab.data() + 72, "main.f", 7);
    const uint32_t functab[4] = {0x20, 16, 0x60, 0};
    memcpy(tab.data() + 80, functab, sizeof functab);
    const uint32_t func[2] = {0x20, 0};
    memcpy(tab.data() + 96, func, sizeof func);

    std::vector<std::string> seen;
    uint64_t begin = 0, end = 0;
    auto visit = [&](const char* name, uint64_t b, uint64_t e) {
        seen.emplace_back(name);
        begin = b;
        end = e;
        return true;
    };
    EXPECT_TRUE(go::for_each_go_function(tab.data(), tab.size(), visit));
    ASSERT_EQ(seen, std::vector<std::string>{"main.f"});
    EXPECT_EQ(begin, 0x401020u);
    EXPECT_EQ(end, 0x401060u);

    seen.clear();
    for (size_t n = 0; n < tab.size(); ++n) go::for_each_go_function(tab.data(), n, visit);  // truncations
    EXPECT_TRUE(seen.empty());  // every truncation cuts the one _func or what precedes it

    const int32_t past_the_end = 1000;
    memcpy(tab.data() + 100, &past_the_end, 4);
    EXPECT_FALSE(go::for_each_go_function(tab.data(), tab.size(), visit));
    tab[7] = 4;  // a 32-bit table: not read
    go::PclntabHeader h;
    EXPECT_FALSE(go::read_pclntab_header(tab.data(), tab.size(), &h));
    EXPECT_TRUE(seen.empty());
}
