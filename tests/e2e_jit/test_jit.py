#!/usr/bin/env python3
"""End-to-end tests of JIT frames named through perf maps: real node and java programs under
`vdsotrace run --sample 1`, whose JavaScript functions and Java methods must be named in the
sampled stacks with exact counts, also after the program exited and /tmp/perf-PID.map is gone.
One test per invocation: test_jit.py NAME. Exit 0 pass, 1 fail, 77 skipped (no node / java)."""
import glob
import json
import os
import shutil
import sys

import vdsotrace_test
from vdsotrace_test import ENV, SHIM, VDSOTRACE, check, need, main, KEPT_RECORDINGS as RECORDINGS

HERE = ENV["HERE"]
NODE, JAVA, JAVAC = shutil.which("node"), shutil.which("java"), shutil.which("javac")
# Every call is sampled: the JVM's and node's start-up alone make thousands of distinct stacks.
ROOMY = {"VDSOTRACE_STACKS": "65536", "VDSOTRACE_STACK_COUNTS": "65536"}
# The runtimes' own settings in the caller's environment would change what is measured.
RUNTIME_OPTIONS = ("NODE_OPTIONS", "JAVA_TOOL_OPTIONS", "PYTHONPERFSUPPORT")


def run(cmd, env=None, timeout=280, cwd=None):
    return vdsotrace_test.run(cmd, env, timeout, cwd, unset=RUNTIME_OPTIONS)


def traced(args, tmp, extra=(), env=None):
    """vdsotrace run --sample 1 --json; returns (process, report). The recordings stay (removed at exit)."""
    return vdsotrace_test.run_traced(args, tmp, ["--sample", "1"] + list(extra), dict(ROOMY, **(env or {})),
                                     timeout=280, keep=True, unset=RUNTIME_OPTIONS, cwd=tmp)


def report_json(target, tmp):
    p = run([VDSOTRACE, "report", "--json", "-o", os.path.join(tmp, "again.json"), target])
    check(p.returncode == 0, f"report {target}: exit {p.returncode}: {p.stderr}")
    with open(os.path.join(tmp, "again.json")) as f:
        return json.load(f)


def calls_through(j, frame_part, also=None, leaf_part="hrtime"):
    """Sampled calls whose stack has a frame naming `frame_part` (and `also`, when given) and, below
    it, a frame naming `leaf_part` (the runtime's clock function)."""
    total = 0
    for s in j["stacks"]:
        names = [f["symbol"] for f in s["frames"]]
        at = [i for i, n in enumerate(names) if frame_part in n]
        if not at or (also and not any(also in n for n in names)):
            continue
        if any(leaf_part in n for n in names[at[0]:]):
            total += s["calls"]
    return total


def calls_from(j, caller, callee):
    """Sampled calls whose stack has a frame naming `caller` directly followed by one naming `callee`."""
    total = 0
    for s in j["stacks"]:
        names = [f["symbol"] for f in s["frames"]]
        if any(caller in a and callee in b for a, b in zip(names, names[1:])):
            total += s["calls"]
    return total


def jit_frames(j, part):
    return [f for s in j["stacks"] for f in s["frames"] if part in f["symbol"]]


A, B = 3000, 2000


def node_run(tmp, extra=(), env=None):
    need(NODE, "node")
    return traced([NODE, os.path.join(HERE, "two_functions.js"), str(A), str(B)], tmp, extra, env)


def t_node_functions(tmp):
    p, j = node_run(tmp)
    check(p.returncode == 0 and p.stdout == "ok\n", f"exit {p.returncode}, stdout {p.stdout!r}: {p.stderr}")
    notices = [l for l in p.stderr.splitlines() if "recognised" in l]
    check(len(notices) == 1 and "NODE_OPTIONS=\"--perf-basic-prof --interpreted-frames-native-stack\"" in notices[0],
          f"one notice naming the settings: {notices}")
    s = j["sampling"]
    check(sum(s["lost"].values()) == 0, f"no sample lost: {s}")
    # Every performance.now() is one sampled clock call, under the JS function that made it.
    check(calls_through(j, "hotA") == A, f"hotA: {calls_through(j, 'hotA')} sampled calls, not {A}")
    check(calls_through(j, "hotB") == B, f"hotB: {calls_through(j, 'hotB')} sampled calls, not {B}")
    frames = jit_frames(j, "hotA")
    check(frames and all(f["module"] == "[jit]" for f in frames), f"hotA frames from the perf map: {frames[:3]}")
    check(any("two_functions.js:3" in f["symbol"] for f in frames), f"with file and line: {frames[:3]}")
    # run removed the map it asked node for, once kept beside the recording.
    pid = j["processes"][0]["pid"]
    check(not os.path.exists(f"/tmp/perf-{pid}.map"), f"/tmp/perf-{pid}.map left behind")
    check(os.path.exists(j["processes"][0]["recording"] + ".perf-map"), "map kept beside the recording")
    # --perf-basic-prof makes V8 drop isolate-0x...-PID-v8.log in the working directory: removed.
    check(glob.glob(os.path.join(tmp, "isolate-*-v8.log")) == [], f"V8 logs left: {os.listdir(tmp)}")


def t_node_after_exit(tmp):
    archive = os.path.join(tmp, "saved.vdsotrace")
    folded = os.path.join(tmp, "out.folded")
    p, j = node_run(tmp, ["--save", archive])
    check(p.returncode == 0, f"exit {p.returncode}: {p.stderr}")
    pid = j["processes"][0]["pid"]
    recording = j["processes"][0]["recording"]
    try:
        os.unlink(f"/tmp/perf-{pid}.map")  # should be gone already; make sure
    except FileNotFoundError:
        pass
    # The recording in /dev/shm, read after the program exited and its map in /tmp is gone.
    again = report_json(recording, tmp)
    check(calls_through(again, "hotA") == A and calls_through(again, "hotB") == B,
          f"report of {recording}: hotA {calls_through(again, 'hotA')}, hotB {calls_through(again, 'hotB')}")
    # The folded output of the same, from the archive, with the kept map removed too.
    os.unlink(recording + ".perf-map")
    p = run([VDSOTRACE, "report", "-o", os.path.join(tmp, "r.txt"), "--folded", folded, archive])
    check(p.returncode == 0, f"report {archive}: {p.returncode} {p.stderr}")
    counts = {"hotA": 0, "hotB": 0}
    with open(folded) as f:
        for line in f:
            stack, n = line.rsplit(" ", 1)
            for name in counts:
                if f"{name} " in stack and "hrtime" in stack:
                    counts[name] += int(n)
    check(counts == {"hotA": A, "hotB": B}, f"folded from the archive: {counts}")
    # Without any map the same frames are bare addresses: the names above came from the maps.
    p = run([VDSOTRACE, "report", "--json", "-o", os.path.join(tmp, "bare.json"), recording])
    with open(os.path.join(tmp, "bare.json")) as f:
        bare = json.load(f)
    check(calls_through(bare, "hotA") == 0, "no hotA without a map")


def t_no_runtime_help(tmp):
    need(NODE, "node")
    script = os.path.join(tmp, "show.js")
    with open(script, "w") as f:
        f.write("console.log(process.env.NODE_OPTIONS); performance.now();\n")
    report = os.path.join(tmp, "r.json")
    base = [VDSOTRACE, "run", "--shim", SHIM, "--keep-live", "-o", os.devnull, "--text", os.path.join(tmp, "r.txt"),
            "--json", report]

    def run(cmd, env=None):  # and remember the recordings, to remove them at the end
        p = globals()["run"](cmd, env)
        if os.path.exists(report):
            with open(report) as f:
                RECORDINGS.extend(proc["recording"] for proc in json.load(f)["processes"])
            os.unlink(report)
        return p

    p = run(base + ["--no-runtime-help", "--", NODE, script], {"NODE_OPTIONS": "--max-old-space-size=200"})
    check(p.returncode == 0 and p.stdout == "--max-old-space-size=200\n", f"left alone: {p.stdout!r} {p.stderr}")
    check("recognised" not in p.stderr, f"no notice: {p.stderr}")
    p = run(base + ["--", NODE, script], {"NODE_OPTIONS": "--max-old-space-size=200"})
    check(p.stdout == "--max-old-space-size=200 --perf-basic-prof --interpreted-frames-native-stack\n",
          f"appended to the user's value: {p.stdout!r}")
    # A node script started by its #! line is recognised too (as npm is).
    os.chmod(script, 0o755)
    with open(script) as f:
        body = f.read()
    with open(script, "w") as f:
        f.write("#!/usr/bin/env node\n" + body)
    p = run(base + ["--", script])
    check(p.stdout == "--perf-basic-prof --interpreted-frames-native-stack\n", f"#! script: {p.stdout!r} {p.stderr}")
    # Not node: nothing set, nothing said.
    p = run(base + ["--", "/bin/sh", "-c", "echo \"[$NODE_OPTIONS]\""])
    check(p.stdout == "[]\n" and "recognised" not in p.stderr, f"sh: {p.stdout!r} {p.stderr}")


def t_java_method(tmp):
    need(JAVA, "java")
    need(JAVAC, "javac (default-jdk-headless)")
    c = run([JAVAC, "-d", tmp, os.path.join(HERE, "NanoClock.java")])
    check(c.returncode == 0, f"javac: {c.stderr}")
    n = 5000
    # NanoClock.hot compiled before its first call (-Xcomp, and only it): every one of its
    # System.nanoTime() calls is made from compiled code, which only the perf map names.
    p, j = traced([JAVA, "-Xcomp", "-XX:CompileCommand=quiet", "-XX:CompileCommand=compileonly,NanoClock::hot",
                   "-cp", tmp, "NanoClock", str(n)], tmp)
    check(p.returncode == 0 and p.stdout == "ok\n", f"exit {p.returncode}, stdout {p.stdout!r}: {p.stderr}")
    check(sum(j["sampling"]["lost"].values()) == 0, f"no sample lost: {j['sampling']}")
    # (The tier-up compile events its loop triggers read the clock too, deeper down: not counted.)
    got = calls_from(j, "NanoClock.hot", "os::javaTimeNanos")
    check(got == n, f"NanoClock.hot: {got} sampled System.nanoTime() calls, not {n}")
    frames = jit_frames(j, "NanoClock.hot")
    check(frames and frames[0]["symbol"] == "long NanoClock.hot(int)" and frames[0]["module"] == "[jit]",
          f"named from the perf map: {frames[:2]}")
    pid = j["processes"][0]["pid"]
    check(not os.path.exists(f"/tmp/perf-{pid}.map"), "the JVM's map was kept and removed from /tmp")
    again = report_json(j["processes"][0]["recording"], tmp)
    check(calls_from(again, "NanoClock.hot", "os::javaTimeNanos") == n, "named again after the exit")


def t_node_functions_fp(tmp):
    # The frame-pointer walk crosses V8's frames as well (node keeps frame pointers throughout).
    p, j = node_run(tmp, ["--unwind", "fp"])
    check(p.returncode == 0 and j["sampling"]["unwinder"] == "frame pointers", f"exit {p.returncode}: {p.stderr}")
    check(calls_through(j, "hotA") == A and calls_through(j, "hotB") == B,
          f"hotA {calls_through(j, 'hotA')}, hotB {calls_through(j, 'hotB')}")


def python312():
    """A CPython 3.12+ (PATH, else pyenv's versions), or None."""
    candidates = [shutil.which(f"python3.{m}") for m in (12, 13, 14)]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-9]*/bin/python3.1[2-9]")))
    for c in candidates:
        if c and run([c, "-c", "pass"]).returncode == 0:
            return c
    return None


def t_python_functions(tmp):
    py = python312()
    need(py, "CPython 3.12+")
    p, j = traced([py, os.path.join(HERE, "two_functions.py"), str(A), str(B)], tmp)
    check(p.returncode == 0 and p.stdout == "ok\n", f"exit {p.returncode}, stdout {p.stdout!r}: {p.stderr}")
    check(any("PYTHONPERFSUPPORT=\"1\"" in l for l in p.stderr.splitlines()), f"notice: {p.stderr}")
    script = os.path.join(HERE, "two_functions.py")
    check(calls_through(j, f"py::hot_a:{script}", leaf_part="time_monotonic") == A,
          f"hot_a: {calls_through(j, 'py::hot_a:', leaf_part='time_monotonic')}")
    check(calls_through(j, f"py::hot_b:{script}", leaf_part="time_perf_counter") == B,
          f"hot_b: {calls_through(j, 'py::hot_b:', leaf_part='time_perf_counter')}")


TESTS = {name[2:]: fn for name, fn in globals().items() if name.startswith("t_")}


if __name__ == "__main__":
    sys.exit(main(TESTS, tmp_prefix="vdsotrace-jit-"))
