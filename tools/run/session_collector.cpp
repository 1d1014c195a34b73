#include "tools/run/session_collector.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
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

enum class HeaderRead { kRead, kGone, kNotYet };

// The state and pid in the header of the segment at `path` (a cheap look before reading it all).
// kNotYet: not a segment of this format, or not one yet (its process has created the file and not
// written its header): looked at again later. kGone: removed.
HeaderRead read_state(const std::string& path, uint32_t* state, int32_t* pid) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return errno == ENOENT ? HeaderRead::kGone : HeaderRead::kNotYet;
    f::Header h;
    constexpr size_t kHead = offsetof(f::Header, state) + sizeof h.state;
    static_assert(offsetof(f::Header, pid) < kHead);
    const bool ok = pread(fd, &h, kHead, 0) == ssize_t(kHead) && memcmp(h.magic, f::kMagic, sizeof h.magic) == 0 &&
                    h.major == f::kMajor;
    close(fd);
    if (!ok) return HeaderRead::kNotYet;
    *state = h.state;
    *pid = h.pid;
    return HeaderRead::kRead;
}

bool pid_alive(int32_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH); }

// A segment not final yet is looked at again after a wait that doubles up to this many periods:
// a long-lived process costs a few looks a second, not one a pass.
constexpr unsigned kLongestWaitPeriods = 8;

}  // namespace

SessionCollector::SessionCollector(std::string session, bool other_users, unsigned period_ms, RecordingStream* stream,
                                   Discovery discovery)
    : session_(std::move(session)), other_users_(other_users), period_ms_(period_ms), stream_(stream) {
    // The watch is set before the thread starts, and the thread's first pass lists the directory
    // once after it: a segment is either listed or announced (or both: added once).
    if (discovery == Discovery::kWatch) {
        inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (inotify_fd_ >= 0 &&
            inotify_add_watch(inotify_fd_, shm_dir().c_str(), IN_CREATE | IN_MOVED_TO | IN_ONLYDIR) < 0) {
            close(inotify_fd_);
            inotify_fd_ = -1;
        }
    }
    thread_ = std::thread([this] { run(); });
}

SessionCollector::~SessionCollector() {
    if (thread_.joinable()) finish();
    if (inotify_fd_ >= 0) close(inotify_fd_);
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
        discover();
        collect_once();
        lock.lock();
    }
}

bool SessionCollector::stopping() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stopping_;
}

void SessionCollector::consider(const SegmentName& s) {
    if (taken_.count(s.path) || refused_.count(s.path)) return;
    // Looked at in this pass; if not final, again in the next one (the first wait doubles to a period).
    pending_.try_emplace(s.path, Pending{std::chrono::steady_clock::now(), std::chrono::milliseconds(period_ms_) / 2});
}

bool SessionCollector::read_announced() {
    // Each event: a name created in (or moved into) the directory since the last pass.
    alignas(inotify_event) char buffer[16384];
    for (;;) {
        const ssize_t n = read(inotify_fd_, buffer, sizeof buffer);
        if (n <= 0) return !(n < 0 && errno != EAGAIN && errno != EINTR);
        for (ssize_t at = 0; at < n;) {
            const auto* e = reinterpret_cast<const inotify_event*>(buffer + at);
            at += ssize_t(sizeof(inotify_event) + e->len);
            if (e->mask & IN_Q_OVERFLOW) return false;  // some were lost: list them all
            if (e->len == 0) continue;
            if (auto s = segment_named(e->name, getuid(), other_users_, [this](const SegmentName& n) {
                    return n.session == session_;
                }))
                consider(*s);
        }
    }
}

void SessionCollector::discover() {
    // Watching, the directory is listed once: a pass used to list all of /dev/shm, so a session of
    // N processes cost N^2/2 names parsed over the run (2,000 `date`s: a third of `run`'s CPU).
    bool list_all = inotify_fd_ < 0 || scans_ == 0;
    if (inotify_fd_ >= 0 && !read_announced()) list_all = true;
    if (!list_all) return;
    ++scans_;
    const auto wanted = [this](const SegmentName& s) {
        return s.session == session_ && taken_.count(s.path) == 0 && refused_.count(s.path) == 0 &&
               pending_.count(s.path) == 0;
    };
    for (const SegmentName& s : list_segments(getuid(), other_users_, wanted)) consider(s);
}

void SessionCollector::collect_once() {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (stopping()) return;
        const std::string& path = it->first;
        Pending& p = it->second;
        if (p.due > now) {
            ++it;
            continue;
        }
        uint32_t state = 0;
        int32_t pid = 0;
        const HeaderRead read = read_state(path, &state, &pid);
        if (read == HeaderRead::kGone) {
            it = pending_.erase(it);
            continue;
        }
        if (read == HeaderRead::kNotYet || !recording_is_final(state, pid_alive(pid))) {
            p.wait = std::min(p.wait * 2, std::chrono::milliseconds(period_ms_ * kLongestWaitPeriods));
            p.due = now + p.wait;
            ++it;
            continue;
        }
        std::string error;
        CollectedRecording c;
        auto r = load_segment_keeping_image(path, &error, other_users_, &c.image);
        if (r && stream_ != nullptr && stream_error_.empty()) {
            c.streamed = stream_->add_image(c.image, &stream_error_);
            if (c.streamed) c.image = SegmentImage{};  // in the file: not held twice
        }
        if (!r) {
            refused_.insert(path);
        } else {
            c.recording = std::move(*r);
            taken_.emplace(path, std::move(c));
        }
        it = pending_.erase(it);
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
