// `run` reads the recordings of processes that ended while the command still runs
// (tools/run/session_collector.h): only those nothing will write to again, each exactly once.
#include <fcntl.h>
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
#include "tools/recordings/recording_file.h"
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
    EXPECT_EQ(taken.at(exited).recording.pid, dead);
    EXPECT_EQ(taken.at(exited).recording.totals()[f::counter_index(f::kClockGettime, 1)], 7u);
    EXPECT_EQ(taken.at(signalled).recording.totals()[f::counter_index(f::kClockGettime, 1)], 8u);
    // The packed image unpacks to the segment's bytes.
    std::vector<unsigned char> back;
    const tools::SegmentImage& image = taken.at(exited).image;
    ASSERT_TRUE(tools::unpack_segment_image(image.packed.data(), image.packed.size(), image.size, &back));
    std::ifstream in(exited, std::ios::binary);
    const std::vector<unsigned char> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(back == file);
    EXPECT_FALSE(taken.at(exited).streamed);  // no recording file given: the image is held
    for (const std::string& p : {exited, signalled, alive, no_status, other}) unlink(p.c_str());
}

TEST(SessionCollector, WritesWhatItTakesIntoTheFileAsItGoes) {
    const std::string session = "stream" + std::to_string(getpid());
    const pid_t dead = gone_pid();
    const std::string exited = write_segment(session, dead, f::kStateExited, 7, 1);
    const std::string signalled = write_segment(session, getpid(), f::kStateSignaled, 8, 2);
    const std::string alive = write_segment(session, getpid(), f::kStateExited, 9, 3);  // still running
    const std::string out = "/tmp/vdsotrace_collector_" + std::to_string(getpid()) + ".vdsotrace";
    std::string error;
    auto stream = tools::RecordingStream::create(out, &error);
    ASSERT_NE(stream, nullptr) << error;
    tools::SessionCollector collector(session, false, 5, stream.get());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::string stream_error;
    auto taken = collector.finish(&stream_error);
    EXPECT_EQ(stream_error, "");
    ASSERT_EQ(taken.size(), 2u);
    EXPECT_TRUE(taken.at(exited).streamed);
    EXPECT_TRUE(taken.at(signalled).streamed);
    EXPECT_TRUE(taken.at(exited).image.packed.empty());  // in the file: not held twice
    EXPECT_EQ(taken.at(exited).recording.totals()[f::counter_index(f::kClockGettime, 1)], 7u);
    // The segments keep their names until the end: a pid's next process must not take them.
    EXPECT_EQ(access(exited.c_str(), F_OK), 0);
    EXPECT_EQ(access(signalled.c_str(), F_OK), 0);
    EXPECT_EQ(stream->entries(), 2u);

    // Already in the file, whole: what a run killed now leaves.
    std::ifstream in(stream->partial_path(), std::ios::binary);
    const std::vector<unsigned char> partial((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto r = tools::parse_recording_file(partial, "partial", &error);
    ASSERT_TRUE(r.has_value()) << error;
    ASSERT_EQ(r->size(), 2u);
    uint64_t calls = 0;
    for (const auto& one : *r) calls += one.totals()[f::counter_index(f::kClockGettime, 1)];
    EXPECT_EQ(calls, 15u);
    ASSERT_TRUE(stream->finish(nullptr, &error)) << error;
    auto done = tools::load_recordings(out, &error);
    ASSERT_TRUE(done.has_value()) << error;
    EXPECT_EQ(done->size(), 2u);
    for (const std::string& p : {exited, signalled, alive, out}) unlink(p.c_str());
}

// Segments created while it runs are learnt from inotify: the directory is listed once, however
// long the run (a pass used to list all of /dev/shm, N^2/2 names over a session of N processes).
// Listing every pass (where inotify is not available) takes the same ones.
TEST(SessionCollector, LearnsOfNewSegmentsWithoutListingTheDirectoryAgain) {
    for (auto discovery : {tools::SessionCollector::Discovery::kWatch, tools::SessionCollector::Discovery::kList}) {
        const bool watch = discovery == tools::SessionCollector::Discovery::kWatch;
        const std::string session = std::string(watch ? "watch" : "list") + std::to_string(getpid());
        const pid_t dead = gone_pid();
        const std::string before = write_segment(session, dead, f::kStateExited, 3, 1);  // listed
        tools::SessionCollector collector(session, false, 5, nullptr, discovery);
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        const std::string exited = write_segment(session, dead, f::kStateExited, 7, 2);
        const std::string signalled = write_segment(session, getpid(), f::kStateSignaled, 8, 3);
        // Still running when it is first seen; final once its process is gone, some passes later.
        const std::string later = write_segment(session, getpid(), f::kStateExited, 9, 4);
        const std::string running = write_segment(session, dead, f::kStateRunning, 10, 5);  // reaper may write
        struct Unlink {  // even when an assertion below ends the test
            std::vector<std::string> paths;
            ~Unlink() {
                for (const std::string& p : paths) unlink(p.c_str());
            }
        } cleanup{{before, exited, signalled, later, running}};
        std::this_thread::sleep_for(std::chrono::milliseconds(60));
        {  // its process "ends": the header names a pid that is gone
            const int fd = open(later.c_str(), O_WRONLY);
            ASSERT_GE(fd, 0);
            ASSERT_EQ(pwrite(fd, &dead, sizeof dead, offsetof(f::Header, pid)), ssize_t(sizeof dead));
            close(fd);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        auto taken = collector.finish();
        EXPECT_EQ(taken.size(), 4u) << session;
        EXPECT_EQ(taken.count(before), 1u);
        EXPECT_EQ(taken.count(exited), 1u);
        EXPECT_EQ(taken.count(signalled), 1u);
        ASSERT_EQ(taken.count(later), 1u);
        EXPECT_EQ(taken.at(later).recording.pid, dead);
        EXPECT_EQ(taken.at(later).recording.totals()[f::counter_index(f::kClockGettime, 1)], 9u);
        EXPECT_EQ(taken.count(running), 0u);
        if (watch)
            EXPECT_EQ(collector.listings(), 1u);
        else
            EXPECT_GT(collector.listings(), 10u);  // ~70 passes in 390 ms
    }
}
