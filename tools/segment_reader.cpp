#include "segment_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

namespace vdsotrace::tools {

namespace f = vdsotrace::format;

namespace {

std::string bounded_string(const char* p, size_t max) { return std::string(p, strnlen(p, max)); }

std::string hex(const unsigned char* p, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += fmt::format("{:02x}", p[i]);
    return s;
}

// A section is usable when it fits the file; its entry size must be at least what we read.
bool section_fits(const f::SectionEntry& s, uint64_t file_size, uint64_t min_entry, std::string* error,
                  const char* what) {
    if (s.entry_size < min_entry) {
        *error = fmt::format("the {} section's entries are {} bytes, fewer than the {} this reader needs", what,
                             s.entry_size, min_entry);
        return false;
    }
    if (s.offset > file_size || s.count > (file_size - s.offset) / s.entry_size) {
        *error = fmt::format("the {} section ({} entries of {} bytes at offset {}) runs past the end of the "
                             "{}-byte file: the recording is truncated or corrupt",
                             what, s.count, s.entry_size, s.offset, file_size);
        return false;
    }
    return true;
}

uint64_t load_u64(const unsigned char* p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

}  // namespace

uint64_t ThreadInfo::total() const {
    uint64_t t = 0;
    for (uint64_t c : counts) t += c;
    return t;
}

std::vector<uint64_t> Recording::totals() const {
    std::vector<uint64_t> t(f::kCounterSlots, 0);
    for (const ThreadInfo& th : threads)
        for (unsigned i = 0; i < f::kCounterSlots; ++i) t[i] += th.counts[i];
    return t;
}

std::optional<Recording> parse_recording(const std::vector<unsigned char>& bytes, const std::string& source,
                                         std::string* error) {
    const uint64_t size = bytes.size();
    if (size < sizeof(f::Header)) {
        *error = fmt::format("{} bytes is too short for a vdsotrace recording (the header alone is {})", size,
                             sizeof(f::Header));
        return std::nullopt;
    }
    f::Header h;
    memcpy(&h, bytes.data(), sizeof h);
    if (memcmp(h.magic, f::kMagic, sizeof h.magic) != 0) {
        *error = "not a vdsotrace recording (wrong magic)";
        return std::nullopt;
    }
    if (h.byte_order != f::kByteOrderMark) {
        *error = "the recording was written on a machine of the other byte order";
        return std::nullopt;
    }
    if (h.major != f::kMajor) {
        *error = fmt::format("recording format version {}.{} is not compatible with this vdsotrace, which reads "
                             "version {}.x; use the vdsotrace that made it",
                             h.major, h.minor, f::kMajor);
        return std::nullopt;
    }
    if (h.header_size < sizeof(f::Header) || h.header_size > size) {
        *error = fmt::format("header size {} is impossible for a {}-byte recording", h.header_size, size);
        return std::nullopt;
    }
    if (h.segment_size != size) {
        *error = fmt::format("the recording says it is {} bytes but the file has {}: truncated or padded",
                             h.segment_size, size);
        return std::nullopt;
    }
    if (h.section_count > f::kMaxSections) {
        *error = fmt::format("{} sections listed, at most {} possible: corrupt header", h.section_count,
                             f::kMaxSections);
        return std::nullopt;
    }

    Recording r;
    r.source = source;
    r.minor = h.minor;
    r.pid = h.pid;
    r.ppid = h.ppid;
    r.uid = h.uid;
    r.flags = h.flags;
    r.proc_start_ticks = h.proc_start_ticks;
    r.start_realtime_ns = h.start_realtime_ns;
    r.start_monotonic_ns = h.start_monotonic_ns;
    r.state = h.state;
    r.exit_value = h.exit_value;
    r.end_monotonic_ns = h.end_monotonic_ns;
    r.end_realtime_ns = h.end_realtime_ns;
    r.thread_capacity = h.thread_capacity;
    r.caller_capacity = h.caller_capacity;
    r.module_capacity = h.module_capacity;
    r.threads_claimed = h.threads_claimed;
    r.modules_claimed = h.modules_claimed;
    r.session = bounded_string(h.session, sizeof h.session);
    r.exe = bounded_string(h.exe, sizeof h.exe);
    for (size_t i = 0, n = std::min<size_t>(h.cmdline_size, sizeof h.cmdline); i < n;) {
        std::string arg = bounded_string(h.cmdline + i, n - i);
        i += arg.size() + 1;
        r.argv.push_back(std::move(arg));
    }

    bool have_threads = false;
    for (uint32_t si = 0; si < h.section_count; ++si) {
        const f::SectionEntry& s = h.sections[si];
        if (s.kind == f::kSectionModules) {
            if (!section_fits(s, size, sizeof(f::ModuleEntry), error, "module")) return std::nullopt;
            for (uint64_t i = 0; i < s.count; ++i) {
                f::ModuleEntry m;
                memcpy(&m, bytes.data() + s.offset + i * s.entry_size, sizeof m);
                if (m.state != f::kModuleReady) continue;
                ModuleInfo mi;
                mi.path = bounded_string(m.path, sizeof m.path);
                mi.load_bias = m.load_bias;
                mi.start = m.start;
                mi.end = m.end;
                mi.build_id = hex(m.build_id, std::min<size_t>(m.build_id_size, sizeof m.build_id));
                mi.main_program = m.flags & f::kModuleMainProgram;
                mi.vdso = m.flags & f::kModuleVdso;
                bool duplicate = false;  // two threads may have added the same module at once
                for (const ModuleInfo& o : r.modules)
                    duplicate |= o.start == mi.start && o.end == mi.end && o.path == mi.path;
                if (!duplicate) r.modules.push_back(std::move(mi));
            }
        } else if (s.kind == f::kSectionVdsoImage) {
            if (!section_fits(s, size, 1, error, "vDSO image")) return std::nullopt;
            r.vdso_image.assign(bytes.begin() + long(s.offset), bytes.begin() + long(s.offset + s.count));
        } else if (s.kind == f::kSectionThreads) {
            const uint32_t cap = h.caller_capacity;
            if (cap == 0 || cap > (1u << 20) || s.count == 0) {
                *error = fmt::format("impossible thread table ({} slots, {} callers each)", s.count, cap);
                return std::nullopt;
            }
            if (!section_fits(s, size, f::thread_slot_size(cap), error, "thread")) return std::nullopt;
            have_threads = true;
            const uint64_t used = std::min<uint64_t>(h.threads_claimed, s.count - 1);
            for (uint64_t i = 0; i < s.count; ++i) {
                const bool shared_slot = i == s.count - 1;
                if (i >= used && !shared_slot) continue;
                const unsigned char* slot = bytes.data() + s.offset + i * s.entry_size;
                f::ThreadSlotHeader sh;
                memcpy(&sh, slot, sizeof sh);
                ThreadInfo t;
                t.tid = shared_slot ? 0 : sh.tid;
                t.name = shared_slot ? "(threads beyond capacity)" : bounded_string(sh.name, sizeof sh.name);
                t.exited = sh.state == f::kThreadExited;
                t.shared = shared_slot;
                t.counts.resize(f::kCounterSlots);
                t.unattributed.resize(f::kCounterSlots);
                for (unsigned c = 0; c < f::kCounterSlots; ++c) {
                    t.unattributed[c] = load_u64(slot + f::kSlotUnattributedOffset + c * 8);
                    t.counts[c] = t.unattributed[c];
                }
                for (uint32_t c = 0; c < cap; ++c) {
                    const unsigned char* e = slot + f::kSlotCallersOffset + c * sizeof(f::CallerEntry);
                    uint64_t key = load_u64(e);
                    if (key == 0) continue;
                    unsigned counter = f::caller_counter(key);
                    if (counter >= f::kCounterSlots) {
                        *error = fmt::format("corrupt caller entry in thread slot {}", i);
                        return std::nullopt;
                    }
                    const uint64_t calls = load_u64(e + 8);
                    t.counts[counter] += calls;  // a thread's count is callers + unattributed
                    t.callers.push_back({counter, f::caller_address(key), calls});
                }
                if (shared_slot && t.total() == 0) continue;
                r.threads.push_back(std::move(t));
            }
        }
        // Unknown section kinds come from a newer minor version: skipped by design.
    }
    if (!have_threads) {
        *error = "the recording has no thread table";
        return std::nullopt;
    }
    return r;
}

std::optional<Recording> load_recording(const std::string& path, std::string* error, bool allow_other_users) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // O_NONBLOCK: a FIFO must not hang us
    if (fd < 0) {
        *error = fmt::format("cannot open {}: {}", path, strerror(errno));
        return std::nullopt;
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        *error = fmt::format("{} is not a regular file", path);
        return std::nullopt;
    }
    if (st.st_uid != getuid() && !allow_other_users) {
        close(fd);
        *error = fmt::format("{} is owned by uid {}, not by you (uid {}): not read; pass --allow-other-users to "
                             "read another user's recording on purpose",
                             path, st.st_uid, getuid());
        return std::nullopt;
    }
    if (uint64_t(st.st_size) > f::kMaxSegmentSize) {
        close(fd);
        *error = fmt::format("{} is {} bytes, larger than any recording", path, st.st_size);
        return std::nullopt;
    }
    std::vector<unsigned char> bytes(size_t(st.st_size));
    size_t got = 0;
    while (got < bytes.size()) {
        ssize_t n = read(fd, bytes.data() + got, bytes.size() - got);
        if (n <= 0) break;
        got += size_t(n);
    }
    close(fd);
    bytes.resize(got);
    std::string why;
    auto r = parse_recording(bytes, path, &why);
    if (!r) *error = fmt::format("{}: {}", path, why);
    return r;
}

}  // namespace vdsotrace::tools
