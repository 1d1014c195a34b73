// Metric families as plain data, and their text in the two formats Prometheus scrapes: the
// Prometheus text exposition format (version 0.0.4, what node_exporter's textfile collector and
// `promtool check metrics` read) and OpenMetrics 1.0 text. Knows nothing about recordings.
//
// The differences that matter here: an OpenMetrics counter family is named without `_total` in
// its HELP/TYPE lines while its samples carry it, and the text ends with `# EOF`; label values
// escape backslash, double quote and line feed in both; HELP text escapes backslash and line feed
// (OpenMetrics also the double quote). Values are unsigned 64-bit integers, written in full.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace vdsotrace::tools::exposition {

enum class Format { kPrometheus, kOpenMetrics };
enum class Type { kCounter, kGauge };

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Sample {
    Labels labels;
    std::variant<uint64_t, double> value;
};

struct Family {
    std::string name;  // for counters with the `_total` suffix, as samples are named
    std::string help;
    Type type = Type::kCounter;
    std::vector<Sample> samples;
};

// A label value as the formats quote it: `\` -> `\\`, `"` -> `\"`, line feed -> `\n`; bytes that are
// not valid UTF-8 become U+FFFD (both formats require UTF-8; paths and symbols from a traced
// process are whatever bytes it had).
std::string escape_label_value(const std::string& value);

// HELP text: `\` -> `\\`, line feed -> `\n` (and `"` -> `\"` in OpenMetrics).
std::string escape_help(const std::string& help, Format format);

// The value as written: integers in full (18446744073709551615 stays exact), doubles with
// enough digits to read back the same double.
std::string format_value(const std::variant<uint64_t, double>& value);

// The whole exposition, families in the order given; ends with a line feed (and `# EOF` in
// OpenMetrics).
std::string render(const std::vector<Family>& families, Format format);

}  // namespace vdsotrace::tools::exposition
