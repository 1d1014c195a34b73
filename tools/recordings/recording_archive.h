// The segment images of several processes in one sectioned byte string: the payload of a
// recording file (recordings/recording_file.h, compressed), and what `run --save` wrote before
// recording files existed (such files are still read).
//
// Layout (native byte order, like the segments it holds; byte_order tells):
//   "VDSOTARC" | u16 major | u16 minor | u32 byte_order | u32 count | u32 reserved
//   count times: u32 name_size | u32 reserved | u64 image_size | name bytes | image bytes
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
inline constexpr uint16_t kArchiveMajor = 1;
// Minor 1: an entry named "<recording>.perf-map" holds that recording's kept perf map (text).
// Minor 2: an entry named "symbols.json" holds the names resolved at the end of the run, for all
// recordings (symbols/symbol_table.h).
inline constexpr uint16_t kArchiveMinor = 2;
inline constexpr char kPerfMapEntrySuffix[] = ".perf-map";
inline constexpr char kSymbolsEntry[] = "symbols.json";
inline constexpr uint32_t kArchiveMaxEntries = 1u << 20;

// Receives the archive in pieces, in order; false stops the writing (the sink said why).
using ArchiveSink = std::function<bool(const unsigned char* bytes, size_t size)>;

// The files (segment images), each one's kept perf map, and `extra` entries (name, bytes) as one
// archive, handed to `sink` a piece at a time: one file's image is held at once, never the whole
// archive (200 processes of a shell loop are 25 MB of mostly zeros, which cost more to copy and
// fault in than to compress). Its size in bytes, or nullopt with a message when a file cannot
// be read or the sink refused.
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
std::optional<std::vector<Recording>> parse_archive(const std::vector<unsigned char>& bytes, const std::string& source,
                                                    std::string* error);

// Reads a file that is a recording file, one segment or an (old, uncompressed) archive: its
// recordings, or nullopt and a message.
std::optional<std::vector<Recording>> load_recordings(const std::string& path, std::string* error,
                                                      bool allow_other_users = false);

}  // namespace vdsotrace::tools
