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
    size_t offset = kHeaderSize;
    add_section(h, kSectionModules, sizeof(ModuleEntry), offset, sizes.modules);
    offset += size_t(sizes.modules) * sizeof(ModuleEntry);
    if (vdso_size > 0) {
        add_section(h, kSectionVdsoImage, 1, offset, vdso_size);
        offset = align_up(offset + vdso_size, 64);
    }
    const size_t slot = thread_slot_size(sizes.callers);
    add_section(h, kSectionThreads, uint32_t(slot), offset, uint64_t(sizes.threads) + 1);
    offset += slot * (size_t(sizes.threads) + 1);
    if (sizes.sample > 0) {
        Header::Sampling s{};
        s.period = sizes.sample;
        s.max_depth = sizes.sample_depth;
        s.unwinder = sizes.unwinder;
        s.stack_capacity = sizes.stacks;
        s.count_capacity = sizes.stack_counts;
        s.ring_capacity = sizes.sample_ring;
        s.frame_capacity = sizes.stacks * 16;  // 16 frames a stack on average
        add_section(h, kSectionStacks, sizeof(StackEntry), offset, s.stack_capacity);
        offset = align_up(offset + size_t(s.stack_capacity) * sizeof(StackEntry), 64);
        add_section(h, kSectionStackFrames, sizeof(uint64_t), offset, s.frame_capacity);
        offset += size_t(s.frame_capacity) * sizeof(uint64_t);
        const size_t sample_slot = align_up(sample_slot_size(s.count_capacity, s.ring_capacity), 64);
        add_section(h, kSectionSampleSlots, uint32_t(sample_slot), offset, uint64_t(sizes.threads) + 1);
        offset += sample_slot * (size_t(sizes.threads) + 1);
        if (h != nullptr) h->sampling = s;
    }
    add_section(h, kSectionCrash, sizeof(CrashRecord), offset, 1);
    offset += sizeof(CrashRecord);
    add_section(h, kSectionExitedThreads, uint32_t(slot), offset, 1);
    offset += slot;
    add_section(h, kSectionThreadLog, sizeof(ExitedThreadEntry), offset, kThreadLogEntries);
    offset += sizeof(ExitedThreadEntry) * kThreadLogEntries;
    add_section(h, kSectionHeadroom, sizeof(HeadroomEntry), offset, kHeadroomEntries);
    offset += sizeof(HeadroomEntry) * kHeadroomEntries;
    add_section(h, kSectionWrapperSites, sizeof(WrapperSiteEntry), offset, kWrapperSiteCapacity);
    offset += sizeof(WrapperSiteEntry) * kWrapperSiteCapacity;
    add_section(h, kSectionPythonSites, sizeof(PythonSiteEntry), offset, kPythonSiteCapacity);
    offset += sizeof(PythonSiteEntry) * kPythonSiteCapacity;
    add_section(h, kSectionRuntimes, sizeof(RuntimeEntry), offset, kRuntimeCapacity);
    offset += sizeof(RuntimeEntry) * kRuntimeCapacity;
    add_section(h, kSectionRetiredCallers, sizeof(RetiredCallerEntry), offset, kRetiredCallerCapacity);
    offset += sizeof(RetiredCallerEntry) * kRetiredCallerCapacity;
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

void bind_segment(Header* h, Segment* seg) {
    auto* base = reinterpret_cast<unsigned char*>(h);
    seg->header = h;
    seg->size = h->segment_size;
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
