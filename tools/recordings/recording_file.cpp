#include "tools/recordings/recording_file.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <zstd.h>

#include "tools/recordings/recording_archive.h"
#include "tools/recordings/recording_stream.h"
#include "tools/symbols/symbol_table.h"
#include "tracer/common/path_name.h"

namespace vdsotrace::tools {

namespace {

// The most a reader reserves up front for a payload (beyond it the buffer grows as it fills).
constexpr uint64_t kReservedPayload = uint64_t(256) << 20;

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
    // The same writer `run` feeds while the program runs (recording_stream.h), here in one go.
    auto stream = RecordingStream::create(path, error);
    if (!stream) return false;
    std::vector<std::string> segment_files;
    for (const SegmentImage& image : images) segment_files.push_back(image.path);
    return finish_recording_file(stream.get(), images, segment_files, symbols, error, size);
}

bool finish_recording_file(RecordingStream* stream, const std::vector<SegmentImage>& images,
                           const std::vector<std::string>& segment_files, const SymbolTable* symbols,
                           std::string* error, uint64_t* size) {
    for (const SegmentImage& image : images)
        if (!stream->add_image(image, error)) return false;
    for (const std::string& f : segment_files)
        if (!stream->add_kept_perf_map(f, error)) return false;
    if (symbols != nullptr && !stream->add_entry(kSymbolsEntry, symbols->to_json(), error)) return false;
    return stream->finish(size, error);
}

bool is_recording_file(const std::vector<unsigned char>& bytes) {
    return bytes.size() >= sizeof kRecordingFileMagic &&
           memcmp(bytes.data(), kRecordingFileMagic, sizeof kRecordingFileMagic) == 0;
}

std::optional<std::vector<Recording>> parse_recording_file(const std::vector<unsigned char>& bytes,
                                                           const std::string& source, std::string* error,
                                                           uint64_t max_payload, std::string* warning) {
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
    if (h.major < kRecordingFileOldestMajor || h.major > kRecordingFileMajor) {
        *error = fmt::format("{}: recording file version {}.{} is not compatible with this vdsotrace, which reads "
                             "{}.x to {}.x",
                             source, h.major, h.minor, kRecordingFileOldestMajor, kRecordingFileMajor);
        return std::nullopt;
    }
    // Major 2 writes 0 until the file is finished (and for good to a pipe): the size is unknown.
    const bool size_known = h.major < 2 || h.payload_size != 0;
    if ((size_known && h.payload_size == 0) || h.payload_size > max_payload) {
        *error = fmt::format("{}: the recording says it holds {} bytes: corrupt", source, h.payload_size);
        return std::nullopt;
    }
    const uint64_t most = size_known ? h.payload_size : max_payload;
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
    payload.reserve(size_t(std::min<uint64_t>(size_known ? h.payload_size : (bytes.size() - sizeof h) * 8,
                                              kReservedPayload)));
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
        if (payload.size() > most) {
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
    if (!size_known && !too_big && ret != 0 && in.pos == in.size) {
        // A run that ended before finishing its file: every entry it wrote ended a zstd block,
        // so what came out holds them whole but for a cut last one.
        std::string why;
        auto recovered = parse_archive(payload, source, &why, true);
        if (!recovered) {
            *error = fmt::format("{}: unfinished recording (the run ended before writing it whole) without a whole "
                                 "process in it",
                                 source);
            return std::nullopt;
        }
        if (warning != nullptr)
            *warning = fmt::format("{}: unfinished recording (the run ended before writing it whole): read the {} "
                                   "process{} it holds",
                                   source, recovered->size(), recovered->size() == 1 ? "" : "es");
        return recovered;
    }
    if (too_big || ret != 0 || (size_known && payload.size() != h.payload_size) || in.pos != in.size) {
        *error = fmt::format("{}: the compressed recording is truncated or corrupt ({} of {} bytes, {} bytes after the "
                             "frame)",
                             source, payload.size(), size_known ? std::to_string(h.payload_size) : "unknown",
                             in.size - in.pos);
        return std::nullopt;
    }
    return parse_archive(payload, source, error);
}

}  // namespace vdsotrace::tools
