// The flame graph: one SVG with its own script and style, so it opens anywhere (a browser, a
// CI artifact viewer) without fetching anything. Laid out from the top-down call tree: the root
// at the bottom, each frame as wide as its share of the sampled calls. The script zooms on click
// (a frame becomes the full width, its ancestors stay, the rest hides), resets on the root or
// Escape, and shows name and counts on hover. Frames narrower than a pixel are left out, as
// flamegraph.pl does, and the height follows the deepest frame drawn: a one-sample sliver 200
// frames deep (a Python run) no longer makes a 2,000 px page whose content sits at the bottom.
#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "tools/report/call_tree.h"
#include "tools/render/group_digits.h"
#include "tools/render/report_output.h"
#include "tools/render/stack_export.h"

namespace vdsotrace::tools {

namespace {

constexpr int kWidth = 1200;
constexpr int kFrameHeight = 17;
constexpr int kTop = 40;
constexpr int kBottom = 20;
constexpr double kMinWidth = 1.0;  // pixels: narrower frames (and all above them) are not drawn

std::string xml_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&apos;"; break;
            default:
                // Control characters are not allowed in XML 1.0.
                if (static_cast<unsigned char>(c) >= 0x20 || c == '\t') out += c;
        }
    }
    return out;
}

bool drawn(const CallTreeNode& n, double total) { return double(n.calls) / total * kWidth >= kMinWidth; }

// Levels of frames drawn (the root included), and how many frames are left out as too narrow.
int drawn_depth(const CallTreeNode& n, double total, uint64_t* omitted) {
    int d = 0;
    for (const auto& [name, child] : n.children) {
        if (drawn(*child, total))
            d = std::max(d, drawn_depth(*child, total, omitted));
        else
            ++*omitted;
    }
    return d + 1;
}

// Warm colours like flamegraph.pl, derived from the name so a function keeps its colour.
std::string colour(const std::string& name) {
    uint32_t h = 2166136261u;
    for (char c : name) h = (h ^ uint8_t(c)) * 16777619u;
    return fmt::format("rgb({},{},{})", 205 + h % 50, 80 + (h >> 8) % 150, 40 + (h >> 16) % 50);
}

const char* kScript = R"JS(
var svg = document.documentElement;
var frames = Array.prototype.slice.call(document.querySelectorAll('g.f'));
var details = document.getElementById('details');
var W = +svg.getAttribute('data-width');
function fit(g) {
  var r = g.querySelector('rect'), t = g.querySelector('text'), w = +r.getAttribute('width');
  var name = g.getAttribute('data-name'), n = Math.floor((w - 6) / 7);
  t.textContent = n < 3 ? '' : (name.length <= n ? name : name.substring(0, n - 2) + '..');
}
function zoom(x0, w0, d0) {
  frames.forEach(function (g) {
    var x = +g.getAttribute('data-x'), w = +g.getAttribute('data-w'), d = +g.getAttribute('data-d');
    var r = g.querySelector('rect'), t = g.querySelector('text'), nx, nw;
    if (d < d0 && x <= x0 + 1e-12 && x + w >= x0 + w0 - 1e-12) { nx = 0; nw = W; }
    else if (d >= d0 && x >= x0 - 1e-12 && x + w <= x0 + w0 + 1e-12) { nx = (x - x0) / w0 * W; nw = w / w0 * W; }
    else { g.style.display = 'none'; return; }
    g.style.display = '';
    g.style.opacity = d < d0 ? 0.6 : 1;
    r.setAttribute('x', nx); r.setAttribute('width', Math.max(nw - 0.5, 0.1));
    t.setAttribute('x', nx + 3);
    fit(g);
  });
}
frames.forEach(function (g) {
  fit(g);
  g.addEventListener('click', function () {
    zoom(+g.getAttribute('data-x'), +g.getAttribute('data-w'), +g.getAttribute('data-d'));
  });
  g.addEventListener('mouseover', function () { details.textContent = g.getAttribute('data-info'); });
  g.addEventListener('mouseout', function () { details.textContent = ' '; });
});
document.addEventListener('keydown', function (e) { if (e.key === 'Escape') zoom(0, 1, 0); });
)JS";

}  // namespace

void write_flamegraph(const StackReport& stacks, const std::string& title, std::ostream& out) {
    const CallTreeNode root = build_call_tree(stacks.stacks, false);
    const double total = double(std::max<uint64_t>(root.calls, 1));
    uint64_t omitted = 0;
    const int depth = drawn_depth(root, total, &omitted);  // the root counts as a level: it is drawn as "all"
    const int height = kTop + depth * kFrameHeight + kBottom;

    out << "<?xml version=\"1.0\" standalone=\"no\"?>\n";
    out << fmt::format("<svg version=\"1.1\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" data-width=\"{}\" "
                       "xmlns=\"http://www.w3.org/2000/svg\">\n",
                       kWidth, height, kWidth, height, kWidth);
    out << "<style>text{font-family:monospace;font-size:12px;fill:#000} g.f{cursor:pointer} "
           "g.f:hover rect{stroke:#000;stroke-width:0.5} #title{font-size:17px;text-anchor:middle}</style>\n";
    out << fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#f8f8f4\"/>\n", kWidth, height);
    out << fmt::format("<text id=\"title\" x=\"{}\" y=\"22\">{} flame graph: {} sampled calls (click to zoom, "
                       "Escape to reset){}</text>\n",
                       kWidth / 2, xml_escape(title), group_digits(root.calls),
                       omitted ? fmt::format("; {} narrower than a pixel not drawn (--folded has them)",
                                             omitted == 1 ? std::string("1 path") : fmt::format("{} paths", omitted))
                               : "");
    out << fmt::format("<text id=\"details\" x=\"10\" y=\"{}\"> </text>\n", height - 5);

    // Each frame: fraction of the width where it starts and how much it covers, and its level.
    std::function<void(const CallTreeNode&, const std::string&, double, int)> draw =
        [&](const CallTreeNode& n, const std::string& name, double x, int d) {
            const double w = double(n.calls) / total;
            const double px = x * kWidth, pw = w * kWidth;
            const int y = height - kBottom - (d + 1) * kFrameHeight;
            const int chars = int((pw - 6) / 7);
            const std::string label = chars < 3                      ? ""
                                      : int(name.size()) <= chars ? name
                                                                  : name.substr(0, size_t(chars - 2)) + "..";
            const std::string info =
                fmt::format("{} ({} calls, {:.2f}%)", name, group_digits(n.calls), 100.0 * double(n.calls) / total);
            out << fmt::format("<g class=\"f\" data-name=\"{}\" data-info=\"{}\" data-x=\"{:.10f}\" "
                               "data-w=\"{:.10f}\" data-d=\"{}\"><title>{}</title>"
                               "<rect x=\"{:.2f}\" y=\"{}\" width=\"{:.2f}\" height=\"{}\" fill=\"{}\" rx=\"2\"/>"
                               "<text x=\"{:.2f}\" y=\"{}\">{}</text></g>\n",
                               xml_escape(name), xml_escape(info), x, w, d, xml_escape(info), px, y,
                               std::max(pw - 0.5, 0.1), kFrameHeight - 1, d == 0 ? "rgb(200,200,200)" : colour(name),
                               px + 3, y + kFrameHeight - 5, xml_escape(label));
            double cx = x;
            for (const CallTreeNode* child : n.sorted_children()) {
                if (drawn(*child, total)) draw(*child, child->name, cx, d + 1);
                cx += double(child->calls) / total;
            }
        };
    draw(root, "all", 0.0, 0);
    out << "<script type=\"text/ecmascript\"><![CDATA[" << kScript << "]]></script>\n</svg>\n";
}

}  // namespace vdsotrace::tools
