#include "tracer/format/segment_layout.h"

#include <cstring>

namespace vdsotrace::format {

namespace {

size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

void add_section(Header* h, uint32_t kind, uint32_t entry_size, uint64_t offset, uint64_t count) {
    if (h == nullptr) return;  // only the size is wanted
    SectionEntry& s = h->sections[h->section_count++];
    s.kind = kind;
    s.entry_size = entry_size;
    s.offset = offset;
    s.count = count;
}

}  // namespace

size_t plan_layout(const LayoutSizes& sizes, size_t vdso_size, Header* h) {
    if (h != nullptr) h->section_count = 0;
    const size_t slot = thread_slot_size(sizes.callers);
    const uint64_t slots = uint64_t(sizes.threads) + 1;  // the last one is shared
    // Offsets in the order programs fill the sections (see the header). First what every
    // recording has, reserved at creation: the small fixed tables and the vDSO image.
    size_t offset = kHeaderSize;
    auto place = [&offset](size_t bytes, size_t align = 64) {
        offset = align_up(offset, align);
        const size_t at = offset;
        offset += bytes;
        return at;
    };
    const size_t crash = place(sizeof(CrashRecord));
    const size_t headroom = place(sizeof(HeadroomEntry) * kHeadroomEntries);
    const size_t runtimes = place(sizeof(RuntimeEntry) * kRuntimeCapacity);
    const size_t exited = place(slot);
    const size_t vdso = place(vdso_size);
    // Then the tables that grow entry by entry: the few modules and wrapper sites every program
    // has, the thread slots (a short process uses one), and behind them what only some programs
    // use (threads that exit, Python code, unloaded libraries' callers, stack samples).
    const size_t modules = place(size_t(sizes.modules) * sizeof(ModuleEntry), 4096);
    const size_t wrappers = place(sizeof(WrapperSiteEntry) * kWrapperSiteCapacity);
    const size_t threads = place(slot * slots);
    const size_t thread_log = place(sizeof(ExitedThreadEntry) * kThreadLogEntries);
    const size_t python = place(sizeof(PythonSiteEntry) * kPythonSiteCapacity);
    const size_t retired = place(sizeof(RetiredCallerEntry) * kRetiredCallerCapacity);
    Header::Sampling sampling{};
    size_t stacks = 0, frames = 0, sample_slots = 0, sample_slot = 0;
    if (sizes.sample > 0) {
        sampling.period = sizes.sample;
        sampling.max_depth = sizes.sample_depth;
        sampling.unwinder = sizes.unwinder;
        sampling.stack_capacity = sizes.stacks;
        sampling.count_capacity = sizes.stack_counts;
        sampling.ring_capacity = sizes.sample_ring;
        sampling.frame_capacity = sizes.stacks * 16;  // 16 frames a stack on average
        stacks = place(size_t(sampling.stack_capacity) * sizeof(StackEntry));
        frames = place(size_t(sampling.frame_capacity) * sizeof(uint64_t));
        sample_slot = align_up(sample_slot_size(sampling.count_capacity, sampling.ring_capacity), 64);
        sample_slots = place(sample_slot * slots);
    }
    // The directory keeps the order of format 1 (readers list what they find in this order).
    add_section(h, kSectionModules, sizeof(ModuleEntry), modules, sizes.modules);
    if (vdso_size > 0) add_section(h, kSectionVdsoImage, 1, vdso, vdso_size);
    add_section(h, kSectionThreads, uint32_t(slot), threads, slots);
    if (sizes.sample > 0) {
        add_section(h, kSectionStacks, sizeof(StackEntry), stacks, sampling.stack_capacity);
        add_section(h, kSectionStackFrames, sizeof(uint64_t), frames, sampling.frame_capacity);
        add_section(h, kSectionSampleSlots, uint32_t(sample_slot), sample_slots, slots);
        if (h != nullptr) h->sampling = sampling;
    }
    add_section(h, kSectionCrash, sizeof(CrashRecord), crash, 1);
    add_section(h, kSectionExitedThreads, uint32_t(slot), exited, 1);
    add_section(h, kSectionThreadLog, sizeof(ExitedThreadEntry), thread_log, kThreadLogEntries);
    add_section(h, kSectionHeadroom, sizeof(HeadroomEntry), headroom, kHeadroomEntries);
    add_section(h, kSectionWrapperSites, sizeof(WrapperSiteEntry), wrappers, kWrapperSiteCapacity);
    add_section(h, kSectionPythonSites, sizeof(PythonSiteEntry), python, kPythonSiteCapacity);
    add_section(h, kSectionRuntimes, sizeof(RuntimeEntry), runtimes, kRuntimeCapacity);
    add_section(h, kSectionRetiredCallers, sizeof(RetiredCallerEntry), retired, kRetiredCallerCapacity);
    const size_t size = align_up(offset, 4096);
    if (h == nullptr) return size;
    h->thread_capacity = sizes.threads;
    h->caller_capacity = sizes.callers;
    h->module_capacity = sizes.modules;
    memcpy(h->magic, kMagic, sizeof h->magic);
    h->major = kMajor;
    h->minor = kMinor;
    h->header_size = kHeaderSize;
    h->byte_order = kByteOrderMark;
    h->segment_size = size;
    return size;
}

size_t section_offset(const Header& h, uint32_t kind) {
    for (uint32_t i = 0; i < h.section_count && i < kMaxSections; ++i)
        if (h.sections[i].kind == kind) return h.sections[i].offset;
    return h.segment_size;
}

size_t fixed_part_size(const Header& h) { return section_offset(h, kSectionModules); }

void bind_segment(Header* h, Segment* seg) {
    auto* base = reinterpret_cast<unsigned char*>(h);
    seg->header = h;
    seg->size = h->segment_size;
    seg->growable = false;  // a whole layout in memory: the engine's create_segment says otherwise
    for (uint32_t i = 0; i < h->section_count; ++i) {
        const SectionEntry& s = h->sections[i];
        if (s.kind == kSectionModules) {
            seg->modules = reinterpret_cast<ModuleEntry*>(base + s.offset);
            seg->module_capacity = uint32_t(s.count);
        } else if (s.kind == kSectionThreads) {
            seg->threads = base + s.offset;
            seg->thread_capacity = uint32_t(s.count - 1);
            seg->slot_size = s.entry_size;
        } else if (s.kind == kSectionStacks) {
            seg->stacks = reinterpret_cast<StackEntry*>(base + s.offset);
        } else if (s.kind == kSectionStackFrames) {
            seg->frames = reinterpret_cast<uint64_t*>(base + s.offset);
        } else if (s.kind == kSectionSampleSlots) {
            seg->sample_slots = base + s.offset;
            seg->sample_slot_size = s.entry_size;
        } else if (s.kind == kSectionCrash) {
            seg->crash = reinterpret_cast<CrashRecord*>(base + s.offset);
        } else if (s.kind == kSectionExitedThreads) {
            seg->exited_slot = base + s.offset;
        } else if (s.kind == kSectionThreadLog) {
            seg->thread_log = reinterpret_cast<ExitedThreadEntry*>(base + s.offset);
            seg->thread_log_capacity = uint32_t(s.count);
        } else if (s.kind == kSectionHeadroom) {
            seg->headroom = reinterpret_cast<HeadroomEntry*>(base + s.offset);
            seg->headroom_capacity = uint32_t(s.count);
        } else if (s.kind == kSectionWrapperSites) {
            seg->wrapper_sites = reinterpret_cast<WrapperSiteEntry*>(base + s.offset);
            seg->wrapper_site_capacity = uint32_t(s.count);
        } else if (s.kind == kSectionPythonSites) {
            seg->python_sites = reinterpret_cast<PythonSiteEntry*>(base + s.offset);
            seg->python_site_capacity = uint32_t(s.count);
        } else if (s.kind == kSectionRuntimes) {
            seg->runtimes = reinterpret_cast<RuntimeEntry*>(base + s.offset);
            seg->runtime_capacity = uint32_t(s.count);
        } else if (s.kind == kSectionRetiredCallers) {
            seg->retired = reinterpret_cast<RetiredCallerEntry*>(base + s.offset);
            seg->retired_capacity = uint32_t(s.count);
        }
    }
}

}  // namespace vdsotrace::format
