#include "tools/recordings/recording_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <memory>

#include <fmt/format.h>
#include <zstd.h>

#include "tools/recordings/recording_archive.h"
#include "tools/symbols/symbol_table.h"

namespace vdsotrace::tools {

namespace {

// Level 3 (zstd's default): a 10 MB session of mostly empty tables compresses to a few dozen KB
// in milliseconds; higher levels gain little on such data and cost the end of every run.
constexpr int kCompressionLevel = 3;
// The most a reader reserves up front for a payload (beyond it the buffer grows as it fills).
constexpr uint64_t kReservedPayload = uint64_t(256) << 20;

std::string base_name(const std::string& p) {
    const size_t s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

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

}  // namespace

std::string recording_file_name(const std::string& program, const std::string& session) {
    std::string name = base_name(program);
    for (char& c : name)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '+' || c == '-'))
            c = '_';
    if (name.empty() || name[0] == '.') name = "program" + name;
    return fmt::format("vdsotrace.{}.{}{}", name, session, kRecordingFileExtension);
}

bool write_recording_file(const std::vector<std::string>& segment_files, const SymbolTable* symbols,
                          const std::string& path, std::string* error, uint64_t* size) {
    const auto images = read_segment_images(segment_files, error);
    return images && write_recording_file(*images, symbols, path, error, size);
}

bool write_recording_file(const std::vector<SegmentImage>& images, const SymbolTable* symbols,
                          const std::string& path, std::string* error, uint64_t* size) {
    std::vector<std::pair<std::string, std::string>> extra;
    if (symbols != nullptr) extra.emplace_back(kSymbolsEntry, symbols->to_json());
    // The archive is compressed as it is made (recording_archive.h): the output, a few dozen KB
    // for a session of mostly empty tables, is all that is held.
    std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
    if (!cctx || ZSTD_isError(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, kCompressionLevel))) {
        *error = "cannot compress the recording: zstd could not start";
        return false;
    }
    std::vector<unsigned char> out(sizeof(RecordingFileHeader));
    std::vector<unsigned char> chunk(ZSTD_CStreamOutSize());
    auto compress = [&](const unsigned char* p, size_t n, ZSTD_EndDirective how) {
        ZSTD_inBuffer in{p, n, 0};
        for (;;) {
            ZSTD_outBuffer o{chunk.data(), chunk.size(), 0};
            const size_t left = ZSTD_compressStream2(cctx.get(), &o, &in, how);
            out.insert(out.end(), chunk.data(), chunk.data() + o.pos);
            if (ZSTD_isError(left)) {
                *error = fmt::format("cannot compress the recording: {}", ZSTD_getErrorName(left));
                return false;
            }
            if (how == ZSTD_e_end ? left == 0 : in.pos == in.size) return true;
        }
    };
    const auto payload_size = write_archive(
        images, extra,
        [&](const unsigned char* p, size_t n) { return compress(p, n, ZSTD_e_continue); }, error);
    if (!payload_size || !compress(nullptr, 0, ZSTD_e_end)) return false;
    RecordingFileHeader h{};
    memcpy(h.magic, kRecordingFileMagic, sizeof h.magic);
    h.major = kRecordingFileMajor;
    h.minor = kRecordingFileMinor;
    h.byte_order = format::kByteOrderMark;
    h.payload_size = *payload_size;
    memcpy(out.data(), &h, sizeof h);

    if (path == "-") {  // standard output
        if (!write_all(STDOUT_FILENO, out.data(), out.size())) {
            *error = fmt::format("cannot write the recording to standard output: {}", strerror(errno));
            return false;
        }
        if (size) *size = out.size();
        return true;
    }
    // A regular file (or a new one) is written beside its place and renamed; anything else
    // (/dev/null, a FIFO) is written in place.
    struct stat st {};
    const bool in_place = ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
    const std::string target = in_place ? path : path + ".partial";
    const int fd = in_place ? ::open(target.c_str(), O_WRONLY | O_CLOEXEC)
                            : ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        *error = fmt::format("cannot write {}: {}", target, strerror(errno));
        return false;
    }
    if (!in_place) ::fchmod(fd, 0600);  // an existing .partial keeps its old mode otherwise
    const bool written = write_all(fd, out.data(), out.size());
    const int saved_errno = errno;
    if (::close(fd) != 0 || !written || (!in_place && std::rename(target.c_str(), path.c_str()) != 0)) {
        const int e = written ? errno : saved_errno;
        if (!in_place) std::remove(target.c_str());
        *error = fmt::format("cannot write {}: {}", path, strerror(e));
        return false;
    }
    if (size) *size = out.size();
    return true;
}

bool is_recording_file(const std::vector<unsigned char>& bytes) {
    return bytes.size() >= sizeof kRecordingFileMagic &&
           memcmp(bytes.data(), kRecordingFileMagic, sizeof kRecordingFileMagic) == 0;
}

std::optional<std::vector<Recording>> parse_recording_file(const std::vector<unsigned char>& bytes,
                                                           const std::string& source, std::string* error,
                                                           uint64_t max_payload) {
    RecordingFileHeader h{};
    if (!is_recording_file(bytes)) {
        *error = fmt::format("{}: not a vdsotrace recording", source);
        return std::nullopt;
    }
    if (bytes.size() < sizeof h) {
        *error = fmt::format("{}: the recording ends inside its header: truncated", source);
        return std::nullopt;
    }
    memcpy(&h, bytes.data(), sizeof h);
    if (h.byte_order != format::kByteOrderMark) {
        *error = h.byte_order == __builtin_bswap32(format::kByteOrderMark)
                     ? fmt::format("{}: the recording was written on a machine of the other byte order", source)
                     : fmt::format("{}: the recording's header is corrupt", source);
        return std::nullopt;
    }
    if (h.major != kRecordingFileMajor) {
        *error = fmt::format("{}: recording file version {}.{} is not compatible with this vdsotrace, which reads {}.x",
                             source, h.major, h.minor, kRecordingFileMajor);
        return std::nullopt;
    }
    if (h.payload_size == 0 || h.payload_size > max_payload) {
        *error = fmt::format("{}: the recording says it holds {} bytes: corrupt", source, h.payload_size);
        return std::nullopt;
    }
    // Streamed into a buffer that grows with what really comes out: a header claiming gigabytes
    // costs nothing unless the frame delivers them.
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    if (dctx == nullptr) {
        *error = fmt::format("{}: out of memory", source);
        return std::nullopt;
    }
    std::vector<unsigned char> payload;
    // Room for what the header announces, up to a bound: growing chunk by chunk copied the whole
    // payload at every doubling (a third of `report`'s time on the demo's file).
    payload.reserve(size_t(std::min<uint64_t>(h.payload_size, kReservedPayload)));
    ZSTD_inBuffer in{bytes.data() + sizeof h, bytes.size() - sizeof h, 0};
    size_t ret = 0;
    bool too_big = false;
    for (;;) {
        const size_t chunk = ZSTD_DStreamOutSize();
        const size_t used = payload.size();
        payload.resize(used + chunk);
        ZSTD_outBuffer out{payload.data() + used, chunk, 0};
        ret = ZSTD_decompressStream(dctx, &out, &in);
        payload.resize(used + out.pos);
        if (ZSTD_isError(ret)) break;
        if (payload.size() > h.payload_size) {
            too_big = true;
            break;
        }
        if (ret == 0) break;                               // the frame is complete
        if (in.pos == in.size && out.pos < chunk) break;  // input used up mid-frame
    }
    ZSTD_freeDCtx(dctx);
    if (ZSTD_isError(ret)) {
        *error = fmt::format("{}: the compressed recording is damaged ({})", source, ZSTD_getErrorName(ret));
        return std::nullopt;
    }
    if (too_big || ret != 0 || payload.size() != h.payload_size || in.pos != in.size) {
        *error = fmt::format("{}: the compressed recording is truncated or corrupt ({} of {} bytes, {} bytes after the "
                             "frame)",
                             source, payload.size(), h.payload_size, in.size - in.pos);
        return std::nullopt;
    }
    return parse_archive(payload, source, error);
}

}  // namespace vdsotrace::tools
