// A recording file (recording_file.h) written while the run goes on: each process's segment
// image is compressed into it when `run`'s collector has read it (tools/run/session_collector.h),
// so the end of a run only adds the last few processes, the perf maps and the names (issue 14's
// shell loop: packing and compressing 200 segments after the program ended was a third of what
// `run` added to it, and the images were held in memory until then).
//
// The file is written as `<path>.partial` and renamed to `path` when finished, with its payload
// size in the header. Until then the header says 0: a run that was killed leaves the partial file,
// whose whole entries `report` still reads (each entry is flushed: a zstd block boundary) and says
// it is unfinished. Entries are listed to the end of the archive (kArchiveCountUntilEnd).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tools/recordings/recording_archive.h"

typedef struct ZSTD_CCtx_s ZSTD_CCtx;

namespace vdsotrace::tools {

// Whether a recording file at `path` is written where it is rather than beside it and renamed:
// standard output ("-") and anything that exists and is no regular file (/dev/null, a FIFO).
bool written_in_place(const std::string& path);

class RecordingStream {
public:
    // Starts the file at `path` ("-": standard output; a path that is no regular file, like
    // /dev/null or a FIFO, is written in place). nullptr and a message when it cannot be created.
    static std::unique_ptr<RecordingStream> create(const std::string& path, std::string* error);

    // Not finished: the partial file is removed (the segments it was written from are still in
    // /dev/shm, where `run` leaves them when it cannot finish the file).
    ~RecordingStream();

    RecordingStream(const RecordingStream&) = delete;
    RecordingStream& operator=(const RecordingStream&) = delete;

    // Appends an entry, compressed and flushed to the file before returning: once this returns
    // true the entry is in the file (what its segment held may be removed). Thread-safe.
    bool add_image(const SegmentImage& image, std::string* error);
    bool add_kept_perf_map(const std::string& segment_path, std::string* error);
    bool add_entry(const std::string& name, const std::string& bytes, std::string* error);

    // Ends the compressed stream, writes the payload size into the header and renames the file
    // into place. `size`: the file's bytes.
    bool finish(uint64_t* size, std::string* error);

    // Entries added so far.
    uint32_t entries() const;
    // Where the unfinished file is (`<path>.partial`, or the path itself when written in place).
    const std::string& partial_path() const { return target_; }

private:
    RecordingStream() = default;
    bool feed(const unsigned char* p, size_t n, int how, std::string* error);  // how: a ZSTD_EndDirective
    // Writes one entry through `write`, flushed, and counts it.
    bool add(const std::function<bool(const ArchiveSink&)>& write, std::string* error);

    mutable std::mutex mutex_;
    std::string path_, target_;
    int fd_ = -1;
    bool in_place_ = false;  // written where it is (not renamed), and its header never rewritten
    bool finished_ = false;
    bool failed_ = false;
    uint32_t entries_ = 0;
    uint64_t payload_ = 0;  // archive bytes fed to the compressor
    uint64_t written_ = 0;  // file bytes
    ZSTD_CCtx* cctx_ = nullptr;
    std::vector<unsigned char> chunk_;
};

}  // namespace vdsotrace::tools
