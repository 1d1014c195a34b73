// What the reader tests start from: a zeroed recording laid out by the writer's own plan_layout
// (identification, section directory and capacities filled in), so each test writes only the
// fields it is about; TestRecording puts its header, thread slots and sections at hand.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "tracer/engine/segment_create.h"
#include "tracer/format/segment_format.h"

namespace vdsotrace::testing {

inline std::vector<unsigned char> blank_recording(const tracer::Settings& settings, size_t vdso_size) {
    format::Header plan{};
    std::vector<unsigned char> bytes(tracer::plan_layout(settings, vdso_size, &plan), 0);
    std::memcpy(bytes.data(), &plan, sizeof plan);
    return bytes;
}

// The capacities the reader tests share: `threads` thread slots of 16 callers, 8 modules.
inline tracer::Settings small_settings(uint32_t threads = 1) {
    tracer::Settings s;
    s.threads = threads;
    s.callers = 16;
    s.modules = 8;
    return s;
}

// A blank recording (blank_recording) with the writer's view of it (format::Segment) bound.
struct TestRecording {
    std::vector<unsigned char> bytes;
    tracer::Segment seg;

    explicit TestRecording(const tracer::Settings& settings = small_settings(), size_t vdso_size = 0)
        : bytes(blank_recording(settings, vdso_size)) {
        tracer::bind_segment(header(), &seg);
    }
    // Moving keeps the vector's buffer, so `seg` stays bound to it; a copy would not.
    TestRecording(TestRecording&&) = default;
    TestRecording& operator=(TestRecording&&) = default;
    TestRecording(const TestRecording&) = delete;
    TestRecording& operator=(const TestRecording&) = delete;

    format::Header* header() { return reinterpret_cast<format::Header*>(bytes.data()); }
    // Thread slot `i` (the shared overflow slot is the one after the last private slot).
    unsigned char* slot(uint32_t i) { return seg.threads + size_t(i) * seg.slot_size; }
    format::ThreadSlotHeader* thread(uint32_t i) { return reinterpret_cast<format::ThreadSlotHeader*>(slot(i)); }
    format::CallerEntry* callers(uint32_t i) {
        return reinterpret_cast<format::CallerEntry*>(slot(i) + format::kSlotCallersOffset);
    }
    uint64_t* unattributed(uint32_t i) { return reinterpret_cast<uint64_t*>(slot(i) + format::kSlotUnattributedOffset); }
    // Slot `i` claimed by thread `tid`, live, and counted in the header's claimed slots.
    format::ThreadSlotHeader* live_thread(uint32_t i, int tid) {
        format::ThreadSlotHeader* t = thread(i);
        t->state = format::kThreadLive;
        t->tid = tid;
        header()->threads_claimed = std::max(header()->threads_claimed, uint64_t(i) + 1);
        return t;
    }
    format::SectionEntry* section(uint32_t kind) {
        for (uint32_t i = 0; i < header()->section_count; ++i)
            if (header()->sections[i].kind == kind) return &header()->sections[i];
        return nullptr;
    }
};

}  // namespace vdsotrace::testing
