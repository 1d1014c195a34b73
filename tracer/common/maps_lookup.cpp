#include "tracer/common/maps_lookup.h"

#include <fcntl.h>
#include <unistd.h>

namespace vdsotrace::tracer {

namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// Parses "start-end perms" at the start of a line. Returns false on anything else.
bool parse_line(const char* p, const char* end, MapRange* out) {
    uint64_t v[2] = {0, 0};
    for (int i = 0; i < 2; ++i) {
        int n = 0;
        for (int d; p < end && (d = hex_digit(*p)) >= 0; ++p, ++n) v[i] = v[i] << 4 | uint64_t(d);
        if (n == 0 || p >= end || *p != (i == 0 ? '-' : ' ')) return false;
        ++p;
    }
    if (end - p < 3) return false;
    out->start = v[0];
    out->end = v[1];
    out->readable = p[0] == 'r';
    out->writable = p[1] == 'w';
    out->accessible = p[0] == 'r' || p[1] == 'w' || p[2] == 'x';
    return true;
}

}  // namespace

bool lookup_mappings(uint64_t address, MapRange* containing, MapRange* above) {
    *containing = MapRange{};
    *above = MapRange{};
    const int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[1024];  // small: this runs on the stack of a thread that may have little left
    size_t have = 0;
    bool eof = false;
    while (!eof || have > 0) {
        // Take one line (or, if none fits, the whole buffer: its start is all we need). Read only
        // when no whole line is buffered: each read of /proc/self/maps walks the mappings again,
        // and refilling after every line made it a read per line (a start-up cost of every
        // process under the shim).
        size_t len = 0;
        while (len < have && buf[len] != '\n') ++len;
        if (len == have && !eof && have < sizeof buf) {
            const ssize_t n = read(fd, buf + have, sizeof buf - have);
            if (n <= 0) eof = true;
            else have += size_t(n);
            continue;
        }
        MapRange r;
        if (parse_line(buf, buf + len, &r)) {
            if (address >= r.start && address < r.end) *containing = r;
            if (r.start > address && (above->end == 0 || r.start < above->start)) *above = r;
        }
        // Drop the line; an over-long line is dropped up to its newline in later rounds.
        size_t drop = len < have ? len + 1 : have;
        for (size_t i = drop; i < have; ++i) buf[i - drop] = buf[i];
        have -= drop;
        if (len == have + drop && !eof) {
            // The line did not end in the buffer: skip the rest of it.
            char c;
            ssize_t n;
            while ((n = read(fd, &c, 1)) == 1 && c != '\n') {
            }
            if (n <= 0) eof = true;
        }
    }
    close(fd);
    return true;
}

}  // namespace vdsotrace::tracer
