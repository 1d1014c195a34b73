#include "tools/recordings/live_reading.h"

#include <time.h>
#include <unistd.h>

#include "tools/recordings/recording_store.h"
#include "tracer/common/clock_now.h"

namespace vdsotrace::tools {

bool take_reading(const std::string& target, Reading* out, std::string* error) {
    out->recordings.clear();
    out->running.clear();
    out->monotonic_ns = now_ns(CLOCK_MONOTONIC);
    const std::vector<std::string> files = resolve_target(target, getuid(), error);
    for (const std::string& file : files) {
        std::string why;
        if (auto r = load_recording_summary(file, &why)) {
            if (fate_of(*r) == ProcessFate::kRunning) out->running.insert(file);
            out->recordings.emplace(file, std::move(*r));
        }
        // A recording removed or half-written between listing and reading is skipped this round.
    }
    if (out->recordings.empty() && error->empty()) *error = "no readable recording";
    return !out->recordings.empty();
}

}  // namespace vdsotrace::tools
