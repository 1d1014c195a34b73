#!/usr/bin/env python3
"""Renders a vdsotrace flame graph in headless Chromium (Debian's `chromium` package): a
screenshot, and the DOM after the embedded script ran and a click on frame "a" zoomed in.
Skips (exit 77) when chromium is not installed. Usable by hand too:

    check_flamegraph_render.py FLAMEGRAPH.svg [SCREENSHOT.png]

With the environment of meson.build (VDSOTRACE, SHIM, CHAINS) and no arguments, it makes the
flame graph of the chains program (main -> a -> b -> c, main -> x -> y) first and checks it.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def chromium(args, profile):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    cmd = [exe] + FLAGS + [f"--user-data-dir={profile}"] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


def main():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        print("chromium is not installed: skipped")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        if len(sys.argv) > 1:
            svg = os.path.abspath(sys.argv[1])
            png = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else os.path.join(tmp, "flamegraph.png")
            zoom_checks = False
        else:
            svg, png, zoom_checks = os.path.join(tmp, "fg.svg"), os.path.join(tmp, "fg.png"), True
            report = os.path.join(tmp, "r.json")
            subprocess.run([os.environ["VDSOTRACE"], "run", "--shim", os.environ["SHIM"], "--sample", "1",
                            "--flamegraph", svg, "--json", report, "--text", os.devnull, "-o", os.devnull, "--",
                            os.environ["CHAINS"], "1000", "500"], check=True, timeout=60)
            # run removed its recordings from /dev/shm once the recording file (here /dev/null) was written.
        failures = []
        shot = chromium([f"--screenshot={png}", "--window-size=1200,300", "file://" + svg], os.path.join(tmp, "p1"))
        if not os.path.exists(png) or os.path.getsize(png) < 2000:
            failures.append(f"no screenshot: {shot.stderr[-500:]}")
        else:
            print(f"screenshot: {png} ({os.path.getsize(png)} bytes)")
        # The first screen (1200x900) holds the hottest path down to its leaf: the deepest frame of
        # the widest chain, as Chromium laid it out.
        dom0 = chromium(["--dump-dom", "file://" + svg], os.path.join(tmp, "p0")).stdout
        rects = [(float(w), float(y), n) for n, y, w in re.findall(
            r'<g class="f" data-name="([^"]*)"[^>]*>.*?<rect x="[\d.]+" y="(\d+)" width="([\d.]+)"', dom0, re.S)]
        if not rects:
            failures.append("no frames in the rendered DOM")
        else:
            widest = max(w for w, _, _ in rects)
            hottest_leaf = min((y, n) for w, y, n in rects if w >= widest * 0.5)  # topmost of the hot frames
            if hottest_leaf[0] + 16 > 900:
                failures.append(f"the hot path's top frame {hottest_leaf[1]} lies at y={hottest_leaf[0]}, below 900 px")
            else:
                print(f"hot path's top frame {hottest_leaf[1]} at y={hottest_leaf[0]:.0f} px (first screen: 900)")
        if zoom_checks:
            # The same SVG with one more script: click frame "a" once the page's own script ran.
            with open(svg) as f:
                text = f.read()
            click = ('<script type="text/ecmascript"><![CDATA[document.querySelector(\'g.f[data-name="a"]\')'
                     '.dispatchEvent(new MouseEvent("click"));]]></script>\n</svg>')
            zoomed = os.path.join(tmp, "zoomed.svg")
            with open(zoomed, "w") as f:
                f.write(text.replace("</svg>", click))
            dom = chromium(["--dump-dom", "file://" + zoomed], os.path.join(tmp, "p2")).stdout

            def frame(name):
                m = re.search(r'<g class="f" data-name="%s"[^>]*?(?:style="([^"]*)")?>.*?<rect x="([\d.]+)"[^>]*?'
                              r'width="([\d.]+)"' % re.escape(name), dom, re.S)
                return m.groups() if m else None
            a, c, x = frame("a"), frame("c"), frame("x")
            if not a or float(a[2]) < 1199:
                failures.append(f"frame a not zoomed to the full width: {a}")
            if not c or float(c[2]) < 1199:
                failures.append(f"frame c (a's descendant) not at the full width: {c}")
            if not x or "display: none" not in (x[0] or ""):
                failures.append(f"frame x (not under a) still shown: {x}")
        for f in failures:
            print("FAIL:", f)
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
