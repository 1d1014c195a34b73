#include "tools/attach/window_recording.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "tracer/format/segment_format.h"

namespace vdsotrace::attach {
namespace {

namespace f = vdsotrace::format;

uint64_t& u64_at(unsigned char* p) { return *reinterpret_cast<uint64_t*>(p); }
uint64_t u64_at(const unsigned char* p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

void take(uint64_t* from, uint64_t n) { *from -= std::min(*from, n); }

// The same slot in both: entries keep their index (a key is written once), so index by index.
void subtract_slot(unsigned char* a, const unsigned char* b, uint32_t callers) {
    for (unsigned c = 0; c < f::kCounterSlots; ++c)
        take(&u64_at(a + f::slot_unattributed_offset(c)), u64_at(b + f::slot_unattributed_offset(c)));
    for (uint32_t i = 0; i < callers; ++i) {
        const size_t at = f::kSlotCallersOffset + i * sizeof(f::CallerEntry);
        const uint64_t key = u64_at(b + at);
        if (key != 0 && key == u64_at(a + at)) take(&u64_at(a + at + 8), u64_at(b + at + 8));
    }
}

// `b`'s counts, which were folded into slot `a` (the exited threads'), found there by key.
void subtract_by_key(unsigned char* a, const unsigned char* b, uint32_t callers) {
    for (unsigned c = 0; c < f::kCounterSlots; ++c)
        take(&u64_at(a + f::slot_unattributed_offset(c)), u64_at(b + f::slot_unattributed_offset(c)));
    for (uint32_t i = 0; i < callers; ++i) {
        const size_t at = f::kSlotCallersOffset + i * sizeof(f::CallerEntry);
        const uint64_t key = u64_at(b + at), n = u64_at(b + at + 8);
        if (key == 0 || n == 0) continue;
        for (uint32_t j = 0; j < callers; ++j) {
            const size_t there = f::kSlotCallersOffset + j * sizeof(f::CallerEntry);
            if (u64_at(a + there) != key) continue;
            take(&u64_at(a + there + 8), n);
            break;
        }
    }
}

// The section of `kind`, its count cut to the entries that lie in the `size` bytes read: a
// format 2 segment's file (and so its memory that can be read) holds a prefix of the layout, and
// entries past it were never written. Null when there is none or it is corrupt.
const f::SectionEntry* section(const f::Header& h, uint32_t kind, size_t size, size_t min_entry,
                               f::SectionEntry* cut) {
    for (uint32_t i = 0; i < h.section_count && i < uint32_t(f::kMaxSections); ++i) {
        const f::SectionEntry& s = h.sections[i];
        if (s.kind != kind) continue;
        if (s.entry_size < min_entry || s.count > f::kMaxSegmentSize || s.offset > f::kMaxSegmentSize) return nullptr;
        *cut = s;
        const uint64_t fits = s.offset >= size ? 0 : (size - s.offset) / s.entry_size;
        if (fits < cut->count) cut->count = fits;
        return cut;
    }
    return nullptr;
}

uint64_t clock_ns(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

}  // namespace

bool read_segment_memory(pid_t pid, const RecordingMapping& m, std::vector<unsigned char>* out) {
    if (m.end <= m.start || m.end - m.start > f::kMaxSegmentSize) return false;
    out->assign(m.end - m.start, 0);
    size_t done = 0;
    while (done < out->size()) {
        iovec local{out->data() + done, out->size() - done};
        iovec remote{reinterpret_cast<void*>(m.start + done), out->size() - done};
        const ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
        if (n < 0 && errno == EFAULT && done >= sizeof(f::Header)) break;  // the end of a grown file (format 2)
        if (n <= 0) return false;
        done += size_t(n);
    }
    out->resize(done);
    return true;
}

bool subtract_baseline(const std::vector<unsigned char>& before, std::vector<unsigned char>* after, std::string* why) {
    // A format 2 segment only grows (its file holds a prefix of the layout): what lay past the end
    // of `before` was never written, so it held zeros.
    if (before.size() < sizeof(f::Header) || after->size() < before.size()) {
        *why = "the recording shrank";
        return false;
    }
    std::vector<unsigned char> padded;
    if (before.size() < after->size()) {
        padded = before;
        padded.resize(after->size(), 0);
    }
    const std::vector<unsigned char>& whole_before = padded.empty() ? before : padded;
    const auto& hb = *reinterpret_cast<const f::Header*>(whole_before.data());
    auto& ha = *reinterpret_cast<f::Header*>(after->data());
    if (memcmp(ha.magic, f::kMagic, sizeof ha.magic) != 0 || ha.major != f::kMajor ||
        hb.tree.segment_id != ha.tree.segment_id || hb.caller_capacity != ha.caller_capacity) {
        *why = "not the same recording";
        return false;
    }
    const size_t size = after->size();
    const uint32_t callers = ha.caller_capacity;
    const size_t slot_size = f::thread_slot_size(callers);
    f::SectionEntry threads_cut{}, exited_cut{}, log_cut{}, retired_cut{}, room_cut{};
    const f::SectionEntry* threads = section(ha, f::kSectionThreads, size, slot_size, &threads_cut);
    if (threads == nullptr || threads->entry_size != slot_size) {
        *why = "no thread section";
        return false;
    }
    std::vector<unsigned char> out = *after;
    unsigned char* a = out.data();
    const unsigned char* b = whole_before.data();
    const f::SectionEntry* exited = section(ha, f::kSectionExitedThreads, size, slot_size, &exited_cut);
    if (exited != nullptr && exited->count == 0) exited = nullptr;
    if (exited != nullptr) subtract_slot(a + exited->offset, b + exited->offset, callers);
    for (uint64_t i = 0; i < threads->count; ++i) {
        unsigned char* sa = a + threads->offset + i * slot_size;
        const unsigned char* sb = b + threads->offset + i * slot_size;
        const auto& hsb = *reinterpret_cast<const f::ThreadSlotHeader*>(sb);
        const auto& hsa = *reinterpret_cast<const f::ThreadSlotHeader*>(sa);
        if (hsb.state == f::kThreadFree || hsb.state == f::kThreadRecycled) continue;  // held nothing
        const bool same_thread = hsa.tid == hsb.tid && hsa.state != f::kThreadFree && hsa.state != f::kThreadRecycled;
        if (same_thread)
            subtract_slot(sa, sb, callers);
        else if (exited != nullptr)
            subtract_by_key(a + exited->offset, sb, callers);  // it exited meanwhile: folded there
    }
    if (const f::SectionEntry* log = section(ha, f::kSectionThreadLog, size, sizeof(f::ExitedThreadEntry), &log_cut))
        for (uint64_t i = 0; i < log->count && i < hb.tree.threads_logged; ++i)
            reinterpret_cast<f::ExitedThreadEntry*>(a + log->offset)[i].calls = 0;  // exited before the window
    // Calls counted in libraries unloaded before the window (minor 3): entries keep their index.
    if (const f::SectionEntry* retired = section(ha, f::kSectionRetiredCallers, size, sizeof(f::RetiredCallerEntry), &retired_cut))
        for (uint64_t i = 0; i < retired->count; ++i) {
            auto& ea = reinterpret_cast<f::RetiredCallerEntry*>(a + retired->offset)[i];
            const auto& eb = reinterpret_cast<const f::RetiredCallerEntry*>(b + retired->offset)[i];
            if (eb.state == 2 && ea.key == eb.key) take(&ea.count, eb.count);
        }
    if (const f::SectionEntry* room = section(ha, f::kSectionHeadroom, size, sizeof(f::HeadroomEntry), &room_cut))
        for (uint64_t i = 0; i < room->count; ++i) {
            auto& ea = reinterpret_cast<f::HeadroomEntry*>(a + room->offset)[i];
            const auto& eb = reinterpret_cast<const f::HeadroomEntry*>(b + room->offset)[i];
            if (ea.key == eb.key) take(&ea.calls, eb.calls);
        }
    *after = std::move(out);
    return true;
}

std::string write_window_recording(std::vector<unsigned char>* bytes, const std::string& session, std::string* why) {
    auto& h = *reinterpret_cast<f::Header*>(bytes->data());
    uint64_t id = 0;
    if (getrandom(&id, sizeof id, 0) != ssize_t(sizeof id)) id = clock_ns(CLOCK_MONOTONIC) ^ uint64_t(getpid());
    memset(h.session, 0, sizeof h.session);
    memcpy(h.session, session.data(), std::min(session.size(), sizeof h.session - 1));
    h.tree.segment_id = id;
    h.start_realtime_ns = clock_ns(CLOCK_REALTIME);
    h.start_monotonic_ns = clock_ns(CLOCK_MONOTONIC);
    const std::string path = fmt::format("/dev/shm/{}{}-{}-{}-{:016x}", f::kShmPrefix, h.uid, session, h.pid, id);
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        *why = fmt::format("cannot create {}: {}", path, strerror(errno));
        return "";
    }
    size_t done = 0;
    while (done < bytes->size()) {
        const ssize_t n = write(fd, bytes->data() + done, bytes->size() - done);
        if (n <= 0) {
            *why = fmt::format("cannot write {}: {}", path, strerror(errno));
            close(fd);
            unlink(path.c_str());
            return "";
        }
        done += size_t(n);
    }
    close(fd);
    return path;
}

}  // namespace vdsotrace::attach
