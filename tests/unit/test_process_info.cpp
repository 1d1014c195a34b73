// The header's description of the process: the command line copied from the argument strings in
// memory once the constructor has noted them, and read from /proc/self/cmdline until then.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tracer/common/process_info.h"

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
    EXPECT_NE(header->proc_start_ticks, 0u);

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

}  // namespace
