#include "tools/recordings/segment_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace vdsotrace::tools {

namespace f = vdsotrace::format;

bool parse_sampling(const std::vector<unsigned char>& bytes, const f::Header& h, const f::Header& declared, Recording* r,
                    std::string* error);

namespace {

// The row of threads whose slots were recycled: the engine folds an exiting thread's counts into
// the exited-threads slot, so they can no longer be told apart.
constexpr const char* kRecycledThreadsName = "(exited threads, slots reused)";

// An empty such row, for counts found after the exited-threads slot was read (or absent).
ThreadInfo empty_recycled_threads() {
    ThreadInfo t;
    t.name = kRecycledThreadsName;
    t.exited = t.recycled = true;
    t.counts.assign(f::kCounterSlots, 0);
    t.unattributed.assign(f::kCounterSlots, 0);
    return t;
}

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
    if (s.count == 0) return true;  // nothing to read (a growing file's section not reached yet)
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

// Format 2: the file holds a prefix of the layout and grows while the program runs. An entry not
// wholly inside the file (as read: its size taken from the file, never from the header) was never
// written; the section is cut to the entries that are.
void cut_to_file(f::SectionEntry* s, uint64_t file_size) {
    if (s->entry_size == 0) return;  // section_fits says what is wrong with it
    const uint64_t in_file = s->offset >= file_size ? 0 : (file_size - s->offset) / s->entry_size;
    if (s->count > in_file) s->count = in_file;
}

const f::SectionEntry* find_section(const f::Header& h, uint32_t kind) {
    for (uint32_t i = 0; i < h.section_count; ++i)
        if (h.sections[i].kind == kind) return &h.sections[i];
    return nullptr;
}

// What a section holds, in the words of the reader's messages.
const char* section_name(uint32_t kind) {
    switch (kind) {
        case f::kSectionModules: return "module";
        case f::kSectionThreads: return "thread";
        case f::kSectionVdsoImage: return "vDSO image";
        case f::kSectionStacks: return "stack";
        case f::kSectionStackFrames: return "stack frame";
        case f::kSectionSampleSlots: return "sample slot";
        case f::kSectionCrash: return "crash record";
        case f::kSectionHeadroom: return "stack headroom";
        case f::kSectionExitedThreads: return "exited-threads";
        case f::kSectionThreadLog: return "thread log";
        case f::kSectionWrapperSites: return "wrapper site";
        case f::kSectionPythonSites: return "Python site";
        case f::kSectionRuntimes: return "runtime";
        default: return "unknown";
    }
}

// Adds one sample slot to its thread: counts per stack, outcomes, the ring. (Added, not set: the
// slots of exited threads all go to one "exited threads" entry.)
bool parse_sample_slot(const unsigned char* slot, const f::Header::Sampling& cfg, const SamplingInfo& sampling,
                       ThreadInfo* t, std::string* error) {
    f::SampleSlotHeader sh;
    memcpy(&sh, slot, sizeof sh);
    t->samples.sampled += sh.sampled;
    t->samples.lost_no_unwinder += sh.lost_no_unwinder;
    t->samples.lost_stacks_full += sh.lost_stacks_full;
    t->samples.lost_counts_full += sh.lost_counts_full;
    t->samples.lost_reentered += sh.lost_reentered;
    for (uint32_t c = 0; c < cfg.count_capacity; ++c) {
        const unsigned char* e = slot + f::kSampleCountsOffset + c * sizeof(f::StackCount);
        const uint64_t key = load_u64(e);
        if (key == 0) continue;
        const unsigned counter = f::stack_count_counter(key);
        const uint32_t stack = f::stack_count_stack(key);
        if (counter >= f::kCounterSlots || stack >= sampling.stacks.size()) {
            *error = fmt::format("corrupt stack count in sample slot of thread {}", t->tid);
            return false;
        }
        const uint64_t calls = load_u64(e + 8);
        // A live recording copied while a new stack was being added: counted, not nameable.
        if (sampling.stacks[stack].empty())
            t->samples.unreadable += calls;
        else
            t->stack_counts.push_back({counter, stack, calls});
    }
    t->ring_written += sh.ring_written;
    const uint64_t cap = cfg.ring_capacity;
    const uint64_t from = sh.ring_written > cap ? sh.ring_written - cap : 0;
    for (uint64_t n = from; n < sh.ring_written; ++n) {
        f::RingEntry e;
        memcpy(&e, slot + f::sample_ring_offset(cfg.count_capacity) + (n % cap) * sizeof e, sizeof e);
        // Odd: being written; another n: overwritten since ring_written was read.
        if (e.seq != 2 * n + 2 || e.counter >= f::kCounterSlots || e.stack_id >= sampling.stacks.size()) {
            ++t->ring_missed;
            continue;
        }
        t->ring.push_back({e.monotonic_ns, e.tid, e.counter, e.stack_id});
    }
    return true;
}

// Reads one thread slot's counters and caller entries into `t`.
bool read_slot(const unsigned char* slot, uint32_t cap, ThreadInfo* t, std::string* error, uint64_t index,
               bool newer_minor) {
    t->counts.resize(f::kCounterSlots);
    t->unattributed.resize(f::kCounterSlots);
    for (unsigned c = 0; c < f::kCounterSlots; ++c) {
        t->unattributed[c] = load_u64(slot + f::slot_unattributed_offset(c));
        t->counts[c] = t->unattributed[c];
    }
    for (uint32_t c = 0; c < cap; ++c) {
        const unsigned char* e = slot + f::kSlotCallersOffset + c * sizeof(f::CallerEntry);
        uint64_t key = load_u64(e);
        if (key == 0) continue;
        unsigned counter = f::caller_counter(key);
        if (counter >= f::kCounterSlots && newer_minor) continue;  // a function a newer minor added
        if (counter >= f::kCounterSlots) {
            *error = fmt::format("corrupt caller entry in thread slot {}", index);
            return false;
        }
        unsigned via = f::caller_via(key);
        uint64_t address = f::caller_address(key);
        const uint64_t calls = load_u64(e + 8);
        if (via == f::kViaWrapperMark) {
            // The writer's note, not a count; or a retired entry's tombstone (its count moved to the
            // retired callers), which holds only a call that raced with the retirement (a library
            // reloaded at once into a slot other threads share): counted at its address.
            if (f::retired_tombstone(key) != key || calls == 0) continue;
            address &= ~f::kPythonSiteTag;
            via = 0;
        }
        t->counts[counter] += calls;  // a thread's count is callers + unattributed
        t->callers.push_back({counter, address, calls, via});
    }
    return true;
}

}  // namespace

// Unloaded modules go last (lookups by address then find the module loaded there now), and calls
// counted in them before they were unloaded join their thread's callers, naming their module.
// A thread whose slot was reused since has its calls with the exited threads'.
template <class TableModule>
void add_retired_callers(Recording* r, const std::vector<TableModule>& table,
                         const std::vector<f::RetiredCallerEntry>& retired) {
    std::stable_partition(r->modules.begin(), r->modules.end(), [](const ModuleInfo& m) { return !m.unloaded; });
    for (const f::RetiredCallerEntry& e : retired) {
        int module = -1;
        for (const auto& tm : table) {
            if (tm.index != e.module) continue;
            for (size_t k = 0; k < r->modules.size(); ++k)
                if (r->modules[k].start == tm.start && r->modules[k].end == tm.end && r->modules[k].path == tm.path)
                    module = int(k);
        }
        ThreadInfo* owner = nullptr;
        for (ThreadInfo& t : r->threads)
            if (e.tid != 0 && t.tid == e.tid && !t.shared && !t.recycled) owner = &t;
        for (ThreadInfo& t : r->threads)
            if (owner == nullptr && t.recycled) owner = &t;
        if (owner == nullptr) {
            r->threads.push_back(empty_recycled_threads());
            owner = &r->threads.back();
        }
        const unsigned counter = f::caller_counter(e.key);
        owner->counts[counter] += e.count;
        owner->callers.push_back({counter, f::caller_address(e.key), e.count, f::caller_via(e.key), module});
    }
}

// The sampling sections (kinds 4-6), present when the recording sampled stacks.
bool parse_sampling(const std::vector<unsigned char>& bytes, const f::Header& h, const f::Header& declared, Recording* r,
                    std::string* error) {
    const f::Header::Sampling& cfg = h.sampling;
    const bool grows = h.major >= 2;  // sections cut to the file: missing entries were never written
    const f::SectionEntry* stacks = find_section(h, f::kSectionStacks);
    const f::SectionEntry* frames = find_section(h, f::kSectionStackFrames);
    const f::SectionEntry* slots = find_section(h, f::kSectionSampleSlots);
    if (cfg.period == 0 && !stacks && !frames && !slots) return true;
    if (!stacks || !frames || !slots) {
        *error = "the recording sampled stacks but lacks one of its stack, frame or sample sections";
        return false;
    }
    const uint64_t size = bytes.size();
    if (!section_fits(*stacks, size, sizeof(f::StackEntry), error, "stack") ||
        !section_fits(*frames, size, sizeof(uint64_t), error, "stack frame") ||
        !section_fits(*slots, size, sizeof(f::SampleSlotHeader), error, "sample slot"))
        return false;
    if (cfg.count_capacity == 0 || cfg.count_capacity > (1u << 20) || cfg.ring_capacity == 0 ||
        cfg.ring_capacity > (1u << 20) || stacks->count > (1u << 24) ||
        slots->entry_size < f::sample_slot_size(cfg.count_capacity, cfg.ring_capacity)) {
        *error = fmt::format("impossible sampling layout ({} counts and {} ring entries per {}-byte sample slot, "
                             "{} stacks)",
                             cfg.count_capacity, cfg.ring_capacity, slots->entry_size, stacks->count);
        return false;
    }
    SamplingInfo& s = r->sampling;
    s.enabled = true;
    s.period = cfg.period;
    s.max_depth = cfg.max_depth;
    s.unwinder = cfg.unwinder;
    s.flags = cfg.flags;
    s.stack_capacity = cfg.stack_capacity;
    s.stacks_claimed = cfg.stacks_claimed;
    s.frame_capacity = cfg.frame_capacity;
    s.frames_claimed = cfg.frames_claimed;
    // Ids up to the declared table size (capped above) may be counted; those not in the file read as
    // not yet written.
    const f::SectionEntry* declared_stacks = find_section(declared, f::kSectionStacks);
    const f::SectionEntry* declared_frames = find_section(declared, f::kSectionStackFrames);
    const f::SectionEntry* declared_slots = find_section(declared, f::kSectionSampleSlots);
    const uint64_t pool = declared_frames != nullptr ? declared_frames->count : frames->count;
    s.stacks.resize(grows && declared_stacks != nullptr ? std::min<uint64_t>(declared_stacks->count, 1u << 24)
                                                        : stacks->count);
    for (uint64_t i = 0; i < stacks->count; ++i) {
        f::StackEntry e;
        memcpy(&e, bytes.data() + stacks->offset + i * stacks->entry_size, sizeof e);
        if (e.state != f::kStackReady) continue;
        if (e.depth == 0 || e.depth > 4096 || e.first_frame > pool || e.depth > pool - e.first_frame) {
            *error = fmt::format("stack {} ({} frames from {}) lies outside the {}-entry frame pool: corrupt", i,
                                 e.depth, e.first_frame, pool);
            return false;
        }
        // A growing file read while a stack was added: its frames came after the copy; unnamed.
        if (e.first_frame > frames->count || e.depth > frames->count - e.first_frame) continue;
        std::vector<uint64_t>& out = s.stacks[i];
        out.resize(e.depth);
        memcpy(out.data(), bytes.data() + frames->offset + e.first_frame * sizeof(uint64_t), e.depth * sizeof(uint64_t));
    }
    // A sample slot goes with the thread now in the same thread slot. The slot of a thread that
    // exited and gave its thread slot back (not taken again) goes with the exited threads, whose
    // calls are folded into one entry: its samples are kept, like its calls.
    const auto slot_at = [&](uint64_t i) { return bytes.data() + slots->offset + i * slots->entry_size; };
    std::vector<bool> owned(slots->count, false);
    for (const ThreadInfo& t : r->threads) {
        if (t.recycled) continue;
        if (t.slot_index >= slots->count) {
            // Declared but not in the (growing) file: never backed, nothing sampled there.
            if (grows && declared_slots != nullptr && t.slot_index < declared_slots->count) continue;
            *error = fmt::format("the sample section has {} slots, fewer than the thread table", slots->count);
            return false;
        }
        owned[t.slot_index] = true;
    }
    std::vector<uint64_t> orphans;
    for (uint64_t i = 0; i < slots->count; ++i)
        if (!owned[i] && load_u64(slot_at(i)) != 0) orphans.push_back(i);  // SampleSlotHeader::sampled
    if (!orphans.empty() && std::none_of(r->threads.begin(), r->threads.end(), [](auto& t) { return t.recycled; }))
        r->threads.push_back(empty_recycled_threads());
    for (ThreadInfo& t : r->threads) {
        if (t.recycled) {
            for (uint64_t i : orphans)
                if (!parse_sample_slot(slot_at(i), cfg, s, &t, error)) return false;
        } else if (t.slot_index < slots->count && !parse_sample_slot(slot_at(t.slot_index), cfg, s, &t, error)) {
            return false;
        }
    }
    return true;
}

void SampleTotals::add(const SampleTotals& o) {
    sampled += o.sampled;
    lost_no_unwinder += o.lost_no_unwinder;
    lost_stacks_full += o.lost_stacks_full;
    lost_counts_full += o.lost_counts_full;
    lost_reentered += o.lost_reentered;
    unreadable += o.unreadable;
}

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
    if (h.major < f::kOldestMajorRead || h.major > f::kMajor) {
        *error = fmt::format("recording format version {}.{} is not compatible with this vdsotrace, which reads "
                             "versions {}.x to {}.x; use the vdsotrace that made it",
                             h.major, h.minor, f::kOldestMajorRead, f::kMajor);
        return std::nullopt;
    }
    if (h.header_size < sizeof(f::Header) || h.header_size > size) {
        *error = fmt::format("header size {} is impossible for a {}-byte recording", h.header_size, size);
        return std::nullopt;
    }
    // Format 1 files hold the whole layout; format 2 files a prefix of it (they grow).
    const bool grows = h.major >= 2;
    if (grows ? h.segment_size < size || h.segment_size > f::kMaxSegmentSize : h.segment_size != size) {
        *error = fmt::format("the recording says it is {} bytes{} but the file has {}: {}", h.segment_size,
                             grows ? " at most" : "", size, grows ? "padded or corrupt" : "truncated or padded");
        return std::nullopt;
    }
    if (grows && h.backed_size > size) {
        *error = fmt::format("the recording had grown to {} bytes but the file has {}: truncated", h.backed_size, size);
        return std::nullopt;
    }
    if (h.section_count > f::kMaxSections) {
        *error = fmt::format("{} sections listed, at most {} possible: corrupt header", h.section_count,
                             f::kMaxSections);
        return std::nullopt;
    }

    // Counters a newer minor of this major adds are skipped; in older recordings they are corrupt.
    const bool newer_minor = h.major == f::kMajor && h.minor > f::kMinor;

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
    // 2.2, and 1.6 on the 1.x line, at the same offsets; before those the bytes are reserved (zero).
    if ((h.major == 1 && h.minor >= 6) || (h.major == 2 && h.minor >= 2) || h.major > 2) {
        r.reaped_by = h.reaped_by;
        r.last_activity_monotonic_ns = h.last_activity_monotonic_ns;
    }
    r.thread_capacity = h.thread_capacity;
    r.caller_capacity = h.caller_capacity;
    r.module_capacity = h.module_capacity;
    r.threads_claimed = h.threads_claimed;
    r.modules_claimed = h.modules_claimed;
    r.segment_id = h.tree.segment_id;
    r.parent_segment_id = h.tree.parent_segment_id;
    r.parent_pid = h.tree.parent_pid;
    r.tree_flags = h.tree.tree_flags;
    r.parent_start_ticks = h.tree.parent_start_ticks;
    r.previous_image_id = h.tree.previous_image_id;
    r.exec_monotonic_ns = h.tree.exec_monotonic_ns;
    r.session = bounded_string(h.session, sizeof h.session);
    r.doctor = h.doctor;
    r.exe = bounded_string(h.exe, sizeof h.exe);
    for (size_t i = 0, n = std::min<size_t>(h.cmdline_size, sizeof h.cmdline); i < n;) {
        std::string arg = bounded_string(h.cmdline + i, n - i);
        i += arg.size() + 1;
        r.argv.push_back(std::move(arg));
    }

    // What the file holds of each section (format 2); `h` keeps what the header declares, which must
    // fit the declared layout (checked, as format 1's sections are against the file).
    f::Header held = h;
    if (grows) {
        for (uint32_t si = 0; si < held.section_count; ++si) {
            const f::SectionEntry& s = h.sections[si];
            if (s.kind != 0 && s.entry_size != 0 &&
                (s.offset > h.segment_size || s.count > (h.segment_size - s.offset) / s.entry_size)) {
                *error = fmt::format("the {} section ({} entries of {} bytes at offset {}) runs past the end of the "
                                     "{}-byte layout: corrupt",
                                     section_name(s.kind), s.count, s.entry_size, s.offset, h.segment_size);
                return std::nullopt;
            }
            cut_to_file(&held.sections[si], size);
        }
    }

    bool have_threads = false;
    // Module table entries by index (duplicates included), and retired callers: resolved once all
    // sections are read, whatever their order.
    struct TableModule {
        uint64_t index, start, end;
        std::string path;
    };
    std::vector<TableModule> table_modules;
    std::vector<f::RetiredCallerEntry> retired;
    for (uint32_t si = 0; si < h.section_count; ++si) {
        const f::SectionEntry& s = held.sections[si];
        const uint64_t declared_count = h.sections[si].count;
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
                mi.unloaded = m.flags & f::kModuleUnloaded;
                table_modules.push_back({i, mi.start, mi.end, mi.path});
                bool duplicate = false;  // two threads may have added the same module at once
                for (const ModuleInfo& o : r.modules)
                    duplicate |= o.start == mi.start && o.end == mi.end && o.path == mi.path;
                if (!duplicate) r.modules.push_back(std::move(mi));
            }
        } else if (s.kind == f::kSectionVdsoImage) {
            if (s.count != declared_count) continue;  // not (yet) all in the file: no image rather than half of one
            if (!section_fits(s, size, 1, error, "vDSO image")) return std::nullopt;
            r.vdso_image = SharedBytes::interned(bytes.data() + s.offset, bytes.data() + s.offset + s.count);
        } else if (s.kind == f::kSectionCrash) {
            if (!section_fits(s, size, sizeof(f::CrashRecord), error, "crash record")) return std::nullopt;
            if (s.count == 0) continue;
            f::CrashRecord c;
            memcpy(&c, bytes.data() + s.offset, sizeof c);
            if (c.state != 1) continue;  // none, or being written when the copy was taken
            CrashInfo ci;
            ci.signal = c.signal;
            ci.code = c.code;
            ci.tid = c.tid;
            ci.in_vdso = c.where == f::kCrashInVdso;
            ci.fault_address = c.fault_address;
            ci.pc = c.pc;
            ci.sp = c.sp;
            ci.vdso_base = c.vdso_base;
            ci.stack_known = c.flags & f::kCrashStackKnown;
            ci.fault_in_guard = c.flags & f::kCrashFaultInGuard;
            ci.stack_start = c.stack_start;
            ci.stack_end = c.stack_end;
            ci.monotonic_ns = c.monotonic_ns;
            for (uint32_t i = 0; i < std::min<uint32_t>(c.return_count, f::kCrashReturns); ++i) {
                ci.returns.push_back(c.returns[i]);
                ci.return_slots.push_back(c.return_slots[i]);
            }
            ci.stack_words.assign(c.stack_words, c.stack_words + std::min<uint32_t>(c.stack_word_count, f::kCrashStackWords));
            r.crash = std::move(ci);
        } else if (s.kind == f::kSectionWrapperSites) {
            if (!section_fits(s, size, sizeof(f::WrapperSiteEntry), error, "wrapper site")) return std::nullopt;
            // Sized to the last entry in use, not the capacity: the entries are indexed by position,
            // and a short process's table is a few entries of a thousand (a string each).
            uint64_t n = std::min<uint64_t>(s.count, f::kWrapperSiteCapacity);
            while (n > 0) {
                f::WrapperSiteEntry last;
                memcpy(&last, bytes.data() + s.offset + (n - 1) * s.entry_size, sizeof last);
                if (last.state == f::kWrapperSiteReady) break;
                --n;
            }
            r.wrapper_sites.resize(n);
            for (uint64_t i = 0; i < n; ++i) {
                f::WrapperSiteEntry e;
                memcpy(&e, bytes.data() + s.offset + i * s.entry_size, sizeof e);
                if (e.state != f::kWrapperSiteReady) continue;
                r.wrapper_sites[i] = {e.address, e.depth, std::string(e.name, strnlen(e.name, sizeof e.name))};
            }
        } else if (s.kind == f::kSectionPythonSites) {
            if (!section_fits(s, size, sizeof(f::PythonSiteEntry), error, "Python site")) return std::nullopt;
            const uint64_t n = std::min<uint64_t>(s.count, 1u << 20);
            r.python_sites.resize(n);
            for (uint64_t i = 0; i < n; ++i) {
                f::PythonSiteEntry e;
                memcpy(&e, bytes.data() + s.offset + i * s.entry_size, sizeof e);
                if (e.state != f::kWrapperSiteReady) continue;
                r.python_sites[i] = {true, std::string(e.function, strnlen(e.function, sizeof e.function)),
                                     std::string(e.file, strnlen(e.file, sizeof e.file)), e.line, e.first_line};
            }
        } else if (s.kind == f::kSectionRuntimes) {
            if (!section_fits(s, size, sizeof(f::RuntimeEntry), error, "runtime")) return std::nullopt;
            for (uint64_t i = 0; i < std::min<uint64_t>(s.count, 64); ++i) {
                f::RuntimeEntry e;
                memcpy(&e, bytes.data() + s.offset + i * s.entry_size, sizeof e);
                if (e.state != f::kRuntimeRead && e.state != f::kRuntimeUnreadable) continue;
                r.runtimes.push_back({std::string(e.name, strnlen(e.name, sizeof e.name)), e.version,
                                      e.state == f::kRuntimeRead, std::string(e.reason, strnlen(e.reason, sizeof e.reason))});
            }
        } else if (s.kind == f::kSectionHeadroom) {
            if (!section_fits(s, size, sizeof(f::HeadroomEntry), error, "stack headroom")) return std::nullopt;
            for (uint64_t i = 0; i < s.count; ++i) {
                f::HeadroomEntry e;
                memcpy(&e, bytes.data() + s.offset + i * s.entry_size, sizeof e);
                if (e.key == 0 || e.min_headroom == 0) continue;  // empty, or claimed but not yet written
                const unsigned counter = f::caller_counter(e.key);
                if (counter >= f::kCounterSlots) {
                    *error = fmt::format("corrupt stack headroom entry {}", i);
                    return std::nullopt;
                }
                r.headroom.push_back({counter, f::caller_address(e.key), e.min_headroom - 1, e.calls});
            }
        } else if (s.kind == f::kSectionThreads) {
            const uint32_t cap = h.caller_capacity;
            if (cap == 0 || cap > (1u << 20) || declared_count == 0) {
                *error = fmt::format("impossible thread table ({} slots, {} callers each)", declared_count, cap);
                return std::nullopt;
            }
            if (!section_fits(s, size, f::thread_slot_size(cap), error, "thread")) return std::nullopt;
            have_threads = true;
            // The shared slot is the last one declared (in a growing file, present once used).
            const uint64_t used = std::min<uint64_t>(h.threads_claimed, declared_count - 1);
            for (uint64_t i = 0; i < s.count; ++i) {
                const bool shared_slot = i == declared_count - 1;
                if (i >= used && !shared_slot) continue;
                const unsigned char* slot = bytes.data() + s.offset + i * s.entry_size;
                f::ThreadSlotHeader sh;
                memcpy(&sh, slot, sizeof sh);
                // Slots given back by exited threads (their counts are in the exited-threads slot)
                // and slots being claimed this instant hold nothing.
                if (!shared_slot && (sh.state == f::kThreadRecycled || sh.state == f::kThreadFree)) continue;
                ThreadInfo t;
                t.slot_index = i;
                if (!read_slot(slot, cap, &t, error, i, newer_minor)) return std::nullopt;
                t.tid = shared_slot ? 0 : sh.tid;
                t.name = shared_slot ? "(threads beyond capacity)" : bounded_string(sh.name, sizeof sh.name);
                t.exited = sh.state == f::kThreadExited;
                t.shared = shared_slot;
                if (shared_slot && t.total() == 0) continue;
                r.threads.push_back(std::move(t));
            }
        } else if (s.kind == f::kSectionExitedThreads) {
            const uint32_t cap = h.caller_capacity;
            if (cap == 0 || cap > (1u << 20) || declared_count != 1) {
                *error = fmt::format("impossible exited-threads slot ({} slots, {} callers each)", declared_count, cap);
                return std::nullopt;
            }
            if (s.count == 0) continue;  // not in the file
            if (!section_fits(s, size, f::thread_slot_size(cap), error, "exited-threads")) return std::nullopt;
            ThreadInfo t;
            if (!read_slot(bytes.data() + s.offset, cap, &t, error, 0, newer_minor)) return std::nullopt;
            t.name = kRecycledThreadsName;
            t.exited = true;
            t.recycled = true;
            if (t.total() != 0) r.threads.push_back(std::move(t));
        } else if (s.kind == f::kSectionThreadLog) {
            if (!section_fits(s, size, sizeof(f::ExitedThreadEntry), error, "thread log")) return std::nullopt;
            const uint64_t used = std::min<uint64_t>(h.tree.threads_logged, s.count);
            for (uint64_t i = 0; i < used; ++i) {
                f::ExitedThreadEntry e;
                memcpy(&e, bytes.data() + s.offset + i * s.entry_size, sizeof e);
                if (e.state != 1) continue;
                r.exited_threads.push_back({e.tid, bounded_string(e.name, sizeof e.name), e.calls});
            }
            r.threads_logged = h.tree.threads_logged;
            r.thread_log_capacity = declared_count;
        } else if (s.kind == f::kSectionRetiredCallers) {
            if (!section_fits(s, size, sizeof(f::RetiredCallerEntry), error, "retired caller")) return std::nullopt;
            for (uint64_t i = 0; i < std::min<uint64_t>(s.count, 1u << 20); ++i) {
                f::RetiredCallerEntry e;
                memcpy(&e, bytes.data() + s.offset + i * s.entry_size, sizeof e);
                if (e.state != 2) continue;  // free, or being written this instant
                if (e.key == 0 || f::caller_counter(e.key) >= f::kCounterSlots) {
                    *error = fmt::format("corrupt retired caller entry {}", i);
                    return std::nullopt;
                }
                retired.push_back(e);
            }
        }
        // Unknown section kinds come from a newer minor version: skipped by design.
    }
    if (!have_threads) {
        *error = "the recording has no thread table";
        return std::nullopt;
    }
    add_retired_callers(&r, table_modules, retired);
    if (!parse_sampling(bytes, held, h, &r, error)) return std::nullopt;
    return r;
}

namespace {

// Reads [0, size) of `fd` into `out` as pread would, without reading the holes: a live segment is
// mostly entries never reserved (92 of a short process's 124 KiB), which the kernel would copy
// from its zero page only for us to scan them as zeros again. SEEK_DATA/SEEK_HOLE find the parts
// the file holds (tmpfs and every common file system answer them); where they are not answered,
// every byte is read. Returns the bytes read or zeroed, short only at an early end of file.
size_t read_sparse(int fd, unsigned char* out, size_t size) {
    auto read_range = [&](size_t from, size_t to) {
        while (from < to) {
            const ssize_t n = pread(fd, out + from, to - from, off_t(from));
            if (n <= 0) return from;
            from += size_t(n);
        }
        return to;
    };
    size_t at = 0;
    while (at < size) {
        const off_t data = lseek(fd, off_t(at), SEEK_DATA);
        if (data < 0) {
            if (errno != ENXIO) return read_range(at, size);  // not answered: read it all
            memset(out + at, 0, size - at);                   // a hole to the end
            return size;
        }
        const size_t data_at = std::min(size, size_t(data));
        memset(out + at, 0, data_at - at);
        const off_t hole = lseek(fd, data, SEEK_HOLE);
        const size_t data_end = hole < 0 ? size : std::min(size, size_t(hole));
        if (data_end <= data_at) return read_range(data_at, size);  // answers that make no progress
        const size_t got = read_range(data_at, data_end);
        if (got < data_end) return got;  // the file ended early (truncated meanwhile)
        at = data_end;
    }
    return size;
}

}  // namespace

bool read_recording_file(const std::string& path, std::vector<unsigned char>* bytes, std::string* error,
                         bool allow_other_users) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);  // O_NONBLOCK: a FIFO must not hang us
    if (fd < 0) {
        *error = fmt::format("cannot open {}: {}", path, strerror(errno));
        return false;
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        *error = fmt::format("{} is not a regular file", path);
        return false;
    }
    if (st.st_uid != getuid() && !allow_other_users) {
        close(fd);
        *error = fmt::format("{} is owned by uid {}, not by you (uid {}): not read; pass --allow-other-users to "
                             "read another user's recording on purpose",
                             path, st.st_uid, getuid());
        return false;
    }
    if (uint64_t(st.st_size) > f::kMaxSegmentSize) {
        close(fd);
        *error = fmt::format("{} is {} bytes, larger than any recording", path, st.st_size);
        return false;
    }
    // Plain reads of a live segment: the writer is never blocked nor slowed by a reader. A format 2
    // segment may grow between fstat and the read of its header (which then says it holds more
    // than was read): read again, a few times, before calling it truncated.
    for (int attempt = 0;; ++attempt) {
        bytes->resize(size_t(st.st_size));  // no zeroing: every byte kept is read or zeroed below
        const size_t got = read_sparse(fd, bytes->data(), bytes->size());
        bytes->resize(got);
        const bool caught_growing = got >= sizeof(f::Header) &&
                                    reinterpret_cast<const f::Header*>(bytes->data())->major >= 2 &&
                                    reinterpret_cast<const f::Header*>(bytes->data())->backed_size > got;
        if (!caught_growing || attempt == 3 || fstat(fd, &st) != 0 || uint64_t(st.st_size) > f::kMaxSegmentSize) break;
    }
    close(fd);
    return true;
}

std::optional<Recording> load_recording(const std::string& path, std::string* error, bool allow_other_users) {
    thread_local std::vector<unsigned char> bytes;  // reused: see load_recordings
    if (!read_recording_file(path, &bytes, error, allow_other_users)) return std::nullopt;
    std::string why;
    auto r = parse_recording(bytes, path, &why);
    if (!r) *error = fmt::format("{}: {}", path, why);
    return r;
}

namespace {

bool is_sampling_section(uint32_t kind) {
    return kind == f::kSectionStacks || kind == f::kSectionStackFrames || kind == f::kSectionSampleSlots;
}

// A compact copy of the recording at `fd` without its sampling sections: the header (its section
// directory and size rewritten to match), then every other section, each read at its own offset.
// False when the header does not allow it (then the whole file is read, and parse_recording says
// what is wrong with it).
bool read_without_samples(int fd, uint64_t file_size, std::vector<unsigned char>* bytes) {
    f::Header h;
    if (file_size < sizeof h || pread(fd, &h, sizeof h, 0) != ssize_t(sizeof h)) return false;
    if (memcmp(h.magic, f::kMagic, sizeof h.magic) != 0 || h.byte_order != f::kByteOrderMark ||
        h.major < f::kOldestMajorRead || h.major > f::kMajor || h.header_size < sizeof h || h.header_size > file_size ||
        h.section_count > f::kMaxSections)
        return false;
    if (h.major >= 2) {
        // A growing file: the sampling sections come last in its layout, so the copy is the file up
        // to them, sections in place (the thread table's last declared slot stays the shared one).
        if (h.segment_size < file_size) return false;
        uint64_t cut = file_size;
        for (uint32_t i = 0; i < h.section_count; ++i)
            if (is_sampling_section(h.sections[i].kind)) cut = std::min<uint64_t>(cut, h.sections[i].offset);
        if (cut < h.header_size) return false;
        bytes->assign(cut, 0);
        for (uint64_t got = 0; got < cut;) {
            const ssize_t n = pread(fd, bytes->data() + got, cut - got, off_t(got));
            if (n <= 0) return false;
            got += uint64_t(n);
        }
        auto* copy = reinterpret_cast<f::Header*>(bytes->data());
        for (uint32_t i = 0; i < h.section_count; ++i)
            if (is_sampling_section(copy->sections[i].kind)) copy->sections[i] = f::SectionEntry{};
        copy->sampling = f::Header::Sampling{};
        return true;
    }
    if (h.segment_size != file_size) return false;
    uint64_t total = h.header_size;
    for (uint32_t i = 0; i < h.section_count; ++i) {
        const f::SectionEntry& e = h.sections[i];
        if (e.kind == 0 || is_sampling_section(e.kind)) continue;
        if (e.offset > file_size || e.entry_size == 0 || e.count > (file_size - e.offset) / e.entry_size) return false;
        total += e.entry_size * e.count;
    }
    bytes->assign(total, 0);
    uint64_t at = 0;
    auto read_at = [&](uint64_t from, uint64_t n) {
        for (uint64_t got = 0; got < n;) {
            const ssize_t r = pread(fd, bytes->data() + at + got, n - got, off_t(from + got));
            if (r <= 0) return false;
            got += uint64_t(r);
        }
        at += n;
        return true;
    };
    if (!read_at(0, h.header_size)) return false;
    auto* copy = reinterpret_cast<f::Header*>(bytes->data());
    for (uint32_t i = 0; i < h.section_count; ++i) {
        f::SectionEntry& e = copy->sections[i];
        if (e.kind == 0) continue;
        if (is_sampling_section(e.kind)) {
            e = f::SectionEntry{};
            continue;
        }
        const uint64_t from = e.offset;
        e.offset = at;
        if (!read_at(from, e.entry_size * e.count)) return false;
    }
    copy->sampling = f::Header::Sampling{};
    copy->segment_size = total;
    return true;
}

}  // namespace

std::optional<Recording> load_recording_summary(const std::string& path, std::string* error) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st {};
    std::vector<unsigned char> bytes;
    const bool compact = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == getuid() &&
                         read_without_samples(fd, uint64_t(st.st_size), &bytes);
    if (fd >= 0) close(fd);
    if (!compact) return load_recording(path, error);  // its checks and messages, on the whole file
    std::string why;
    auto r = parse_recording(bytes, path, &why);
    if (!r) *error = fmt::format("{}: {}", path, why);
    return r;
}

}  // namespace vdsotrace::tools
