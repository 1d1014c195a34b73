#include "tools/recordings/recording_archive.h"
#include "tracer/common/path_name.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
    uint32_t reserved;
    uint64_t image_size;
};
static_assert(sizeof(EntryHeader) == 16);

constexpr uint32_t kNameMax = 4096;

}  // namespace

std::optional<uint64_t> write_archive(const std::vector<std::string>& files,
                                      const std::vector<std::pair<std::string, std::string>>& extra,
                                      const ArchiveSink& sink, std::string* error) {
    // The kept perf maps (few, and text) are read first: the header counts the entries.
    std::vector<std::pair<std::string, std::vector<unsigned char>>> maps;
    for (const std::string& f : files) {
        std::ifstream map(kept_perf_map_path(f), std::ios::binary);
        if (!map) continue;
        std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(map)), std::istreambuf_iterator<char>());
        maps.emplace_back(base_name(f) + kPerfMapEntrySuffix, std::move(bytes));
    }
    uint64_t written = 0;
    bool refused = false;
    auto put = [&](const void* p, size_t n) {
        if (refused) return false;
        if (n > 0 && !sink(static_cast<const unsigned char*>(p), n)) {
            refused = true;
            if (error->empty()) *error = "the archive could not be written";
            return false;
        }
        written += n;
        return true;
    };
    auto put_entry = [&](const std::string& name, const unsigned char* image, size_t size) {
        EntryHeader e{uint32_t(name.size()), 0, size};
        return put(&e, sizeof e) && put(name.data(), name.size()) && put(image, size);
    };
    ArchiveHeader h{};
    memcpy(h.magic, kArchiveMagic, sizeof h.magic);
    h.major = kArchiveMajor;
    h.minor = kArchiveMinor;
    h.byte_order = format::kByteOrderMark;
    h.count = uint32_t(files.size() + maps.size() + extra.size());
    if (!put(&h, sizeof h)) return std::nullopt;
    std::vector<unsigned char> bytes;  // one image at a time, its pages reused by the next
    for (const std::string& f : files) {
        if (!read_recording_file(f, &bytes, error)) return std::nullopt;
        if (!put_entry(base_name(f), bytes.data(), bytes.size())) return std::nullopt;
    }
    for (const auto& [name, text] : maps)
        if (!put_entry(name, text.data(), text.size())) return std::nullopt;
    for (const auto& [name, text] : extra)
        if (!put_entry(name, reinterpret_cast<const unsigned char*>(text.data()), text.size())) return std::nullopt;
    return written;
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
                                                    std::string* error) {
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
    if (h.major != kArchiveMajor) {
        *error = fmt::format("{}: archive version {}.{} is not compatible with this vdsotrace, which reads {}.x",
                             source, h.major, h.minor, kArchiveMajor);
        return std::nullopt;
    }
    if (h.count == 0 || h.count > kArchiveMaxEntries) {
        *error = fmt::format("{}: the archive lists {} recordings: corrupt", source, h.count);
        return std::nullopt;
    }
    std::vector<Recording> out;
    std::vector<std::string> out_names;
    std::vector<std::pair<std::string, std::string>> maps;  // recording name, perf map text
    std::shared_ptr<SymbolTable> symbols;
    size_t at = sizeof h;
    for (uint32_t i = 0; i < h.count; ++i) {
        EntryHeader e{};
        if (bytes.size() - at < sizeof e) {
            *error = fmt::format("{}: the archive ends inside entry {} of {}: truncated", source, i + 1, h.count);
            return std::nullopt;
        }
        memcpy(&e, bytes.data() + at, sizeof e);
        at += sizeof e;
        if (e.name_size > kNameMax || e.name_size > bytes.size() - at ||
            e.image_size > bytes.size() - at - e.name_size) {
            *error = fmt::format("{}: entry {} of {} ({}-byte name, {}-byte recording) runs past the end of the "
                                 "file: truncated or corrupt",
                                 source, i + 1, h.count, e.name_size, e.image_size);
            return std::nullopt;
        }
        const std::string name(reinterpret_cast<const char*>(bytes.data() + at), e.name_size);
        at += e.name_size;
        std::vector<unsigned char> image(bytes.begin() + long(at), bytes.begin() + long(at + e.image_size));
        at += e.image_size;
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
    if (at != bytes.size()) {
        *error = fmt::format("{}: {} bytes follow the last recording: corrupt", source, bytes.size() - at);
        return std::nullopt;
    }
    return out;
}

std::optional<std::vector<Recording>> load_recordings(const std::string& path, std::string* error,
                                                      bool allow_other_users) {
    // One buffer for every file this thread reads: a live segment is ~124 KiB, and a fresh one for
    // each of a session's 200 recordings cost 31 page faults and a memset apiece (issue 14's loop).
    thread_local std::vector<unsigned char> bytes;
    if (!read_recording_file(path, &bytes, error, allow_other_users)) return std::nullopt;
    if (is_recording_file(bytes)) return parse_recording_file(bytes, path, error);
    if (is_archive(bytes)) return parse_archive(bytes, path, error);
    std::string why;
    auto r = parse_recording(bytes, path, &why);
    if (!r) {
        *error = fmt::format("{}: {}", path, why);
        return std::nullopt;
    }
    r->perf_map = load_perf_map(*r);
    return std::vector<Recording>{std::move(*r)};
}

}  // namespace vdsotrace::tools
