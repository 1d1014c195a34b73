// Reads the parts of a live recording a reader uses, and zeros for the rest: thread slots beyond
// those handed out (and their sample slots), module entries and exited-thread log entries not yet
// written. With the default 256 thread slots those are 1.3 of a recording's 1.4 MB, all zero in a
// process with few threads; an exporter reading a thousand recordings every few seconds copies
// the rest only. What comes back is a private copy with the whole file's layout, which
// parse_recording() checks like any other.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vdsotrace::tools {

class LiveReader {
public:
    // Same contract as read_recording_file() (segment_reader.h): a regular file, owned by the
    // caller unless `allow_other_users`, at most format::kMaxSegmentSize. The bytes stay valid
    // until the next read.
    const std::vector<unsigned char>* read(const std::string& path, std::string* error, bool allow_other_users);

private:
    void copy(int fd, uint64_t offset, uint64_t size);

    // One buffer for every recording, all zero but for the ranges the last read wrote: zeroing
    // those (tens of KB) is cheaper than zeroing the whole layout each time.
    std::vector<unsigned char> bytes_;
    std::vector<std::pair<uint64_t, uint64_t>> written_;
};

}  // namespace vdsotrace::tools
