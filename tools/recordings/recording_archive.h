// A saved session: the segment images of several processes in one file, so `report` can read a
// whole process tree later, on this or another machine (`run --save FILE`).
//
// Layout (native byte order, like the segments it holds; byte_order tells):
//   "VDSOTARC" | u16 major | u16 minor | u32 byte_order | u32 count | u32 reserved
//   count times: u32 name_size | u32 reserved | u64 image_size | name bytes | image bytes
// Every size is checked against the file before it is used, and every image is then parsed and
// validated like a segment (segment_reader).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tools/recordings/segment_reader.h"

namespace vdsotrace::tools {

inline constexpr char kArchiveMagic[8] = {'V', 'D', 'S', 'O', 'T', 'A', 'R', 'C'};
inline constexpr uint16_t kArchiveMajor = 1;
// Minor 1: an entry named "<recording>.perf-map" holds that recording's kept perf map (text).
inline constexpr uint16_t kArchiveMinor = 1;
inline constexpr char kPerfMapEntrySuffix[] = ".perf-map";
inline constexpr uint32_t kArchiveMaxEntries = 1u << 20;

// Writes the files (segment images) into one archive at `path`. False with a message on failure.
bool write_archive(const std::vector<std::string>& segment_files, const std::string& path, std::string* error);

// True when `bytes` starts with the archive magic.
bool is_archive(const std::vector<unsigned char>& bytes);

// Parses an archive into its recordings; nullopt with a message if anything is out of place.
std::optional<std::vector<Recording>> parse_archive(const std::vector<unsigned char>& bytes, const std::string& source,
                                                    std::string* error);

// Reads a file that is either one segment or an archive: its recordings, or nullopt and a message.
std::optional<std::vector<Recording>> load_recordings(const std::string& path, std::string* error,
                                                      bool allow_other_users = false);

}  // namespace vdsotrace::tools
