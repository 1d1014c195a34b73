// What the reader tests start from: a zeroed recording laid out by the writer's own plan_layout
// (identification, section directory and capacities filled in), so each test writes only the
// fields it is about.
#pragma once

#include <cstring>
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

}  // namespace vdsotrace::testing
