// One file a run, like perf.data: what `vdsotrace run` leaves behind when the program ends
// (`vdsotrace.<program>.<session>.vdsotrace` in the current directory, or `-o FILE`). It holds the
// whole session (every process's segment image, with its module table and build ids), the perf
// maps kept for JIT code, and the names of every call site and sampled frame resolved while the
// binaries were still there, so `report FILE` needs neither /dev/shm, /proc nor the binaries.
//
// Layout (native byte order, like the segments it holds; byte_order tells):
//   "VDSOTREC" | u16 major | u16 minor | u32 byte_order | u64 payload_size | u64 reserved
//   one zstd frame of payload_size bytes: an archive (recording_archive.h) of the segment images,
//   their "<segment>.perf-map" entries and one "symbols.json" entry.
// Major 2: the file is written while the run goes on (recording_stream.h): the archive lists its
// entries to its end, each entry ends a zstd block, and payload_size is 0 until the file is
// finished (or always, written to a pipe). A payload_size of 0 with a frame that stops short is
// a run that ended before finishing its file: its whole entries are read, with a warning.
// A reader refuses a newer major version, a wrong byte order, a payload that does not
// decompress to exactly payload_size bytes (when it is known), or any archive entry that does
// not parse. Major 1 files are still read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/recordings/recording_archive.h"
#include "tools/recordings/segment_reader.h"

namespace vdsotrace::tools {

class RecordingStream;
class SymbolTable;

inline constexpr char kRecordingFileMagic[8] = {'V', 'D', 'S', 'O', 'T', 'R', 'E', 'C'};
inline constexpr uint16_t kRecordingFileMajor = 2;
inline constexpr uint16_t kRecordingFileOldestMajor = 1;
inline constexpr uint16_t kRecordingFileMinor = 0;
inline constexpr char kRecordingFileExtension[] = ".vdsotrace";
// The largest payload a reader decompresses (a session of many big segments fits; a "zip bomb"
// that claims more is refused before any memory is taken).
inline constexpr uint64_t kRecordingFileMaxPayload = uint64_t(4) << 30;

struct RecordingFileHeader {
    char magic[8];
    uint16_t major;
    uint16_t minor;
    uint32_t byte_order;
    uint64_t payload_size;
    uint64_t reserved;
};
static_assert(sizeof(RecordingFileHeader) == 32);

// "vdsotrace.<program>.<session>.vdsotrace", the program's base name with anything but
// [A-Za-z0-9._+-] replaced by '_'.
std::string recording_file_name(const std::string& program, const std::string& session);

// Writes the segments, their kept perf maps and `symbols` (may be null) to `path`: mode 0600
// (argv may hold secrets), written beside it and renamed so no reader sees half a file (a path
// that is no regular file, like /dev/null, is written in place; "-" is standard output). `size` gets the bytes written.
// False with a message on failure.
bool write_recording_file(const std::vector<std::string>& segment_files, const SymbolTable* symbols,
                          const std::string& path, std::string* error, uint64_t* size = nullptr);

// The same from segment images already read (`run` reads each segment once, for the report and
// for the file: recording_archive.h's load_segment_keeping_image).
bool write_recording_file(const std::vector<SegmentImage>& images, const SymbolTable* symbols,
                          const std::string& path, std::string* error, uint64_t* size = nullptr);

// Ends a recording file begun with RecordingStream: adds `images` (those not in it yet), the perf
// maps kept beside `segment_files`, `symbols` (may be null), and finishes it. `run` calls it with
// the images its collector had not written yet and every segment of the session.
bool finish_recording_file(RecordingStream* stream, const std::vector<SegmentImage>& images,
                           const std::vector<std::string>& segment_files, const SymbolTable* symbols,
                           std::string* error, uint64_t* size = nullptr);

bool is_recording_file(const std::vector<unsigned char>& bytes);

// The recordings of a recording file's bytes (each with the file's symbol table), or nullopt and
// a one-line message. `max_payload` bounds what is decompressed. `warning` (when given) gets a
// line to show when the file was read only in part (an unfinished one: the reader logs nothing).
std::optional<std::vector<Recording>> parse_recording_file(const std::vector<unsigned char>& bytes,
                                                           const std::string& source, std::string* error,
                                                           uint64_t max_payload = kRecordingFileMaxPayload,
                                                           std::string* warning = nullptr);

}  // namespace vdsotrace::tools
