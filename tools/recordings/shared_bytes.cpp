#include "tools/recordings/shared_bytes.h"

#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>

namespace vdsotrace::tools {

namespace {

uint64_t fnv1a(const unsigned char* p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

}  // namespace

const std::vector<unsigned char>& SharedBytes::empty_bytes() {
    static const std::vector<unsigned char> none;
    return none;
}

SharedBytes SharedBytes::interned(const unsigned char* first, const unsigned char* last) {
    SharedBytes out;
    const size_t n = size_t(last - first);
    if (n == 0) return out;
    // By hash, then compared: the copies alive (weak: the table holds none of them alive).
    static std::mutex mutex;
    static std::multimap<uint64_t, std::weak_ptr<const std::vector<unsigned char>>> table;
    const uint64_t h = fnv1a(first, n);
    std::lock_guard<std::mutex> lock(mutex);
    auto [lo, hi] = table.equal_range(h);
    for (auto it = lo; it != hi;) {
        auto held = it->second.lock();
        if (!held) {
            it = table.erase(it);
            continue;
        }
        if (held->size() == n && memcmp(held->data(), first, n) == 0) {
            out.bytes_ = std::move(held);
            return out;
        }
        ++it;
    }
    // Entries of copies no longer held are dropped as their hash comes again, and all at once
    // when the table has grown (a long `top` reading recordings of many different images).
    if (table.size() >= 64) std::erase_if(table, [](const auto& e) { return e.second.expired(); });
    auto copy = std::make_shared<const std::vector<unsigned char>>(first, last);
    table.emplace(h, copy);
    out.bytes_ = std::move(copy);
    return out;
}

}  // namespace vdsotrace::tools
