#!/usr/bin/env python3
"""End-to-end tests of stack sampling: `vdsotrace run --sample` on programs with known call
chains, checked with exact counts and names. One test per invocation: test_sampling.py NAME.
Paths come from the environment (see meson.build). Exit 0 pass, 1 fail."""
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

from vdsotrace_test import ENV, check, run_traced, main


def folded_lines(path):
    with open(path) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def lost(j):
    return sum(j["sampling"]["lost"].values())


LIBC_ROOT = "_start;__libc_start_main;__libc_start_call_main;main;"


def chains(tmp, unwind, named):
    folded = os.path.join(tmp, "out.folded")
    p, j = run_traced([ENV["CHAINS"], "1000", "500"], tmp, ["--sample", "1", "--folded", folded] + unwind)
    check(p.returncode == 0, f"exit status {p.returncode}: {p.stderr}")
    check(folded_lines(folded) == [LIBC_ROOT + "a;b;c;clock_gettime 1000", LIBC_ROOT + "x;y;gettimeofday 500"],
          f"folded stacks: {folded_lines(folded)}")
    s = j["sampling"]
    check(s["sampled"] == 1500 and s["in_stacks"] == 1500 and lost(j) == 0, f"sampling totals {s}")
    check(s["unwinder"] == named and s["period"] == 1 and s["max_depth"] == 64, f"sampling settings {s}")


def t_chains_cfi(tmp):
    chains(tmp, [], "unwind tables")


def t_chains_libunwind(tmp):
    chains(tmp, ["--unwind", "libunwind"], "libunwind")


def t_unwinders_agree(tmp):
    # The same program sampled by the unwind tables and by libunwind: the same stacks, frame by
    # frame (module and offset of every return address), with the same counts. Per run: 200 calls
    # from the main thread's recursion, 3 from the signal handler raised there, the same from the
    # second thread (one frame deeper).
    stacks = {}
    for unwind in ("cfi", "libunwind"):
        p, j = run_traced([ENV["UNWINDERS_AGREE"], "200", "24"], tmp, ["--sample", "1", "--unwind", unwind])
        check(p.returncode == 0, f"{unwind}: exit status {p.returncode}: {p.stderr}")
        check(j["total_calls"] == 406 and j["sampling"]["in_stacks"] == 406 and lost(j) == 0,
              f"{unwind}: totals {j['total_calls']} {j['sampling']}")
        stacks[unwind] = sorted((s["calls"], [(f["module"], f["offset"], f["symbol"]) for f in s["frames"]])
                                for s in j["stacks"])
    cfi, reference = stacks["cfi"], stacks["libunwind"]
    check(cfi == reference, f"stacks differ:\n{json.dumps(cfi, indent=1)}\n{json.dumps(reference, indent=1)}")
    depths = sorted(len(frames) for _, frames in cfi)
    counts = sorted(calls for calls, _ in cfi)
    check(counts == [3, 3, 200, 200], f"calls per stack {counts}")
    # Deep: the recursion (GCC folds some levels together), and on through the signal frame.
    check(len(depths) == 4 and depths[0] > 20, f"stack depths {depths}")
    handler = [frames for calls, frames in cfi if calls == 3]
    check(any(any(sym == "on_usr1" for _, _, sym in frames) and any(sym == "main" for _, _, sym in frames)
              for frames in handler), "the handler's stack goes on past the signal frame to main")


def t_chains_fp(tmp):
    folded = os.path.join(tmp, "out.folded")
    p, j = run_traced([ENV["CHAINS"], "1000", "500"], tmp, ["--sample", "1", "--unwind", "fp", "--folded", folded])
    check(p.returncode == 0, f"exit status {p.returncode}")
    lines = folded_lines(folded)
    # libc has no frame pointers: the walk ends in __libc_start_call_main, main's caller.
    check(lines == ["__libc_start_call_main;main;a;b;c;clock_gettime 1000",
                    "__libc_start_call_main;main;x;y;gettimeofday 500"], f"folded stacks: {lines}")
    check(j["sampling"]["unwinder"] == "frame pointers", "unwinder named")


def t_chains_every_third(tmp):
    # One call in 3 per thread: calls 3, 6, ..., 999 of clock_gettime (333), then the countdown
    # runs on into gettimeofday: calls 1002, ..., 1299 (100).
    folded = os.path.join(tmp, "out.folded")
    p, j = run_traced([ENV["CHAINS"], "999", "300"], tmp, ["--sample", "3", "--sample-depth", "6", "--folded", folded])
    check(p.returncode == 0, f"exit status {p.returncode}")
    lines = folded_lines(folded)
    # Depth 6 keeps the six return addresses nearest the clock call: x's chain is one shorter.
    check(lines == ["__libc_start_main;__libc_start_call_main;main;a;b;c;clock_gettime 333",
                    "_start;__libc_start_main;__libc_start_call_main;main;x;y;gettimeofday 100"], f"folded: {lines}")
    check(j["total_calls"] == 1299 and j["sampling"]["sampled"] == 433, f"totals {j['total_calls']} {j['sampling']}")


def t_default_takes_no_stacks(tmp):
    folded = os.path.join(tmp, "out.folded")
    p, j = run_traced([ENV["CHAINS"], "1000", "500"], tmp, ["--folded", folded])
    check(p.returncode == 0, f"exit status {p.returncode}")
    check(j["total_calls"] == 1500, f"total {j['total_calls']}")
    check("stacks" not in j and "sampling" not in j, "no stacks without --sample")
    check(not os.path.exists(folded), "no folded file (an empty one looked like a broken tool)")
    check("vdsotrace: no stack files written: the recording has no sampled stacks (`vdsotrace run --sample N`, "
          "or VDSOTRACE_SAMPLE=N, takes them)\n" in p.stderr, f"says why there is no file: {p.stderr}")


def t_cxx_names(tmp):
    folded = os.path.join(tmp, "out.folded")
    p, j = run_traced([ENV["NAMES"], "300", "200", "100"], tmp, ["--sample", "1", "--folded", folded])
    check(p.returncode == 0, f"exit status {p.returncode}")
    lines = folded_lines(folded)
    want = [
        LIBC_ROOT + "shop::Basket<int>::total() const;clock_gettime 300",
        LIBC_ROOT + "shop::outer_visible(int);shop::inlined_stamp();clock_gettime 100",
        # GCC specialised the lambda for its one call site: the clone is named as such.
        LIBC_ROOT + "shop::run_lambda(int);shop::run_lambda(int)::{lambda(int)#1}::operator()(int) const "
        "[clone .constprop.0];clock_gettime 200",
    ]
    check(lines == want, f"folded: {lines}")


def t_dlclosed_library(tmp):
    folded = os.path.join(tmp, "out.folded")
    p, j = run_traced([ENV["DLOPEN_MAIN"], ENV["PLUGIN"], "250"], tmp, ["--sample", "1", "--folded", folded])
    check(p.returncode == 0, f"exit status {p.returncode}: {p.stderr}")
    lines = folded_lines(folded)
    check(LIBC_ROOT + "plugin_tick;plugin_inner;clock_gettime 250" in lines, f"folded: {lines}")
    plugin = [s for s in j["stacks"] if s["calls"] == 250]
    check(len(plugin) == 1 and os.path.samefile(plugin[0]["frames"][-1]["module"], ENV["PLUGIN"]),
          "the plugin's frames name its file")


def t_pprof_roundtrip(tmp):
    folded, prof = os.path.join(tmp, "out.folded"), os.path.join(tmp, "out.pb.gz")
    p, j = run_traced([ENV["CHAINS"], "1000", "500"], tmp, ["--sample", "1", "--folded", folded, "--pprof", prof])
    check(p.returncode == 0, f"exit status {p.returncode}")
    with open(prof, "rb") as f:
        check(f.read(2) == b"\x1f\x8b", "gzip magic")
    d = subprocess.run([ENV["PPROF_DUMP"], prof], capture_output=True, text=True)
    check(d.returncode == 0, f"pprof_dump: {d.stderr}")
    out = d.stdout.splitlines()
    check(out[0] == "sample_type calls/count", f"sample type {out[0]}")
    check(out[1:-1] == folded_lines(folded), f"pprof stacks {out[1:-1]}")
    check(out[-1] == "mappings 2", f"mappings (program and libc): {out[-1]}")


def t_flamegraph_svg(tmp):
    svg = os.path.join(tmp, "out.svg")
    p, j = run_traced([ENV["CHAINS"], "1000", "500"], tmp, ["--sample", "1", "--flamegraph", svg])
    check(p.returncode == 0, f"exit status {p.returncode}")
    root = ET.parse(svg).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    frames = {g.get("data-name"): g.get("data-info") for g in root.iter(ns + "g") if g.get("class") == "f"}
    want = {"all": "all (1,500 calls, 100.00%)", "main": "main (1,500 calls, 100.00%)",
            "a": "a (1,000 calls, 66.67%)", "b": "b (1,000 calls, 66.67%)", "c": "c (1,000 calls, 66.67%)",
            "clock_gettime": "clock_gettime (1,000 calls, 66.67%)", "x": "x (500 calls, 33.33%)",
            "y": "y (500 calls, 33.33%)", "gettimeofday": "gettimeofday (500 calls, 33.33%)"}
    for name, info in want.items():
        check(frames.get(name) == info, f"frame {name}: {frames.get(name)}")
    check(root.find(ns + "script") is not None, "embedded script")


def t_json_stacks(tmp):
    p, j = run_traced([ENV["CHAINS"], "1000", "500"], tmp, ["--sample", "1"])
    check(p.returncode == 0, f"exit status {p.returncode}")
    st = j["stacks"]
    check([s["calls"] for s in st] == [1000, 500], f"stack calls {[s['calls'] for s in st]}")
    names = [f["symbol"] for f in st[0]["frames"]]
    check(names == ["_start", "__libc_start_main", "__libc_start_call_main", "main", "a", "b", "c"], f"frames {names}")
    check(st[0]["function"] == "clock_gettime" and st[0]["clock"] == "CLOCK_MONOTONIC", "leaf function and clock")
    c = st[0]["frames"][-1]
    check(c["file"].endswith("chains.c") and c["line"] == 14 and os.path.samefile(c["module"], ENV["CHAINS"]),
          f"frame c: {c}")


def t_filters(tmp):
    folded = os.path.join(tmp, "out.folded")
    p, j = run_traced([ENV["CHAINS"], "1000", "500"], tmp, ["--sample", "1", "--function", "y", "--folded", folded])
    check(folded_lines(folded) == [LIBC_ROOT + "x;y;gettimeofday 500"], f"--function y: {folded_lines(folded)}")
    pid = j["processes"][0]["pid"]
    os.unlink(folded)
    p, j = run_traced([ENV["CHAINS"], "1000", "500"], tmp, ["--sample", "1", "--thread", "1", "--folded", folded])
    check(not os.path.exists(folded), "--thread of no thread: no file")
    check("no stack files written: sampling was on, but no stack was sampled that passes --thread/--function"
          [:-len(" that passes --thread/--function")] in p.stderr, f"--thread of no thread: says why: {p.stderr}")
    check(j["total_calls"] == 1500, "filters leave the counts alone")
    with open(os.path.join(tmp, "report.txt")) as f:
        text = f.read()
    check("Hot code paths, top-down" not in text, "no tree for a thread without samples")
    p, j = run_traced([ENV["CHAINS"], "1000", "500"], tmp, ["--sample", "1", "--top", "1"])
    with open(os.path.join(tmp, "report.txt")) as f:
        text = f.read()
    check(re.search(r"^\s+1,000\s+66\.7%\s+a$", text, re.M) is not None, "top-down tree shows a")
    check(re.search(r"^\s+500\s+33\.3%\s+\.\.\. 1 more path", text, re.M) is not None, f"--top 1 folds x away:\n{text}")
    del pid


def t_exceptions(tmp):
    native = subprocess.run([ENV["THROWS"], "100"], capture_output=True, text=True)
    p, j = run_traced([ENV["THROWS"], "100"], tmp, ["--sample", "1"])
    check(native.returncode == 7 and p.returncode == 7, f"exit statuses {native.returncode} {p.returncode}")
    check(p.stdout == native.stdout == "caught 50 runtime_error, 50 int, sum 2845\n", f"output {p.stdout!r}")
    check(j["total_calls"] == 150 and j["sampling"]["in_stacks"] == 150, f"calls {j['total_calls']}")


def stress(tmp, unwind):
    p, j = run_traced([ENV["STRESS"], ENV["PLUGIN"], "3", "600", "200000"], tmp,
                      ["--sample", "1", "--unwind", unwind], timeout=100)
    check(p.returncode == 0, f"exit status {p.returncode}: {p.stderr[-2000:]}")
    m = re.match(r"calls (\d+) handler (\d+)", p.stdout)
    check(m is not None, f"output {p.stdout!r}")
    if not m:
        return
    calls, handler = int(m.group(1)), int(m.group(2))
    print(f"{calls} calls, {handler} from the signal handler")
    check(handler > 0, "the handler ran")
    check(j["total_calls"] == calls, f"every call counted: {j['total_calls']} != {calls}")
    s = j["sampling"]
    # The timer runs before the first call: handler calls that land while the recording is being
    # created (or a thread takes its slot) are counted as unattributed and cannot be sampled (there
    # is nowhere to put a stack yet). Every other call is sampled; the call sites here are few, so
    # the caller tables never overflow and `unattributed` holds exactly those calls.
    early = sum(u["calls"] for u in j["unattributed"])
    check(early < 1000, f"calls during set-up: {early}")
    check(s["sampled"] + early == calls, f"every call sampled: {s['sampled']} + {early} != {calls}")
    check(s["in_stacks"] + lost(j) == s["sampled"], f"every sample accounted for: {s}")


def t_stress_cfi(tmp):
    stress(tmp, "cfi")


def t_stress_libunwind(tmp):
    stress(tmp, "libunwind")


def t_stress_fp(tmp):
    stress(tmp, "fp")


def t_dlclose_race(tmp):
    # Eight threads dlopen and dlclose one library in a loop, so another thread's dlclose often
    # unmaps it (the last reference) while the shim, after its own dlclose, checks which modules
    # are gone. That check read the object's ELF header without the loader's lock and the program
    # died of SIGSEGV in ~3 runs in 10 of these (no sampling needed): 8 runs must all pass.
    for run in range(8):
        p, j = run_traced([ENV["STRESS"], ENV["PLUGIN"], "8", "2000", "0"], tmp, timeout=100)
        check(p.returncode == 0, f"run {run}: exit status {p.returncode}: {p.stderr[-2000:]}")
        m = re.match(r"calls (\d+) handler (\d+)", p.stdout)
        check(m is not None, f"run {run}: output {p.stdout!r}")
        if p.returncode != 0 or not m:
            return
        check(j["total_calls"] == int(m.group(1)), f"run {run}: every call counted: {j['total_calls']} != {m.group(1)}")


def t_bad_settings(tmp):
    p, j = run_traced([ENV["CHAINS"], "10", "5"], tmp, env={"VDSOTRACE_SAMPLE": "often", "VDSOTRACE_UNWIND": "magic"})
    check(p.returncode == 0, f"exit status {p.returncode}")
    check("VDSOTRACE_SAMPLE=often is not a whole number" in p.stderr, f"stderr: {p.stderr}")
    check("VDSOTRACE_UNWIND=magic is not cfi, libunwind or fp" in p.stderr, f"stderr: {p.stderr}")
    check(j["total_calls"] == 15 and "stacks" not in j, "counted, not sampled")


def t_before_constructor(tmp):
    p, j = run_traced([ENV["EARLY"]], tmp, ["--sample", "1"])
    check(p.returncode == 0, f"exit status {p.returncode}")
    s = j["sampling"]
    check(j["total_calls"] == 25, f"every call counted: {j['total_calls']}")
    check(s["sampled"] == 25 and s["lost"]["no_unwinder"] == 5 and s["in_stacks"] == 20, f"sampling {s}")
    with open(os.path.join(tmp, "report.txt")) as f:
        text = f.read()
    check("5 sampled calls have no stack: made before the shim's constructor loaded the unwinder" in text,
          f"the report says why:\n{text}")


def t_libunwind_only_when_sampling(tmp):
    # The shim's constructor runs in `cat` too (it makes no clock call): libunwind is mapped only
    # when sampling with it; its symbols stay out of the program's scope (RTLD_LOCAL).
    maps = {}
    for label, extra in (("default", []), ("sampling", ["--sample", "1"]), ("fp", ["--sample", "1", "--unwind", "fp"])):
        p, j = run_traced(["cat", "/proc/self/maps"], tmp, extra)
        check(p.returncode == 0, f"{label}: exit status {p.returncode}")
        maps[label] = "libunwind.so" in p.stdout
    check(maps == {"default": False, "sampling": True, "fp": False}, f"libunwind mapped: {maps}")


def t_stack_table_full(tmp):
    # python3 starting up takes a few hundred distinct stacks; a 64-entry table overflows. Every
    # sample still lands somewhere: in a stack, or in the overflow the report names.
    p, j = run_traced([sys.executable, "-S", "-c", "import time\nfor i in range(1000): time.monotonic()"], tmp,
                      ["--sample", "1"], env={"VDSOTRACE_STACKS": "64"})
    check(p.returncode == 0, f"exit status {p.returncode}")
    s = j["sampling"]
    check(s["lost"]["stacks_full"] > 0, f"overflow counted: {s}")
    check(s["sampled"] == j["total_calls"] and s["in_stacks"] + lost(j) == s["sampled"], f"all accounted: {s}")
    with open(os.path.join(tmp, "report.txt")) as f:
        text = f.read()
    check("the stack table or frame pool was full (raise VDSOTRACE_STACKS)" in text, "the report names the overflow")


if __name__ == "__main__":
    sys.exit(main(globals()))
