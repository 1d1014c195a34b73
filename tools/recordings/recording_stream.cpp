#include "tools/recordings/recording_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <zstd.h>

#include "tools/recordings/recording_file.h"

namespace vdsotrace::tools {

namespace {

// Level 3 (zstd's default): a 10 MB session of mostly empty tables compresses to a few dozen KB
// in milliseconds; higher levels gain little on such data and cost every run.
constexpr int kCompressionLevel = 3;

bool write_all(int fd, const unsigned char* p, size_t n) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= size_t(w);
    }
    return true;
}

RecordingFileHeader file_header(uint64_t payload_size) {
    RecordingFileHeader h{};
    memcpy(h.magic, kRecordingFileMagic, sizeof h.magic);
    h.major = kRecordingFileMajor;
    h.minor = kRecordingFileMinor;
    h.byte_order = format::kByteOrderMark;
    h.payload_size = payload_size;
    return h;
}

}  // namespace

bool written_in_place(const std::string& path) {
    struct stat st {};
    return path == "-" || (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode));
}

std::unique_ptr<RecordingStream> RecordingStream::create(const std::string& path, std::string* error) {
    std::unique_ptr<RecordingStream> s(new RecordingStream());
    s->path_ = path;
    s->cctx_ = ZSTD_createCCtx();
    if (s->cctx_ == nullptr ||
        ZSTD_isError(ZSTD_CCtx_setParameter(s->cctx_, ZSTD_c_compressionLevel, kCompressionLevel))) {
        *error = "cannot compress the recording: zstd could not start";
        return nullptr;
    }
    s->chunk_.resize(ZSTD_CStreamOutSize());
    if (path == "-") {
        s->in_place_ = true;
        s->target_ = "standard output";
        s->fd_ = STDOUT_FILENO;
    } else {
        // A regular file (or a new one) is written beside its place and renamed; anything else
        // (/dev/null, a FIFO) is written in place.
        s->in_place_ = written_in_place(path);
        s->target_ = s->in_place_ ? path : path + ".partial";
        s->fd_ = s->in_place_ ? ::open(s->target_.c_str(), O_WRONLY | O_CLOEXEC)
                              : ::open(s->target_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (s->fd_ < 0) {
            *error = fmt::format("cannot write {}: {}", s->target_, strerror(errno));
            return nullptr;
        }
        if (!s->in_place_) ::fchmod(s->fd_, 0600);  // argv may hold secrets; an old .partial keeps its mode
    }
    const RecordingFileHeader h = file_header(0);  // 0: unfinished (or a stream whose size nobody knows)
    if (!write_all(s->fd_, reinterpret_cast<const unsigned char*>(&h), sizeof h)) {
        *error = fmt::format("cannot write {}: {}", s->target_, strerror(errno));
        return nullptr;
    }
    s->written_ = sizeof h;
    const bool started = write_archive_header(kArchiveCountUntilEnd, [&](const unsigned char* p, size_t n) {
        return s->feed(p, n, ZSTD_e_continue, error);
    });
    if (!started) return nullptr;
    return s;
}

RecordingStream::~RecordingStream() {
    if (fd_ >= 0 && fd_ != STDOUT_FILENO) ::close(fd_);
    if (!finished_ && !in_place_) ::unlink(target_.c_str());
    if (cctx_ != nullptr) ZSTD_freeCCtx(cctx_);
}

bool RecordingStream::feed(const unsigned char* p, size_t n, int how, std::string* error) {
    const auto directive = ZSTD_EndDirective(how);
    ZSTD_inBuffer in{p, n, 0};
    for (;;) {
        ZSTD_outBuffer out{chunk_.data(), chunk_.size(), 0};
        const size_t left = ZSTD_compressStream2(cctx_, &out, &in, directive);
        if (ZSTD_isError(left)) {
            *error = fmt::format("cannot compress the recording: {}", ZSTD_getErrorName(left));
            return false;
        }
        if (out.pos > 0 && !write_all(fd_, chunk_.data(), out.pos)) {
            *error = fmt::format("cannot write {}: {}", target_, strerror(errno));
            return false;
        }
        written_ += out.pos;
        if (directive == ZSTD_e_continue ? in.pos == in.size : left == 0) break;
    }
    if (directive == ZSTD_e_continue) payload_ += n;
    return true;
}

bool RecordingStream::add(const std::function<bool(const ArchiveSink&)>& write, std::string* error) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failed_ || finished_) {
        *error = fmt::format("the recording {} could not be written", target_);
        return false;
    }
    const bool ok = write([&](const unsigned char* p, size_t n) { return feed(p, n, ZSTD_e_continue, error); }) &&
                    feed(nullptr, 0, ZSTD_e_flush, error);  // in the file now, whole
    if (ok)
        ++entries_;
    else
        failed_ = true;
    return ok;
}

bool RecordingStream::add_image(const SegmentImage& image, std::string* error) {
    return add([&](const ArchiveSink& sink) { return write_image_entry(image, sink); }, error);
}

bool RecordingStream::add_kept_perf_map(const std::string& segment_path, std::string* error) {
    const auto text = read_kept_perf_map(segment_path);
    if (!text) return true;  // most processes have none: no entry, and no flush of nothing
    return add(
        [&](const ArchiveSink& sink) {
            return write_archive_entry(perf_map_entry_name(segment_path), 0, text->size(), text->data(), text->size(),
                                       sink);
        },
        error);
}

bool RecordingStream::add_entry(const std::string& name, const std::string& bytes, std::string* error) {
    return add(
        [&](const ArchiveSink& sink) {
            return write_archive_entry(name, 0, bytes.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                                       bytes.size(), sink);
        },
        error);
}

bool RecordingStream::finish(uint64_t* size, std::string* error) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failed_ || finished_ || !feed(nullptr, 0, ZSTD_e_end, error)) {
        failed_ = true;
        if (error->empty()) *error = fmt::format("the recording {} could not be written", target_);
        return false;
    }
    if (!in_place_) {
        const RecordingFileHeader h = file_header(payload_);
        const bool header = ::pwrite(fd_, &h, sizeof h, 0) == ssize_t(sizeof h);
        const int saved_errno = errno;
        const bool closed = ::close(fd_) == 0;
        fd_ = -1;
        if (!header || !closed || std::rename(target_.c_str(), path_.c_str()) != 0) {
            *error = fmt::format("cannot write {}: {}", path_, strerror(header ? errno : saved_errno));
            failed_ = true;
            return false;
        }
    }
    finished_ = true;
    if (size) *size = written_;
    return true;
}

uint32_t RecordingStream::entries() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_;
}

}  // namespace vdsotrace::tools
