#include "tools/export/exposition.h"

#include <cmath>

#include <fmt/format.h>

namespace vdsotrace::tools::exposition {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 (overlong forms, surrogates and
// code points past U+10FFFF are invalid).
size_t utf8_length(const std::string& s, size_t i) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return 1;
    size_t n = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07;
    else return 0;
    if (i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k) {
        if ((b(i + k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b(i + k) & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

std::string escaped(const std::string& text, bool quote) {
    std::string out;
    out.reserve(text.size() + 2);
    for (size_t i = 0; i < text.size();) {
        const char c = text[i];
        if (c == '\\') out += "\\\\";
        else if (c == '\n') out += "\\n";
        else if (c == '"' && quote) out += "\\\"";
        const size_t n = utf8_length(text, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";  // U+FFFD
            ++i;
            continue;
        }
        if (c != '\\' && c != '\n' && !(c == '"' && quote)) out.append(text, i, n);
        i += n;
    }
    return out;
}

std::string family_name(const Family& f, Format format) {
    // OpenMetrics names the counter family without the suffix its samples carry.
    constexpr std::string_view kTotal = "_total";
    if (format == Format::kOpenMetrics && f.type == Type::kCounter && f.name.size() > kTotal.size() &&
        f.name.compare(f.name.size() - kTotal.size(), kTotal.size(), kTotal) == 0)
        return f.name.substr(0, f.name.size() - kTotal.size());
    return f.name;
}

}  // namespace

std::string escape_label_value(const std::string& value) { return escaped(value, true); }

std::string escape_help(const std::string& help, Format format) {
    return escaped(help, format == Format::kOpenMetrics);
}

std::string format_value(const std::variant<uint64_t, double>& value) {
    if (const auto* u = std::get_if<uint64_t>(&value)) return fmt::format("{}", *u);
    const double d = std::get<double>(value);
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
    return fmt::format("{}", d);  // shortest text that reads back as the same double
}

std::string render(const std::vector<Family>& families, Format format) {
    std::string out;
    for (const Family& f : families) {
        const std::string name = family_name(f, format);
        const char* type = f.type == Type::kCounter ? "counter" : "gauge";
        if (format == Format::kOpenMetrics)
            out += fmt::format("# TYPE {} {}\n# HELP {} {}\n", name, type, name, escape_help(f.help, format));
        else
            out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(f.help, format), name, type);
        for (const Sample& s : f.samples) {
            out += f.name;
            if (!s.labels.empty()) {
                out += '{';
                for (size_t i = 0; i < s.labels.size(); ++i) {
                    if (i) out += ',';
                    out += s.labels[i].first;
                    out += "=\"";
                    out += escape_label_value(s.labels[i].second);
                    out += '"';
                }
                out += '}';
            }
            out += ' ';
            out += format_value(s.value);
            out += '\n';
        }
    }
    if (format == Format::kOpenMetrics) out += "# EOF\n";
    return out;
}

}  // namespace vdsotrace::tools::exposition
