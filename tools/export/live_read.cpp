#include "tools/export/live_read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "tracer/format/segment_format.h"

namespace vdsotrace::tools {

namespace f = vdsotrace::format;

// Copies [offset, offset + size) of the file, clipped to it.
void LiveReader::copy(int fd, uint64_t offset, uint64_t size) {
    if (offset >= bytes_.size()) return;
    size = std::min<uint64_t>(size, bytes_.size() - offset);
    written_.emplace_back(offset, size);
    for (uint64_t got = 0; got < size;) {
        const ssize_t n = pread(fd, bytes_.data() + offset + got, size - got, off_t(offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // shorter than it said: the parser finds the zeros
        got += uint64_t(n);
    }
}

const std::vector<unsigned char>* LiveReader::read(const std::string& path, std::string* error,
                                                   bool allow_other_users) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0) {
        *error = fmt::format("cannot open {}: {}", path, strerror(errno));
        return nullptr;
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || uint64_t(st.st_size) > f::kMaxSegmentSize ||
        (st.st_uid != getuid() && !allow_other_users)) {
        close(fd);
        *error = fmt::format("{}: not a regular file of this user's, or too large", path);
        return nullptr;
    }
    for (const auto& [offset, size] : written_)
        if (offset < bytes_.size()) memset(bytes_.data() + offset, 0, std::min<uint64_t>(size, bytes_.size() - offset));
    written_.clear();
    bytes_.resize(size_t(st.st_size));  // grows with zeros

    f::Header h{};
    copy(fd, 0, sizeof h);
    if (bytes_.size() >= sizeof h) memcpy(&h, bytes_.data(), sizeof h);
    const uint32_t sections = std::min<uint32_t>(h.section_count, f::kMaxSections);
    for (uint32_t i = 0; i < sections; ++i) {
        const f::SectionEntry& s = h.sections[i];
        const uint64_t whole = uint64_t(s.entry_size) * s.count;
        if (s.entry_size == 0 || s.count == 0 || whole / s.entry_size != s.count) {
            copy(fd, s.offset, whole);  // odd: copied as it is, for the parser to judge
            continue;
        }
        switch (s.kind) {
            case f::kSectionThreads:
            case f::kSectionSampleSlots:
                // Slots handed out, then the shared overflow slot at the end.
                if (h.threads_claimed < s.count - 1) {  // (count > 0: `whole` is not 0 here unless entry_size is)
                    copy(fd, s.offset, h.threads_claimed * s.entry_size);
                    copy(fd, s.offset + (s.count - 1) * uint64_t(s.entry_size), s.entry_size);
                    break;
                }
                copy(fd, s.offset, whole);
                break;
            case f::kSectionModules: copy(fd, s.offset, std::min<uint64_t>(h.modules_claimed, s.count) * s.entry_size); break;
            case f::kSectionThreadLog:
                copy(fd, s.offset, std::min<uint64_t>(h.tree.threads_logged, s.count) * s.entry_size);
                break;
            default: copy(fd, s.offset, whole);
        }
    }
    close(fd);
    return &bytes_;
}

}  // namespace vdsotrace::tools
