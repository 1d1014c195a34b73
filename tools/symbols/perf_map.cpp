#include "tools/symbols/perf_map.h"

#include <algorithm>
#include <map>

#include "tools/symbols/address_ranges.h"

namespace vdsotrace::tools {

namespace {

// Reads a hex number (an optional 0x, at most 16 digits) at `*at`, moving past it.
bool read_hex(std::string_view line, size_t* at, uint64_t* out) {
    size_t i = *at;
    if (line.size() - i >= 2 && line[i] == '0' && (line[i + 1] == 'x' || line[i + 1] == 'X')) i += 2;
    uint64_t v = 0;
    size_t digits = 0;
    for (; i < line.size(); ++i, ++digits) {
        const char c = line[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            break;
        if (digits == 16) return false;
        v = v << 4 | uint64_t(d);
    }
    if (digits == 0) return false;
    *at = i;
    *out = v;
    return true;
}

}  // namespace

PerfMap PerfMap::parse(std::string_view text) {
    PerfMap map;
    // Start -> range, never overlapping; each new line cuts what it covers out of older ranges.
    std::map<uint64_t, Range> live;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        pos = eol + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        // Fields apart by blanks, as perf's own sscanf("%lx %lx %n") reads them.
        auto blanks = [&](size_t* at) {
            const size_t from = *at;
            while (*at < line.size() && (line[*at] == ' ' || line[*at] == '\t')) ++*at;
            return *at > from;
        };
        size_t at = 0;
        uint64_t start = 0, size = 0;
        blanks(&at);
        if (!read_hex(line, &at, &start) || !blanks(&at)) continue;
        if (!read_hex(line, &at, &size) || !blanks(&at)) continue;
        const std::string_view name = line.substr(at);
        if (size == 0 || name.empty() || start + size < start) continue;
        ++map.lines_;
        const uint64_t end = start + size;

        auto it = live.lower_bound(start);
        if (it != live.begin() && std::prev(it)->second.end > start) --it;
        while (it != live.end() && it->second.start < end) {
            Range old = it->second;
            it = live.erase(it);
            if (old.start < start) live.emplace(old.start, Range{old.start, start, old.symbol_start, old.name});
            if (old.end > end) live.emplace(end, Range{end, old.end, old.symbol_start, old.name});
        }
        map.names_.emplace_back(name);
        live.emplace(start, Range{start, end, start, uint32_t(map.names_.size() - 1)});
    }
    map.ranges_.reserve(live.size());
    for (auto& [start, r] : live) map.ranges_.push_back(r);
    return map;
}

const std::string* PerfMap::find(uint64_t address, uint64_t* offset) const {
    const Range* r = range_holding(
        ranges_, address, [](const Range& x) { return x.start; }, [](const Range& x) { return x.end; });
    if (r == nullptr) return nullptr;
    if (offset != nullptr) *offset = address - r->symbol_start;
    return &names_[r->name];
}

}  // namespace vdsotrace::tools
