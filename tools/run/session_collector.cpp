#include "tools/run/session_collector.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tools/recordings/recording_store.h"
#include "tracer/format/segment_format.h"

namespace vdsotrace::tools {

namespace f = vdsotrace::format;

bool recording_is_final(uint32_t state, bool alive) {
    switch (state) {
        case f::kStateExited: return !alive;
        case f::kStateSignaled:
        case f::kStateExeced: return true;
        default: return false;
    }
}

namespace {

// The state and pid in the header of the segment at `path` (a cheap look before reading it all);
// false when it cannot be read or is not a segment of this format.
bool read_state(const std::string& path, uint32_t* state, int32_t* pid) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return false;
    f::Header h;
    constexpr size_t kHead = offsetof(f::Header, state) + sizeof h.state;
    static_assert(offsetof(f::Header, pid) < kHead);
    const bool ok = pread(fd, &h, kHead, 0) == ssize_t(kHead) && memcmp(h.magic, f::kMagic, sizeof h.magic) == 0 &&
                    h.major == f::kMajor;
    close(fd);
    if (!ok) return false;
    *state = h.state;
    *pid = h.pid;
    return true;
}

bool pid_alive(int32_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH); }

}  // namespace

SessionCollector::SessionCollector(std::string session, bool other_users, unsigned period_ms, RecordingStream* stream)
    : session_(std::move(session)), other_users_(other_users), period_ms_(period_ms), stream_(stream) {
    thread_ = std::thread([this] { run(); });
}

SessionCollector::~SessionCollector() {
    if (thread_.joinable()) finish();
}

void SessionCollector::run() {
    // Signals stay the main thread's business (forwarded to the command, interrupting its wait),
    // as they were before `run` had a second thread.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        wake_.wait_for(lock, std::chrono::milliseconds(period_ms_), [this] { return stopping_; });
        if (stopping_) break;
        lock.unlock();
        collect_once();
        lock.lock();
    }
}

void SessionCollector::collect_once() {
    // Only this session's names not taken yet are looked at (a stat each): every pass used to
    // stat every segment in /dev/shm, the session's taken ones included (issue 14).
    const auto wanted = [this](const SegmentName& s) {
        std::lock_guard<std::mutex> lock(mutex_);
        return s.session == session_ && taken_.count(s.path) == 0 && refused_.count(s.path) == 0;
    };
    for (const SegmentName& s : list_segments(getuid(), other_users_, wanted)) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopping_) return;
        }
        uint32_t state = 0;
        int32_t pid = 0;
        if (!read_state(s.path, &state, &pid) || !recording_is_final(state, pid_alive(pid))) continue;
        std::string error;
        CollectedRecording c;
        auto r = load_segment_keeping_image(s.path, &error, other_users_, &c.image);
        if (r && stream_ != nullptr && stream_error_.empty()) {
            c.streamed = stream_->add_image(c.image, &stream_error_);
            if (c.streamed) c.image = SegmentImage{};  // in the file: not held twice
        }
        std::lock_guard<std::mutex> lock(mutex_);
        if (!r) {
            refused_.insert(s.path);
        } else {
            c.recording = std::move(*r);
            taken_.emplace(s.path, std::move(c));
        }
    }
}

std::map<std::string, CollectedRecording> SessionCollector::finish(std::string* stream_error) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (stream_error) *stream_error = stream_error_;
    return std::move(taken_);
}

}  // namespace vdsotrace::tools
