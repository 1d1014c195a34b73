// The header's description of the process: the command line copied from the argument strings in
// memory once the constructor has noted them, and read from /proc/self/cmdline until then.
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tracer/common/executable_path.h"
#include "tracer/common/process_info.h"
#include "tracer/engine/process_tree.h"

namespace {

using vdsotrace::format::Header;
using vdsotrace::tracer::fill_process_info;
using vdsotrace::tracer::note_arguments;

std::string proc_cmdline() {
    const int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    std::string out;
    char buf[4096];
    for (ssize_t n; fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
    if (fd >= 0) close(fd);
    return out;
}

std::string cmdline_of(const Header& h) { return std::string(h.cmdline, h.cmdline_size); }

// One test: the noted area is process-wide and set once, so the order of the steps matters.
TEST(ProcessInfo, CmdlineFromProcUntilArgumentsNotedThenFromMemory) {
    auto header = std::make_unique<Header>();
    fill_process_info(header.get());
    EXPECT_EQ(cmdline_of(*header), proc_cmdline());
    EXPECT_EQ(header->pid, getpid());
    // The start time is not read for the header: 0 until something needed it, then that value.
    EXPECT_EQ(header->proc_start_ticks, 0u);
    const uint64_t ticks = vdsotrace::tracer::own_start_ticks(getpid());
    EXPECT_EQ(ticks, vdsotrace::tracer::read_start_ticks(getpid()));
    EXPECT_NE(ticks, 0u);
    header = std::make_unique<Header>();
    fill_process_info(header.get());
    EXPECT_EQ(header->proc_start_ticks, ticks);

    // Strings that do not follow each other (a copied vector) are not taken.
    char first[] = "prog", second[] = "arg";
    char* scattered[] = {first, second, nullptr};
    if (second != first + sizeof first) {
        note_arguments(2, scattered);
        header = std::make_unique<Header>();
        fill_process_info(header.get());
        EXPECT_EQ(cmdline_of(*header), proc_cmdline());
    }

    // Laid out as execve does: each string right after the previous NUL. Rewritten after being
    // noted, as a program may do: the header shows the memory as it is when the file is made.
    static char area[] = "my-server\0--port\0" "8080";  // 22 bytes with the final NUL
    char* argv[] = {area, area + 10, area + 17, nullptr};
    note_arguments(3, argv);
    area[18] = '9';
    header = std::make_unique<Header>();
    fill_process_info(header.get());
    EXPECT_EQ(cmdline_of(*header), std::string("my-server\0--port\0" "8980\0", 22));
    EXPECT_EQ(header->flags & vdsotrace::format::kFlagCmdlineTruncated, 0u);
}

// A recording began in the lifetime of the process at its pid when it began after that process
// started: start times in ticks since boot (CLOCK_BOOTTIME), recordings in CLOCK_MONOTONIC.
TEST(ProcessInfo, BeganInProcessComparesStartTimesAcrossClocks) {
    using vdsotrace::tracer::began_in_process;
    constexpr uint64_t kSecond = 1000000000ull;
    const uint64_t suspended = 5 * kSecond;  // CLOCK_BOOTTIME runs 5 s ahead: a suspend
    // The process started at boot time 100.00 s, i.e. monotonic 95 s.
    EXPECT_TRUE(began_in_process(95 * kSecond, 10000, suspended, 100));
    EXPECT_TRUE(began_in_process(95 * kSecond + 1, 10000, suspended, 100));
    EXPECT_TRUE(began_in_process(200 * kSecond, 10000, suspended, 100));
    // Began before it: an earlier process that had the same pid.
    EXPECT_FALSE(began_in_process(95 * kSecond - 1, 10000, suspended, 100));
    EXPECT_FALSE(began_in_process(10 * kSecond, 10000, suspended, 100));
    // Unknown start time or tick rate: not this process.
    EXPECT_FALSE(began_in_process(200 * kSecond, 0, suspended, 100));
    EXPECT_FALSE(began_in_process(200 * kSecond, 10000, suspended, 0));
    // 1000 ticks a second (a kernel built with USER_HZ 1000).
    EXPECT_TRUE(began_in_process(95 * kSecond, 100000, suspended, 1000));
    EXPECT_FALSE(began_in_process(94 * kSecond, 100000, suspended, 1000));
}

// A recording that has its start ticks is compared by them; one without, by its start.
TEST(ProcessInfo, RecordedByComparesTicksWhenTheRecordingHasThem) {
    using vdsotrace::tracer::recorded_by;
    constexpr uint64_t kSecond = 1000000000ull;
    EXPECT_TRUE(recorded_by(10000, 10 * kSecond, 10000, 0, 100));   // same ticks, whatever its start
    EXPECT_FALSE(recorded_by(9999, 200 * kSecond, 10000, 0, 100));  // other ticks, though it began after
    EXPECT_TRUE(recorded_by(0, 100 * kSecond, 10000, 0, 100));      // not read: began at the start
    EXPECT_FALSE(recorded_by(0, 99 * kSecond, 10000, 0, 100));      // not read: began before it
    EXPECT_FALSE(recorded_by(10000, 100 * kSecond, 0, 0, 100));     // no live process at the pid
    EXPECT_FALSE(recorded_by(0, 100 * kSecond, 0, 0, 100));
}

}  // namespace

// The executable's path is taken from what exec was given (AT_EXECFN) only when that is exactly
// what /proc/self/exe says; through a symbolic link, or for a script's interpreter, /proc is asked.
namespace {

std::string proc_exe() {
    char buf[4096];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

// What this program's probe (below) prints when exec'd as `path` (through `argv0`).
std::string probe_as(const std::string& path) {
    int fds[2];
    if (pipe(fds) != 0) return "pipe failed";
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        setenv("VDSOTRACE_TEST_EXE_PROBE", "1", 1);
        execl(path.c_str(), path.c_str(), "--gtest_filter=ExecutablePath.Probe", static_cast<char*>(nullptr));
        _exit(127);
    }
    close(fds[1]);
    std::string out;
    char buf[1024];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    const size_t at = out.find("probe:");
    return at == std::string::npos ? "no probe output: " + out : out.substr(at, out.find('\n', at) - at);
}

}  // namespace

TEST(ExecutablePath, Probe) {
    if (getenv("VDSOTRACE_TEST_EXE_PROBE") == nullptr) GTEST_SKIP() << "run by ExecutablePath.* in a child";
    char buf[4096];
    const bool got = vdsotrace::tracer::executable_path_from_exec(buf, sizeof buf);
    printf("probe:%d:%s\n", got ? 1 : 0, got ? buf : "");
    fflush(stdout);
}

TEST(ExecutablePath, TakenFromExecOnlyWhenItIsWhatProcSays) {
    const std::string self = proc_exe();
    ASSERT_FALSE(self.empty());
    // This test itself: meson runs it by its canonical path.
    char buf[4096];
    const bool got = vdsotrace::tracer::executable_path_from_exec(buf, sizeof buf);
    const std::string execfn = reinterpret_cast<const char*>(getauxval(AT_EXECFN));
    EXPECT_EQ(got, execfn == self) << execfn << " vs " << self;
    if (got) {
        EXPECT_EQ(std::string(buf), self);
    }
    // Exec'd by its canonical path: taken, and the same.
    EXPECT_EQ(probe_as(self), "probe:1:" + self);
    // Through a symbolic link to it: declined (readlink resolves it).
    const std::string link = "/tmp/vdsotrace-test-exe-link-" + std::to_string(getpid());
    unlink(link.c_str());
    ASSERT_EQ(symlink(self.c_str(), link.c_str()), 0);
    EXPECT_EQ(probe_as(link), "probe:0:");
    unlink(link.c_str());
    // A script whose interpreter is this program: AT_EXECFN names the script, which is not the
    // program running: declined.
    const std::string script = "/tmp/vdsotrace-test-exe-script-" + std::to_string(getpid());
    {
        const int fd = open(script.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
        ASSERT_GE(fd, 0);
        const std::string text = "#!" + self + " --gtest_filter=ExecutablePath.Probe\n";
        ASSERT_EQ(write(fd, text.data(), text.size()), ssize_t(text.size()));
        close(fd);
    }
    EXPECT_EQ(probe_as(script), "probe:0:");
    unlink(script.c_str());
}

namespace {

// The name create_segment_file gives generation `g` of this process in `session`, as shm_open wants it.
std::string generation_name(const char* session, uint32_t g) {
    char name[256];
    vdsotrace::tracer::TextBuffer b(name, sizeof name);
    b.add("/");
    vdsotrace::tracer::add_segment_name(&b, uint32_t(getuid()), session, int(getpid()),
                                        vdsotrace::tracer::image_segment_id(uint32_t(getuid()), session, int(getpid()), g));
    return name;
}

uint64_t never_random() {
    ADD_FAILURE() << "a random id was asked for";
    return 1;
}

}  // namespace

// The segment file is created under the first generation's name that has no file (its exclusive
// creation is the probe): generation 0 in a fresh session; with a file of that name there already
// (a previous image's, or anybody's), generation 1, the existing file left as it was.
TEST(SegmentFile, TakesTheFirstGenerationWithoutAFile) {
    const std::string session = "unit-segfile-" + std::to_string(getpid());
    char name[128] = {};
    uint64_t id = 0;
    int fd = vdsotrace::tracer::create_segment_file(uint32_t(getuid()), session.c_str(), int(getpid()), never_random,
                                                    &id, name, sizeof name);
    ASSERT_GE(fd, 0) << name;
    close(fd);
    EXPECT_EQ(std::string(name), generation_name(session.c_str(), 0));
    EXPECT_EQ(id, vdsotrace::tracer::image_segment_id(uint32_t(getuid()), session.c_str(), int(getpid()), 0));
    const std::string first = name;

    fd = vdsotrace::tracer::create_segment_file(uint32_t(getuid()), session.c_str(), int(getpid()), never_random, &id,
                                                name, sizeof name);
    ASSERT_GE(fd, 0) << name;
    close(fd);
    EXPECT_EQ(std::string(name), generation_name(session.c_str(), 1));
    EXPECT_EQ(id, vdsotrace::tracer::image_segment_id(uint32_t(getuid()), session.c_str(), int(getpid()), 1));
    // Both exist, the first one not truncated nor replaced by the second creation.
    const int again = shm_open(first.c_str(), O_RDONLY | O_CLOEXEC, 0);
    EXPECT_GE(again, 0);
    if (again >= 0) close(again);
    shm_unlink(first.c_str());
    shm_unlink(name);
}
