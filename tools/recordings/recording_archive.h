// The segment images of several processes in one sectioned byte string: the payload of a
// recording file (recordings/recording_file.h, compressed), and what `run --save` wrote before
// recording files existed (such files are still read).
//
// Layout (native byte order, like the segments it holds; byte_order tells):
//   "VDSOTARC" | u16 major | u16 minor | u32 byte_order | u32 count | u32 reserved
//   count times: u32 name_size | u32 flags | u64 image_size | name bytes | entry bytes
// where the entry bytes are the image itself, or (flags has kEntryZeroPagesLeftOut, major 2) a
// bitmap of the image's 4 KiB pages (bit i of byte i/8: page i is kept) followed by the kept
// pages in order, the last one as long as the image's tail: the pages that are all zeros are left
// out, as a live segment is mostly entries never used (the 200 processes of issue 14's shell loop
// are 25 MB of images, 6 MB of them not zeros; reading and compressing the zeros was a third of
// `run`'s own time at the end).
// Every size is checked against the file before it is used, and every image is then parsed and
// validated like a segment (segment_reader).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tools/recordings/segment_reader.h"

namespace vdsotrace::tools {

inline constexpr char kArchiveMagic[8] = {'V', 'D', 'S', 'O', 'T', 'A', 'R', 'C'};
// Major 2: entries may leave out their zero pages (kEntryZeroPagesLeftOut); major 1 archives
// (whose entries never do) are still read.
inline constexpr uint16_t kArchiveMajor = 2;
inline constexpr uint16_t kArchiveOldestMajor = 1;
// Minor 1: an entry named "<recording>.perf-map" holds that recording's kept perf map (text).
// Minor 2: an entry named "symbols.json" holds the names resolved at the end of the run, for all
// recordings (symbols/symbol_table.h).
// Minor 3: count may be kArchiveCountUntilEnd: the entries go on to the end of the archive (one
// written while the run goes on, which cannot know its count up front: recording_stream.h).
inline constexpr uint16_t kArchiveMinor = 3;
inline constexpr uint32_t kArchiveCountUntilEnd = 0xffffffffu;
inline constexpr char kPerfMapEntrySuffix[] = ".perf-map";
inline constexpr char kSymbolsEntry[] = "symbols.json";
inline constexpr uint32_t kArchiveMaxEntries = 1u << 20;
inline constexpr uint32_t kEntryZeroPagesLeftOut = 1;
inline constexpr size_t kArchivePageSize = 4096;

// A segment's image as the archive keeps it: its zero pages left out (see the layout above).
struct SegmentImage {
    std::string path;                   // the segment file it was read from (the entry's name)
    uint64_t size = 0;                  // the whole image's size in bytes
    std::vector<unsigned char> packed;  // the page bitmap, then the pages kept
};

// Packs a segment's bytes (read from `path`).
SegmentImage pack_segment_image(const std::string& path, const std::vector<unsigned char>& bytes);

// The whole image again, zero pages put back; false when `packed` does not describe `size` bytes
// (a bitmap shorter than the pages, or kept pages that do not add up to what follows it).
bool unpack_segment_image(const unsigned char* packed, size_t packed_bytes, uint64_t size,
                          std::vector<unsigned char>* image);

// The segment files read (one at a time) and packed; nullopt and a message when one cannot be.
std::optional<std::vector<SegmentImage>> read_segment_images(const std::vector<std::string>& files,
                                                             std::string* error);

// Receives the archive in pieces, in order; false stops the writing (the sink said why).
using ArchiveSink = std::function<bool(const unsigned char* bytes, size_t size)>;

// The archive's header, for `count` entries (or kArchiveCountUntilEnd), handed to `sink`.
bool write_archive_header(uint32_t count, const ArchiveSink& sink);

// One entry: `bytes` (n of them) under `name`, with its flags and whole image size.
bool write_archive_entry(const std::string& name, uint32_t flags, uint64_t image_size, const unsigned char* bytes,
                         size_t n, const ArchiveSink& sink);

// A segment image's entry (named after its segment file, zero pages left out).
bool write_image_entry(const SegmentImage& image, const ArchiveSink& sink);

// The perf map kept beside the segment file `segment_path` (nullopt when there is none), and the
// name of its entry.
std::optional<std::vector<unsigned char>> read_kept_perf_map(const std::string& segment_path);
std::string perf_map_entry_name(const std::string& segment_path);

// The segment images, each one's kept perf map (read beside its segment file), and `extra`
// entries (name, bytes) as one archive, handed to `sink` a piece at a time. Its size in bytes,
// or nullopt with a message when the sink refused.
std::optional<uint64_t> write_archive(const std::vector<SegmentImage>& images,
                                      const std::vector<std::pair<std::string, std::string>>& extra,
                                      const ArchiveSink& sink, std::string* error);

// The same for segment files (read_segment_images).
std::optional<uint64_t> write_archive(const std::vector<std::string>& segment_files,
                                      const std::vector<std::pair<std::string, std::string>>& extra,
                                      const ArchiveSink& sink, std::string* error);

// The same archive as one byte string.
std::optional<std::vector<unsigned char>> archive_bytes(const std::vector<std::string>& segment_files,
                                                        const std::vector<std::pair<std::string, std::string>>& extra,
                                                        std::string* error);

// True when `bytes` starts with the archive magic.
bool is_archive(const std::vector<unsigned char>& bytes);

// Parses an archive into its recordings; nullopt with a message if anything is out of place.
// `unfinished`: the archive of a run that ended before its file was written whole (it lists its
// entries up to its end and may stop inside the last one): the whole entries are read, the cut
// one is left out.
std::optional<std::vector<Recording>> parse_archive(const std::vector<unsigned char>& bytes, const std::string& source,
                                                    std::string* error, bool unfinished = false);

// Reads a file that is a recording file, one segment or an (old, uncompressed) archive: its
// recordings, or nullopt and a message. `warning`: see parse_recording_file.
std::optional<std::vector<Recording>> load_recordings(const std::string& path, std::string* error,
                                                      bool allow_other_users = false, std::string* warning = nullptr);

// Reads a live segment once for both of `run`'s uses: its recording (with its perf map, as
// load_recordings) for the report, and its packed image for the recording file.
std::optional<Recording> load_segment_keeping_image(const std::string& path, std::string* error,
                                                    bool allow_other_users, SegmentImage* image);

}  // namespace vdsotrace::tools
