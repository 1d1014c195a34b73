// `run` reads the recordings of processes that ended while the command still runs
// (tools/run/session_collector.h): only those nothing will write to again, each exactly once.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/blank_recording.h"
#include "tools/run/session_collector.h"
#include "tracer/format/segment_format.h"

namespace f = vdsotrace::format;
namespace tools = vdsotrace::tools;

namespace {

// A pid that names no process now: a child that has exited and been reaped.
pid_t gone_pid() {
    const pid_t p = fork();
    if (p == 0) _exit(0);
    int status = 0;
    waitpid(p, &status, 0);
    return p;
}

// Writes a one-thread recording of `pid` in `state` with `calls` calls into /dev/shm under
// `session`; returns its path.
std::string write_segment(const std::string& session, pid_t pid, uint32_t state, uint64_t calls, int n) {
    vdsotrace::testing::TestRecording rec;
    f::Header* h = rec.header();
    h->pid = pid;
    h->state = state;
    h->exit_value = 0;
    strcpy(h->session, session.c_str());
    h->tree.segment_id = 0x5000 + uint64_t(n);
    h->threads_claimed = 1;
    rec.thread(0)->state = f::kThreadExited;
    rec.unattributed(0)[f::counter_index(f::kClockGettime, 1)] = calls;
    char name[160];
    snprintf(name, sizeof name, "/dev/shm/vdsotrace-%u-%s-%d-%016x", unsigned(getuid()), session.c_str(), int(pid), n);
    std::ofstream(name, std::ios::binary).write(reinterpret_cast<const char*>(rec.bytes.data()),
                                                std::streamsize(rec.bytes.size()));
    return name;
}

}  // namespace

TEST(SessionCollector, FinalOnlyWhenNothingWritesAgain) {
    EXPECT_TRUE(tools::recording_is_final(f::kStateExited, false));
    EXPECT_FALSE(tools::recording_is_final(f::kStateExited, true));  // destructors may still count
    EXPECT_TRUE(tools::recording_is_final(f::kStateSignaled, true));
    EXPECT_TRUE(tools::recording_is_final(f::kStateExeced, true));
    EXPECT_FALSE(tools::recording_is_final(f::kStateRunning, false));  // its reaper may still write
    EXPECT_FALSE(tools::recording_is_final(f::kStateEnded, false));
}

TEST(SessionCollector, TakesEndedProcessesOnceAndLeavesTheRest) {
    const std::string session = "collect" + std::to_string(getpid());
    const pid_t dead = gone_pid();
    const std::string exited = write_segment(session, dead, f::kStateExited, 7, 1);
    const std::string signalled = write_segment(session, getpid(), f::kStateSignaled, 8, 2);
    const std::string alive = write_segment(session, getpid(), f::kStateExited, 9, 3);      // still running
    const std::string no_status = write_segment(session, dead, f::kStateRunning, 10, 4);    // reaper may write
    const std::string other = write_segment(session + "x", dead, f::kStateExited, 11, 5);   // another session
    tools::SessionCollector collector(session, false, 5);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto taken = collector.finish();
    ASSERT_EQ(taken.size(), 2u);
    ASSERT_EQ(taken.count(exited), 1u);
    ASSERT_EQ(taken.count(signalled), 1u);
    EXPECT_EQ(taken.at(exited).first.pid, dead);
    EXPECT_EQ(taken.at(exited).first.totals()[f::counter_index(f::kClockGettime, 1)], 7u);
    EXPECT_EQ(taken.at(signalled).first.totals()[f::counter_index(f::kClockGettime, 1)], 8u);
    // The packed image unpacks to the segment's bytes.
    std::vector<unsigned char> back;
    const tools::SegmentImage& image = taken.at(exited).second;
    ASSERT_TRUE(tools::unpack_segment_image(image.packed.data(), image.packed.size(), image.size, &back));
    std::ifstream in(exited, std::ios::binary);
    const std::vector<unsigned char> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(back == file);
    for (const std::string& p : {exited, signalled, alive, no_status, other}) unlink(p.c_str());
}
