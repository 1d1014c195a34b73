#include "tools/render/terminal_safe.h"

#include <fmt/format.h>

namespace vdsotrace::tools {

namespace {

// Length of the valid UTF-8 sequence starting at text[i] (2..4), or 0.
size_t utf8_length(std::string_view text, size_t i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (n == 0 || i + n > text.size()) return 0;
    for (size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return 0;
    return n;
}

}  // namespace

std::string terminal_safe(std::string_view text, bool keep_newlines) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f) {
            out += char(c);
            ++i;
        } else if (c == '\n' && keep_newlines) {
            out += '\n';
            ++i;
        } else if (c == 0x1b) {
            out += "\\e";
            ++i;
        } else if (c == '\n') {
            out += "\\n";
            ++i;
        } else if (c == '\t') {
            out += "\\t";
            ++i;
        } else if (const size_t n = c >= 0x80 ? utf8_length(text, i) : 0; n != 0) {
            // U+0080..U+009F (C2 80..C2 9F) are the C1 controls: CSI is U+009B.
            if (c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0)
                out += fmt::format("\\u{:04x}", static_cast<unsigned char>(text[i + 1]));
            else
                out.append(text.substr(i, n));
            i += n;
        } else {
            out += fmt::format("\\x{:02x}", c);
            ++i;
        }
    }
    return out;
}

}  // namespace vdsotrace::tools
