// Reads the recordings of a `run` session's processes that have ended while the command still
// runs, on a thread of its own, so that the end of the run has only the last ones left to read.
// A shell loop of 200 short processes left `run` about 35 ms of reading, parsing, packing and
// compressing after the loop (its 200 recordings at once, ~150 us each, issue 14); done as they
// end, that work overlaps the program's own and the report comes as soon as the loop ends.
//
// A recording is taken only when nothing will write to it again (recording_is_final): its
// process wrote how it ended and is gone, or a reaper wrote it, or a later image replaced it by
// exec. New segments are learnt from inotify (the directory is listed once, and again only if the
// kernel's event queue overflowed, or where inotify is not available, every pass), and one not
// final yet is looked at again after a wait that grows to a few periods. Given the recording file being written (recording_stream.h), its image goes into the file
// at once. The segments stay in /dev/shm until `run` has written the file (nothing is lost if that
// fails), and hold their names meanwhile: a segment's name is derived from its pid and image
// generation (process_tree.h), so a name freed early would be taken again by a process that got
// the same pid (pid_max is 32768 here), with the same segment id in the same session. The report
// reads what was taken here as it would have read the segments at the end.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "tools/recordings/recording_archive.h"
#include "tools/recordings/recording_store.h"
#include "tools/recordings/recording_stream.h"
#include "tools/recordings/segment_reader.h"

namespace vdsotrace::tools {

// Whether a recording whose header says `state` (format::ProcessState) is final: no one will
// write to it again. `alive`: whether its pid still names a process (any process: a reused pid
// only delays the answer). Exited: written by the process itself, which may still count calls in
// destructors after it, so only once it is gone; signalled: written by its reaper after the
// death; exec'd: written by the next image after the exec. Running or ended without a status:
// its reaper may still write how it ended (wait hooks, `run`'s own reaping): read at the end.
bool recording_is_final(uint32_t state, bool alive);

// What the collector took of one segment.
struct CollectedRecording {
    Recording recording;
    SegmentImage image;     // its packed image; empty once it is in the recording file
    bool streamed = false;  // its entry is in the recording file being written
};

class SessionCollector {
public:
    // Starts reading the recordings of `session` (of this user's, and others' when
    // `other_users`) as they become final, every `period_ms`. `stream`: the recording file to
    // write each one into as it is taken (may be null).
    // How new segments are found: announced by inotify on the directory (listed once), or
    // listed every pass (what kWatch falls back to where inotify is not available).
    enum class Discovery { kWatch, kList };
    SessionCollector(std::string session, bool other_users, unsigned period_ms = 100,
                     RecordingStream* stream = nullptr, Discovery discovery = Discovery::kWatch);
    ~SessionCollector();
    SessionCollector(const SessionCollector&) = delete;
    SessionCollector& operator=(const SessionCollector&) = delete;

    // Stops the thread (after its current pass) and hands over what it took, by segment path.
    // `stream_error`: why the recording file stopped taking entries, if it did.
    std::map<std::string, CollectedRecording> finish(std::string* stream_error = nullptr);

    // How many times the directory was listed whole (once when watching, unless events were lost);
    // read after finish().
    unsigned listings() const { return scans_; }

private:
    struct Pending {
        std::chrono::steady_clock::time_point due;  // when to look at its header next
        std::chrono::milliseconds wait;             // how long the last look put that off
    };
    void run();
    bool stopping();
    void discover();
    bool read_announced();  // false when the kernel dropped events
    void consider(const SegmentName& s);
    void collect_once();

    const std::string session_;
    const bool other_users_;
    const unsigned period_ms_;
    RecordingStream* const stream_;
    std::string stream_error_;  // the first failure to write into stream_ (then it is not used again)
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    int inotify_fd_ = -1;
    unsigned scans_ = 0;
    // Owned by the collector thread until finish() has joined it.
    std::map<std::string, Pending> pending_;  // this session's segments seen, not final yet
    std::map<std::string, CollectedRecording> taken_;
    std::set<std::string> refused_;  // paths that failed to read: left for the end, which says why
    std::thread thread_;
};

}  // namespace vdsotrace::tools
