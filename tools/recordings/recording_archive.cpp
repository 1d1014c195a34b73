#include "tools/recordings/recording_archive.h"
#include "tracer/common/path_name.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "tools/recordings/jit_symbols.h"
#include "tools/recordings/recording_file.h"
#include "tools/symbols/symbol_table.h"

namespace vdsotrace::tools {

namespace {

struct ArchiveHeader {
    char magic[8];
    uint16_t major;
    uint16_t minor;
    uint32_t byte_order;
    uint32_t count;
    uint32_t reserved;
};
static_assert(sizeof(ArchiveHeader) == 24);

struct EntryHeader {
    uint32_t name_size;
    uint32_t flags;  // kEntryZeroPagesLeftOut (major 2); zero in major 1
    uint64_t image_size;
};
static_assert(sizeof(EntryHeader) == 16);

constexpr uint32_t kNameMax = 4096;

// Compared with a page of zeros by libc's vectorised memcmp: a word-by-word loop was half of the
// packing's time (most of a segment's pages are zeros, each read to its end).
bool page_is_zero(const unsigned char* p, size_t n) {
    static const unsigned char kZeros[kArchivePageSize] = {};
    return memcmp(p, kZeros, n) == 0;
}

size_t page_count(uint64_t size) { return size_t((size + kArchivePageSize - 1) / kArchivePageSize); }

size_t page_length(uint64_t size, size_t page) {
    return size_t(std::min<uint64_t>(kArchivePageSize, size - uint64_t(page) * kArchivePageSize));
}

// The page bitmap of an image of `size` bytes: its length, and whether page `i` is kept.
size_t bitmap_bytes(uint64_t size) { return (page_count(size) + 7) / 8; }
bool page_kept(const unsigned char* bitmap, size_t i) { return (bitmap[i / 8] & (1u << (i % 8))) != 0; }

// The bytes a packed entry of an image of `size` bytes takes (its bitmap and kept pages), read
// from the bitmap at `p` with `room` bytes left in the archive; UINT64_MAX when not even the
// bitmap fits or no segment is that large.
uint64_t packed_size(const unsigned char* p, uint64_t room, uint64_t size) {
    if (size > format::kMaxSegmentSize) return UINT64_MAX;
    const size_t bitmap = bitmap_bytes(size);
    if (bitmap > room) return UINT64_MAX;
    uint64_t kept = 0;
    for (size_t i = 0; i < page_count(size); ++i)
        if (page_kept(p, i)) kept += page_length(size, i);
    return bitmap + kept;
}

// A live segment's recording from its bytes, with its kept or live perf map; nullopt and a
// message naming `path` when it does not parse.
std::optional<Recording> segment_recording(const std::vector<unsigned char>& bytes, const std::string& path,
                                           std::string* error) {
    std::string why;
    auto r = parse_recording(bytes, path, &why);
    if (!r) {
        *error = fmt::format("{}: {}", path, why);
        return std::nullopt;
    }
    r->perf_map = load_perf_map(*r);
    return r;
}

}  // namespace

SegmentImage pack_segment_image(const std::string& path, const std::vector<unsigned char>& bytes) {
    SegmentImage image;
    image.path = path;
    image.size = bytes.size();
    const size_t pages = page_count(bytes.size());
    const size_t bitmap = bitmap_bytes(bytes.size());
    // The bitmap first, then one allocation of the exact size: grown page by page, the vector's
    // reallocations and their fresh pages were most of the packing's cost.
    std::vector<unsigned char> kept_pages(bitmap, 0);
    for (size_t i = 0; i < pages; ++i)
        if (!page_is_zero(bytes.data() + i * kArchivePageSize, page_length(bytes.size(), i)))
            kept_pages[i / 8] |= uint8_t(1u << (i % 8));
    image.packed.resize(size_t(packed_size(kept_pages.data(), bitmap, bytes.size())));
    memcpy(image.packed.data(), kept_pages.data(), bitmap);
    unsigned char* to = image.packed.data() + bitmap;
    for (size_t i = 0; i < pages; ++i) {
        if (!page_kept(kept_pages.data(), i)) continue;
        const size_t n = page_length(bytes.size(), i);
        memcpy(to, bytes.data() + i * kArchivePageSize, n);
        to += n;
    }
    return image;
}

bool unpack_segment_image(const unsigned char* packed, size_t packed_bytes, uint64_t size,
                          std::vector<unsigned char>* image) {
    if (packed_size(packed, packed_bytes, size) != packed_bytes) return false;
    image->assign(size_t(size), 0);
    const unsigned char* from = packed + bitmap_bytes(size);
    for (size_t i = 0; i < page_count(size); ++i) {
        if (!page_kept(packed, i)) continue;
        const size_t n = page_length(size, i);
        memcpy(image->data() + i * kArchivePageSize, from, n);
        from += n;
    }
    return true;
}

std::optional<std::vector<SegmentImage>> read_segment_images(const std::vector<std::string>& files,
                                                             std::string* error) {
    std::vector<SegmentImage> images;
    std::vector<unsigned char> bytes;  // one file at a time
    for (const std::string& f : files) {
        if (!read_recording_file(f, &bytes, error)) return std::nullopt;
        images.push_back(pack_segment_image(f, bytes));
    }
    return images;
}

bool write_archive_header(uint32_t count, const ArchiveSink& sink) {
    ArchiveHeader h{};
    memcpy(h.magic, kArchiveMagic, sizeof h.magic);
    h.major = kArchiveMajor;
    h.minor = kArchiveMinor;
    h.byte_order = format::kByteOrderMark;
    h.count = count;
    return sink(reinterpret_cast<const unsigned char*>(&h), sizeof h);
}

bool write_archive_entry(const std::string& name, uint32_t flags, uint64_t image_size, const unsigned char* bytes,
                         size_t n, const ArchiveSink& sink) {
    const EntryHeader e{uint32_t(name.size()), flags, image_size};
    return sink(reinterpret_cast<const unsigned char*>(&e), sizeof e) &&
           sink(reinterpret_cast<const unsigned char*>(name.data()), name.size()) && (n == 0 || sink(bytes, n));
}

bool write_image_entry(const SegmentImage& image, const ArchiveSink& sink) {
    return write_archive_entry(base_name(image.path), kEntryZeroPagesLeftOut, image.size, image.packed.data(),
                               image.packed.size(), sink);
}

std::optional<std::vector<unsigned char>> read_kept_perf_map(const std::string& segment_path) {
    std::ifstream map(kept_perf_map_path(segment_path), std::ios::binary);
    if (!map) return std::nullopt;
    return std::vector<unsigned char>((std::istreambuf_iterator<char>(map)), std::istreambuf_iterator<char>());
}

std::string perf_map_entry_name(const std::string& segment_path) {
    return base_name(segment_path) + kPerfMapEntrySuffix;
}

std::optional<uint64_t> write_archive(const std::vector<SegmentImage>& images,
                                      const std::vector<std::pair<std::string, std::string>>& extra,
                                      const ArchiveSink& sink, std::string* error) {
    // The kept perf maps (few, and text) are read first: the header counts the entries.
    std::vector<std::pair<std::string, std::vector<unsigned char>>> maps;
    for (const SegmentImage& image : images)
        if (auto text = read_kept_perf_map(image.path))
            maps.emplace_back(perf_map_entry_name(image.path), std::move(*text));
    uint64_t written = 0;
    const ArchiveSink counted = [&](const unsigned char* p, size_t n) {
        if (n > 0 && !sink(p, n)) {
            if (error->empty()) *error = "the archive could not be written";
            return false;
        }
        written += n;
        return true;
    };
    if (!write_archive_header(uint32_t(images.size() + maps.size() + extra.size()), counted)) return std::nullopt;
    for (const SegmentImage& image : images)
        if (!write_image_entry(image, counted)) return std::nullopt;
    for (const auto& [name, text] : maps)
        if (!write_archive_entry(name, 0, text.size(), text.data(), text.size(), counted)) return std::nullopt;
    for (const auto& [name, text] : extra)
        if (!write_archive_entry(name, 0, text.size(), reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size(), counted))
            return std::nullopt;
    return written;
}

std::optional<uint64_t> write_archive(const std::vector<std::string>& files,
                                      const std::vector<std::pair<std::string, std::string>>& extra,
                                      const ArchiveSink& sink, std::string* error) {
    const auto images = read_segment_images(files, error);
    if (!images) return std::nullopt;
    return write_archive(*images, extra, sink, error);
}

std::optional<std::vector<unsigned char>> archive_bytes(const std::vector<std::string>& files,
                                                        const std::vector<std::pair<std::string, std::string>>& extra,
                                                        std::string* error) {
    std::vector<unsigned char> out;
    const auto size = write_archive(
        files, extra,
        [&out](const unsigned char* p, size_t n) {
            out.insert(out.end(), p, p + n);
            return true;
        },
        error);
    if (!size) return std::nullopt;
    return out;
}

bool is_archive(const std::vector<unsigned char>& bytes) {
    return bytes.size() >= sizeof kArchiveMagic && memcmp(bytes.data(), kArchiveMagic, sizeof kArchiveMagic) == 0;
}

std::optional<std::vector<Recording>> parse_archive(const std::vector<unsigned char>& bytes, const std::string& source,
                                                    std::string* error, bool unfinished) {
    ArchiveHeader h{};
    if (bytes.size() < sizeof h || !is_archive(bytes)) {
        *error = fmt::format("{}: not a vdsotrace archive", source);
        return std::nullopt;
    }
    memcpy(&h, bytes.data(), sizeof h);
    if (h.byte_order != format::kByteOrderMark) {
        *error = fmt::format("{}: the archive was written on a machine of the other byte order", source);
        return std::nullopt;
    }
    if (h.major < kArchiveOldestMajor || h.major > kArchiveMajor) {
        *error = fmt::format("{}: archive version {}.{} is not compatible with this vdsotrace, which reads {}.x to {}.x",
                             source, h.major, h.minor, kArchiveOldestMajor, kArchiveMajor);
        return std::nullopt;
    }
    // Entries up to the end: an archive written as the run went (minor 3), or what a run that
    // ended early left of one.
    const bool to_the_end = h.count == kArchiveCountUntilEnd && (h.major > 2 || (h.major == 2 && h.minor >= 3));
    if (!to_the_end && (h.count == 0 || h.count > kArchiveMaxEntries)) {
        *error = fmt::format("{}: the archive lists {} recordings: corrupt", source, h.count);
        return std::nullopt;
    }
    const std::string of_count = to_the_end ? std::string() : fmt::format(" of {}", h.count);
    std::vector<Recording> out;
    std::vector<std::string> out_names;
    std::vector<std::pair<std::string, std::string>> maps;  // recording name, perf map text
    std::shared_ptr<SymbolTable> symbols;
    size_t at = sizeof h;
    for (uint32_t i = 0; to_the_end ? at < bytes.size() && i < kArchiveMaxEntries : i < h.count; ++i) {
        EntryHeader e{};
        if (bytes.size() - at < sizeof e) {
            if (unfinished) break;  // cut inside the last entry: the whole ones are what there is
            *error = fmt::format("{}: the archive ends inside entry {}{}: truncated", source, i + 1, of_count);
            return std::nullopt;
        }
        memcpy(&e, bytes.data() + at, sizeof e);
        at += sizeof e;
        const bool packed = h.major >= 2 && (e.flags & kEntryZeroPagesLeftOut) != 0;
        const uint64_t room = e.name_size <= bytes.size() - at ? bytes.size() - at - e.name_size : 0;
        const uint64_t stored = e.name_size > kNameMax || e.name_size > bytes.size() - at ? UINT64_MAX
                                : packed ? packed_size(bytes.data() + at + e.name_size, room, e.image_size)
                                         : e.image_size;
        if (stored > room) {
            if (unfinished && e.name_size <= kNameMax) break;  // the cut entry
            *error = fmt::format("{}: entry {}{} ({}-byte name, {}-byte recording) runs past the end of the "
                                 "file: truncated or corrupt",
                                 source, i + 1, of_count, e.name_size, e.image_size);
            return std::nullopt;
        }
        const std::string name(reinterpret_cast<const char*>(bytes.data() + at), e.name_size);
        at += e.name_size;
        std::vector<unsigned char> image;
        if (!packed)
            image.assign(bytes.begin() + long(at), bytes.begin() + long(at + stored));
        else if (!unpack_segment_image(bytes.data() + at, size_t(stored), e.image_size, &image)) {
            *error = fmt::format("{}: entry {}{} ({}) does not unpack: corrupt", source, i + 1, of_count, name);
            return std::nullopt;
        }
        at += stored;
        const size_t suffix = sizeof kPerfMapEntrySuffix - 1;
        if (name.size() > suffix && name.compare(name.size() - suffix, suffix, kPerfMapEntrySuffix) == 0) {
            maps.emplace_back(name.substr(0, name.size() - suffix), std::string(image.begin(), image.end()));
            continue;
        }
        if (name == kSymbolsEntry) {
            std::string why;
            symbols = SymbolTable::from_json(std::string(image.begin(), image.end()), &why);
            if (!symbols) {
                *error = fmt::format("{}: {}", source, why);
                return std::nullopt;
            }
            continue;
        }
        std::string why;
        const std::string where = fmt::format("{}:{}", source, name);
        auto r = parse_recording(image, where, &why);
        if (!r) {
            *error = fmt::format("{}: {}", where, why);
            return std::nullopt;
        }
        out.push_back(std::move(*r));
        out_names.push_back(name);
    }
    for (const auto& [name, text] : maps)
        for (size_t i = 0; i < out.size(); ++i)
            if (out_names[i] == name) out[i].perf_map = perf_map_from_text(text);
    for (Recording& r : out) r.symbols = symbols;
    if (out.empty()) {
        *error = fmt::format("{}: the archive holds no recording", source);
        return std::nullopt;
    }
    if (at != bytes.size() && !unfinished) {
        *error = fmt::format("{}: {} bytes follow the last recording: corrupt", source, bytes.size() - at);
        return std::nullopt;
    }
    return out;
}

std::optional<std::vector<Recording>> load_recordings(const std::string& path, std::string* error,
                                                      bool allow_other_users, std::string* warning) {
    // One buffer for every file this thread reads: a live segment is ~124 KiB, and a fresh one for
    // each of a session's 200 recordings cost 31 page faults and a memset apiece (issue 14's loop).
    thread_local std::vector<unsigned char> bytes;
    if (!read_recording_file(path, &bytes, error, allow_other_users)) return std::nullopt;
    if (is_recording_file(bytes)) return parse_recording_file(bytes, path, error, kRecordingFileMaxPayload, warning);
    if (is_archive(bytes)) return parse_archive(bytes, path, error);
    auto r = segment_recording(bytes, path, error);
    if (!r) return std::nullopt;
    std::vector<Recording> out;  // not {std::move(*r)}: an initializer list copies the recording
    out.push_back(std::move(*r));
    return out;
}

std::optional<Recording> load_segment_keeping_image(const std::string& path, std::string* error,
                                                    bool allow_other_users, SegmentImage* image) {
    thread_local std::vector<unsigned char> bytes;  // reused, as in load_recordings
    if (!read_recording_file(path, &bytes, error, allow_other_users)) return std::nullopt;
    auto r = segment_recording(bytes, path, error);
    if (r) *image = pack_segment_image(path, bytes);
    return r;
}

}  // namespace vdsotrace::tools
