#!/usr/bin/env python3
"""End-to-end tests of calls through clock wrappers: a C++ program asks std::chrono's now() for
the time from known functions a known number of times; the report must count each calling
function exactly, with the wrapper it came through. One test per invocation: test_wrappers.py
NAME. Exit 0 pass, 1 fail."""
import json
import os
import shutil
import subprocess
import sys
import uuid

import vdsotrace_test
from vdsotrace_test import ENV, SHIM, VDSOTRACE, check, main, remove_recordings
HIDDEN, JIT_HERE = ENV["CHRONO_CALLERS_HIDDEN"], ENV["JIT_HERE"]

PROGRAM = ENV["CHRONO_CALLERS"]


def run_traced(args, tmp, options=(), env=None, keep=False):
    """(completed process, JSON report, text report) of `vdsotrace run`; recordings removed (at the
    end of the test with keep=True)."""
    p, j = vdsotrace_test.run_traced(args, tmp, options, env, keep=keep)
    text = os.path.join(tmp, "report.txt")
    return p, j, open(text).read() if os.path.exists(text) else ""


def rows(j):
    """{(caller function name without parameters, via name or None, clock): calls}"""
    out = {}
    for r in j["callers"]:
        name = r.get("symbol", "").split("(")[0]
        via = r["via"]["name"] if "via" in r else None
        key = (name, via, r.get("clock", ""))
        out[key] = out.get(key, 0) + r["calls"]
    return out


STEADY = "std::chrono::_V2::steady_clock::now()"
SYSTEM = "std::chrono::_V2::system_clock::now()"


def t_chrono_two_callers(tmp):
    p, j, text = run_traced([PROGRAM, "3000", "5000", "7"], tmp)
    check(p.returncode == 0, f"exit status {p.returncode}: {p.stderr}")
    r = rows(j)
    check(r.get(("poll_events", STEADY, "CLOCK_MONOTONIC")) == 3000, f"poll_events via steady_clock::now: {r}")
    check(r.get(("handle_request", STEADY, "CLOCK_MONOTONIC")) == 5000, f"handle_request via steady_clock::now: {r}")
    check(r.get(("log_line", SYSTEM, "CLOCK_REALTIME")) == 1, f"log_line via system_clock::now: {r}")
    # app_clock is no wrapper unless the user says so: counted where it calls clock_gettime.
    check(r.get(("app_clock", None, "CLOCK_MONOTONIC")) == 7, f"app_clock direct: {r}")
    via = [c for c in j["callers"] if "via" in c]
    check(all(c["via"]["depth"] == 1 and c["via"]["module"].find("libstdc++") >= 0 for c in via),
          f"the wrapper sites are libstdc++'s now(), one frame deep: {[c['via'] for c in via]}")
    check(sum(c["calls"] for c in j["callers"]) == 8008 and j["unattributed"] == [], "every call attributed")
    check(f"via {STEADY}" in text and "handle_request" in text, f"the text report names both levels:\n{text}")


def t_user_wrapper(tmp):
    p, j, _ = run_traced([PROGRAM, "10", "20", "300"], tmp, ["--wrapper", "app_*", "--wrapper", "nothing::*"])
    check(p.returncode == 0, f"exit status {p.returncode}: {p.stderr}")
    r = rows(j)
    check(r.get(("tick", "app_clock", "CLOCK_MONOTONIC")) == 300, f"tick via app_clock: {r}")
    check(r.get(("poll_events", STEADY, "CLOCK_MONOTONIC")) == 10, f"built-in wrappers still apply: {r}")


def t_env_wrapper(tmp):
    session = "wrappers_" + uuid.uuid4().hex[:10]
    env = dict(os.environ, LD_PRELOAD=SHIM, VDSOTRACE_SESSION=session, VDSOTRACE_WRAPPERS="app_clock")
    p = subprocess.run([PROGRAM, "1", "2", "40"], capture_output=True, text=True, env=env, timeout=60)
    check(p.returncode == 0, f"exit status {p.returncode}")
    q = subprocess.run([VDSOTRACE, "report", "--json", session], capture_output=True, text=True, timeout=60)
    check(q.returncode == 0, f"report: {q.stderr}")
    j = json.loads(q.stdout)
    remove_recordings(j)
    r = rows(j)
    check(r.get(("tick", "app_clock", "CLOCK_MONOTONIC")) == 40, f"tick via app_clock from VDSOTRACE_WRAPPERS: {r}")
    check(r.get(("handle_request", STEADY, "CLOCK_MONOTONIC")) == 2, f"handle_request: {r}")


def t_no_wrapper_option(tmp):
    # A glob that matches nothing changes nothing.
    p, j, _ = run_traced([PROGRAM, "5", "6", "7"], tmp, ["--wrapper", "no_such_function"])
    r = rows(j)
    check(r.get(("app_clock", None, "CLOCK_MONOTONIC")) == 7, f"app_clock direct: {r}")
    check(r.get(("handle_request", STEADY, "CLOCK_MONOTONIC")) == 6, f"handle_request: {r}")


def t_bad_wrapper_option(tmp):
    for bad in ["", "a,b"]:
        p = subprocess.run([VDSOTRACE, "run", "--shim", SHIM, "-o", os.devnull, "--wrapper", bad, "--", PROGRAM, "1", "1", "1"],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode != 0, f"--wrapper {bad!r} refused (exit {p.returncode})")
        check("GLOB" in p.stderr and p.stdout == "", f"--wrapper {bad!r}: one clear message, no run: {p.stderr!r}")


def t_same_behaviour(tmp):
    native = subprocess.run([PROGRAM, "100", "100", "100"], capture_output=True, text=True, timeout=60)
    p, _, _ = run_traced([PROGRAM, "100", "100", "100"], tmp, ["--wrapper", "app_clock"])
    check(p.returncode == native.returncode and p.stdout == native.stdout, "same output and exit status")


SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "two_functions.py")


def line_of(marker):
    with open(SCRIPT) as f:
        for n, text in enumerate(f, 1):
            if text.rstrip().endswith("# " + marker):
                return n
    raise RuntimeError(marker)


def python_or_skip(path, want):
    """The interpreter at `path` if it is version `want` ("3.11"), else exit 77."""
    path = os.path.expanduser(path)
    if not os.access(path, os.X_OK):
        print(f"SKIP: {path} not installed")
        sys.exit(77)
    v = subprocess.run([path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True,
                       text=True).stdout.strip()
    if v != want:
        print(f"SKIP: {path} is Python {v}, not {want}")
        sys.exit(77)
    return path


def python_callers(path, tmp, n=3000, m=5000):
    p, j, text = run_traced([path, SCRIPT, str(n), str(m)], tmp, keep=True)
    check(p.returncode == 0 and p.stdout == "done\n", f"exit status {p.returncode}, stdout {p.stdout!r}: {p.stderr}")
    got = {}
    for r in j["callers"]:
        if r.get("python"):
            key = (r["symbol"], os.path.basename(r.get("file", "")), r.get("line"), r.get("clock"))
            got[key] = got.get(key, 0) + r["calls"]
    poll = ("poll_events", "two_functions.py", line_of("POLL"), "CLOCK_MONOTONIC")
    handle = ("handle_request", "two_functions.py", line_of("HANDLE"), "CLOCK_MONOTONIC")
    check(got.get(poll) == n, f"poll_events: {got.get(poll)} calls, expected {n}; Python callers: {got}")
    check(got.get(handle) == m, f"handle_request: {got.get(handle)} calls, expected {m}; Python callers: {got}")
    check(f"handle_request  two_functions.py:{line_of('HANDLE')}  via" in text, f"text names the Python caller:\n{text}")
    notes = [n for proc in j["processes"] for n in proc.get("notes", [])]
    check(not any("not read" in n for n in notes), f"no runtime left unread: {notes}")
    # `top` names the same Python callers (it showed the tagged site, 0x800000000017, before).
    t = subprocess.run([VDSOTRACE, "top", "--once", "--json", "--interval", "0.05", j["session"]], capture_output=True,
                       text=True)
    top = json.loads(t.stdout) if t.returncode == 0 else {}
    by = {c["caller"]: c["calls"] for c in top.get("callers", [])}
    check(by.get(f"handle_request  two_functions.py:{line_of('HANDLE')}") == m and
          by.get(f"poll_events  two_functions.py:{line_of('POLL')}") == n, f"top's callers: {by} {t.stderr}")
    return j


def t_python_debian(tmp):
    python_callers(python_or_skip("/usr/bin/python3", "3.11"), tmp)


def t_python_312(tmp):
    python_callers(python_or_skip("~/.pyenv/versions/3.12.1/bin/python3.12", "3.12"), tmp)


def t_python_313(tmp):
    python_callers(python_or_skip("~/.pyenv/versions/3.13.0/bin/python3.13", "3.13"), tmp)


def python_unreadable(path, want, tmp):
    """A CPython whose frames are not read (before 3.11): the report names it once with why, and
    counts every call, time.monotonic()'s at the time module's function via the _PyTime wrapper."""
    path = python_or_skip(path, want)
    version = subprocess.run([path, "-c", "import platform; print(platform.python_version())"], capture_output=True,
                             text=True).stdout.strip()
    p, j, text = run_traced([path, SCRIPT, "3000", "5000"], tmp)
    check(p.returncode == 0 and p.stdout == "done\n", f"exit status {p.returncode}, stdout {p.stdout!r}")
    notes = [n for proc in j["processes"] for n in proc.get("notes", [])]
    said = f"CPython {version}: its Python frames were not read (versions before 3.11 keep other frame structures"
    check(len(notes) == 1 and notes[0].startswith(said), f"{version} named once with why: {notes}")
    check(text.count(f"CPython {version}: its Python frames were not read") == 1, f"text report says so once:\n{text}")
    mono = {(r.get("symbol"), r.get("via", {}).get("name", "")): r["calls"] for r in j["callers"]
            if r.get("clock") == "CLOCK_MONOTONIC" and r["calls"] >= 1000}
    check(len(mono) == 1 and list(mono.values()) == [8000] and list(mono)[0][0] == "time_monotonic" and
          list(mono)[0][1].startswith("_PyTime_GetMonotonicClock"),
          f"all 8000 time.monotonic() calls at the time module's function, via _PyTime_*: {mono}")
    check(sum(r["calls"] for r in j["callers"]) == j["total_calls"] and j["unattributed"] == [],
          f"every call counted: {j['total_calls']} in all, {sum(r['calls'] for r in j['callers'])} by caller")
    check(not any(r.get("python") for r in j["callers"]), "no Python caller claimed")


def t_python_unreadable(tmp):
    python_unreadable("~/.pyenv/versions/3.10.13/bin/python3.10", "3.10", tmp)


def t_python_unreadable_38(tmp):
    python_unreadable("~/.pyenv/versions/3.8.18/bin/python3.8", "3.8", tmp)


def t_python_unreadable_36(tmp):
    python_unreadable("~/.pyenv/versions/3.6.15/bin/python3.6", "3.6", tmp)


NESTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nested_functions.py")


def python_stacks(path, tmp, options=()):
    """Every call sampled; returns {folded stack: calls} and the JSON report."""
    n, m = 700, 400
    folded = os.path.join(tmp, "stacks.folded")
    # Room for every distinct stack of the interpreter's start-up (each import path is one now).
    roomy = {"VDSOTRACE_STACKS": "65536", "VDSOTRACE_STACK_COUNTS": "65536"}
    p, j, _ = run_traced([path, NESTED, str(n), str(m)], tmp, ["--sample", "1", "--folded", folded, *options], roomy)
    check(p.returncode == 0 and p.stdout == "done\n", f"exit status {p.returncode}, stdout {p.stdout!r}: {p.stderr}")
    # (3.13 reads the clock before the shim's constructor ran: those calls are counted, not sampled.)
    lost = j["sampling"]["lost"]
    check(lost["counts_full"] == 0 and lost["stacks_full"] == 0, f"no stack lost: {j['sampling']}")
    stacks = {}
    with open(folded) as f:
        for line in f:
            stack, calls = line.rsplit(" ", 1)
            stacks[stack] = stacks.get(stack, 0) + int(calls)
    return stacks, j, n, m


def check_interleaved(stacks, j, n, m):
    def through(part):
        return sum(c for s, c in stacks.items() if part in s and s.endswith(";clock_gettime"))
    # The Python functions in call order, where the interpreter's frame was, the C frames around.
    check(through(";<module>;outer;inner;PyObject_Vectorcall;") == n,
          f"<module>;outer;inner: {through(';<module>;outer;inner;')} sampled calls, not {n}")
    check(through(";<module>;other;inner;PyObject_Vectorcall;") == m,
          f"<module>;other;inner: {through(';<module>;other;inner;')} sampled calls, not {m}")
    check(not any(";inner;_PyEval_EvalFrameDefault;" in s for s in stacks), "no interpreter frame left beside them")
    frames = [f for s in j["stacks"] for f in s["frames"] if f["module"] == "[python]" and f["symbol"] == "inner"]
    check(frames and all(os.path.basename(f["file"]) == "nested_functions.py" and f["line"] == line_of_in(NESTED, "INNER")
                         for f in frames), f"inner's file and line: {frames[:2]}")


def line_of_in(path, marker):
    with open(path) as f:
        for number, text in enumerate(f, 1):
            if text.rstrip().endswith("# " + marker):
                return number
    raise RuntimeError(marker)


def t_python_stacks_debian(tmp):
    check_interleaved(*python_stacks(python_or_skip("/usr/bin/python3", "3.11"), tmp))


def t_python_stacks_313(tmp):
    path = python_or_skip("~/.pyenv/versions/3.13.0/bin/python3.13", "3.13")
    check_interleaved(*python_stacks(path, tmp, ["--no-runtime-help"]))


def t_python_stacks_312(tmp):
    path = python_or_skip("~/.pyenv/versions/3.12.1/bin/python3.12", "3.12")
    # Without the runtime's perf trampolines: the frames read from the interpreter name them.
    check_interleaved(*python_stacks(path, tmp, ["--no-runtime-help"]))
    # With them (run sets PYTHONPERFSUPPORT=1) the perf map names each function, once.
    stacks, j, n, m = python_stacks(path, tmp)
    # (Start-up code that ran before the trampolines were on is named from the frames read.)
    twice = [s for s in j["stacks"] if any(f["symbol"].startswith("py::") for f in s["frames"]) and
             any(f["module"] == "[python]" for f in s["frames"])]
    check(twice == [], f"no function named twice: {twice[:1]}")
    got = sum(c for s, c in stacks.items() if f"py::inner:{NESTED}" in s and s.endswith(";clock_gettime"))
    check(got == n + m, f"py::inner: {got} sampled calls, not {n + m}")


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def t_hidden_wrapper(tmp):
    # Built without -rdynamic: app_clock is not in the dynamic symbols, only in the file's .symtab.
    p, j, text = run_traced([HIDDEN, "10", "20", "300"], tmp, ["--wrapper", "app_clock"])
    check(p.returncode == 0 and p.stdout == "done 1\n", f"exit status {p.returncode}: {p.stderr}")
    r = rows(j)
    check(r.get(("tick", "app_clock", "CLOCK_MONOTONIC")) == 300, f"tick via app_clock from .symtab: {r}")
    check(r.get(("handle_request", STEADY, "CLOCK_MONOTONIC")) == 20, f"handle_request: {r}")
    check(sum(c["calls"] for c in j["callers"]) == 331 and j["unattributed"] == [], "every call attributed")
    check("via app_clock" in text, f"text:\n{text}")
    # Without --wrapper the same function is counted where it calls clock_gettime, as before.
    p, j, _ = run_traced([HIDDEN, "10", "20", "300"], tmp)
    check(rows(j).get(("app_clock", None, "CLOCK_MONOTONIC")) == 300, f"app_clock direct: {rows(j)}")


def t_debug_file_wrapper(tmp):
    # Stripped (no .symtab at all), its symbols in a separate file named by .gnu_debuglink.
    objcopy, strip = shutil.which("objcopy"), shutil.which("strip")
    if not objcopy or not strip:
        skip("objcopy/strip (binutils) not installed")
    prog, debug = os.path.join(tmp, "chrono_stripped"), os.path.join(tmp, "chrono_stripped.debug")
    subprocess.run([objcopy, "--only-keep-debug", HIDDEN, debug], check=True)
    subprocess.run([strip, "--strip-all", "-o", prog, HIDDEN], check=True)
    subprocess.run([objcopy, "--add-gnu-debuglink=" + debug, prog], check=True)
    symtab = subprocess.run(["readelf", "-S", prog], capture_output=True, text=True).stdout
    check(".symtab" not in symtab and ".gnu_debuglink" in symtab, "the program has no .symtab, a debug link")
    p, j, _ = run_traced([prog, "10", "20", "300"], tmp, ["--wrapper", "app_clock"])
    check(p.returncode == 0, f"exit status {p.returncode}: {p.stderr}")
    check(rows(j).get(("tick", "app_clock", "CLOCK_MONOTONIC")) == 300, f"tick via app_clock from the debug file: "
          f"{rows(j)}")
    # The debug file in .debug/ beside the program, and in the first place looked at (beside it,
    # same name) another program's file without a .symtab but with a .gnu_debuglink of its own:
    # passed over, and the search goes on with the program's own link name to .debug/.
    dot_debug = os.path.join(tmp, ".debug")
    os.mkdir(dot_debug)
    os.rename(debug, os.path.join(dot_debug, os.path.basename(debug)))
    subprocess.run([strip, "--strip-all", "-o", debug, shutil.which("true")], check=True)
    subprocess.run([objcopy, "--add-gnu-debuglink=" + os.path.join(dot_debug, os.path.basename(debug)), debug],
                   check=True)
    p, j, _ = run_traced([prog, "10", "20", "300"], tmp, ["--wrapper", "app_clock"])
    check(p.returncode == 0 and rows(j).get(("tick", "app_clock", "CLOCK_MONOTONIC")) == 300,
          f"tick via app_clock from .debug/, past a decoy without symbols: {rows(j)}")
    os.unlink(debug)
    os.rename(os.path.join(dot_debug, os.path.basename(debug)), debug)
    os.rmdir(dot_debug)
    # Without the debug file nothing names it: counted at app_clock's own call site.
    os.unlink(debug)
    p, j, _ = run_traced([prog, "10", "20", "300"], tmp, ["--wrapper", "app_clock"])
    got = [c for c in j["callers"] if "via" not in c and c.get("clock") == "CLOCK_MONOTONIC" and c["calls"] == 300]
    check(p.returncode == 0 and len(got) == 1, f"300 calls at app_clock's call site: {j['callers']}")
    # No debug link, the debug file where Debian's -dbgsym packages put it: found by build id.
    notes = subprocess.run(["readelf", "-n", HIDDEN], capture_output=True, text=True).stdout
    build_id = next((line.split()[-1] for line in notes.splitlines() if "Build ID:" in line), None)
    root = "/usr/lib/debug/.build-id"
    if build_id is None or not os.access("/usr/lib", os.W_OK):
        print(f"(build-id case not run: {'no build id' if build_id is None else '/usr/lib not writable'})")
        return
    by_id = os.path.join(root, build_id[:2], build_id[2:] + ".debug")
    made_dirs = [d for d in ("/usr/lib/debug", root, os.path.dirname(by_id)) if not os.path.isdir(d)]
    subprocess.run([strip, "--strip-all", "-o", prog, HIDDEN], check=True)
    try:
        for d in made_dirs:
            os.mkdir(d)
        subprocess.run([objcopy, "--only-keep-debug", HIDDEN, by_id], check=True)
        p, j, _ = run_traced([prog, "10", "20", "300"], tmp, ["--wrapper", "app_clock"])
        check(p.returncode == 0, f"exit status {p.returncode}: {p.stderr}")
        check(rows(j).get(("tick", "app_clock", "CLOCK_MONOTONIC")) == 300,
              f"tick via app_clock from the debug file found by build id: {rows(j)}")
    finally:
        if os.path.exists(by_id):
            os.unlink(by_id)
        for d in reversed(made_dirs):
            os.rmdir(d)


def callers_by(j, via):
    """{caller function name without parameters: calls} for the callers through the wrapper `via`."""
    out = {}
    for r in j["callers"]:
        if r.get("via", {}).get("name") == via:
            name = r.get("symbol", "")
            out[name] = out.get(name, 0) + r["calls"]
    return out


def t_node_hidden_wrapper(tmp):
    # uv__hrtime is a local symbol of the node executable: found in its .symtab, stepped out of.
    node = shutil.which("node")
    if node is None:
        skip("node is not installed")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if not version.startswith("v20."):
        # Debian's node 18 links a stripped shared libuv (uv__hrtime then has no symbol anywhere).
        skip(f"node {version}: this test knows node 20's bindings (one executable with its .symtab)")
    script = os.path.join(tmp, "clocks.js")
    with open(script, "w") as f:
        f.write("let s = 0;\n"
                "for (let i = 0; i < 3000; i++) s += performance.now();\n"
                "for (let i = 0; i < 2000; i++) s += process.hrtime()[1];\n"
                "for (let i = 0; i < 700; i++) s += Number(process.hrtime.bigint() & 1n);\n"
                "console.log(s > 0 ? 'ok' : 'zero');\n")
    p, j, text = run_traced([node, script], tmp)
    check(p.returncode == 0 and p.stdout == "ok\n", f"exit status {p.returncode}, stdout {p.stdout!r}: {p.stderr}")
    by = callers_by(j, "uv__hrtime")
    # JavaScript reaches performance.now() through V8's slow call or its fast API call.
    perf = sum(n for name, n in by.items()
               if name.startswith(("node::performance::SlowPerformanceNow", "node::performance::FastPerformanceNow")))
    hrtime = sum(n for name, n in by.items() if name.startswith("node::process::BindingData::SlowNumber"))
    bigint = sum(n for name, n in by.items() if name.startswith("node::process::BindingData::SlowBigInt"))
    check(perf == 3000, f"performance.now(): {perf} calls through uv__hrtime from PerformanceNow, not 3000: {by}")
    check(hrtime == 2000, f"process.hrtime(): {hrtime} calls from BindingData::SlowNumber, not 2000: {by}")
    check(bigint == 700, f"process.hrtime.bigint(): {bigint} calls from BindingData::SlowBigInt, not 700: {by}")
    check("node::performance::" in text and "via uv__hrtime" in text, f"text:\n{text}")
    check(not any(r.get("symbol") == "uv__hrtime" for r in j["callers"] if r["calls"] >= 700),
          "uv__hrtime is no longer named as the caller")


def nano_clock(tmp, options=()):
    java, javac = shutil.which("java"), shutil.which("javac")
    if java is None or javac is None:
        skip("java/javac (default-jdk-headless) not installed")
    c = subprocess.run([javac, "-d", tmp, os.path.join(JIT_HERE, "NanoClock.java")], capture_output=True, text=True)
    check(c.returncode == 0, f"javac: {c.stderr}")
    return run_traced([java, "-Xcomp", "-XX:CompileCommand=quiet", "-XX:CompileCommand=compileonly,NanoClock::hot",
                       "-cp", tmp, "NanoClock", "5000"], tmp, options, env={"JAVA_TOOL_OPTIONS": ""})


def t_java_without_map(tmp):
    # --no-runtime-help: the JVM writes no perf map, so its JIT-compiled caller is a bare address;
    # the report says which calls and why, and still counts each one.
    p, j, text = nano_clock(tmp, ["--no-runtime-help"])
    check(p.returncode == 0 and p.stdout == "ok\n", f"exit status {p.returncode}, stdout {p.stdout!r}: {p.stderr}")
    bare = [r for r in j["callers"] if r.get("module", "") == "" and r.get("address", 0) != 0 and not r.get("python")]
    hot = [r for r in bare if r.get("via", {}).get("name") == "os::javaTimeNanos()" and r["calls"] == 5000]
    check(len(hot) == 1 and hot[0].get("symbol", "") == "", f"NanoClock.hot's 5000 calls at one bare address: {bare}")
    notes = [n for proc in j["processes"] for n in proc.get("notes", [])]
    said = f"{sum(r['calls'] for r in bare)} calls come from code in no module (JIT-compiled or generated"
    check(len(notes) == 1 and notes[0].startswith(said) and "left no perf map" in notes[0] and
          "--no-runtime-help" in notes[0], f"one note saying which and why ({said!r}): {notes}")
    check(said in text, f"text report:\n{text}")
    check(sum(r["calls"] for r in j["callers"]) == j["total_calls"], "every call counted")


def t_java_hidden_wrapper(tmp):
    # os::javaTimeNanos is a hidden symbol of libjvm.so (in its .symtab only); its caller here is
    # the JIT-compiled NanoClock.hot, named from the JVM's perf map.
    java, javac = shutil.which("java"), shutil.which("javac")
    if java is None or javac is None:
        skip("java/javac (default-jdk-headless) not installed")
    c = subprocess.run([javac, "-d", tmp, os.path.join(JIT_HERE, "NanoClock.java")], capture_output=True, text=True)
    check(c.returncode == 0, f"javac: {c.stderr}")
    n = 5000
    env = {k: "" for k in ("JAVA_TOOL_OPTIONS",)}
    p, j, text = run_traced([java, "-Xcomp", "-XX:CompileCommand=quiet", "-XX:CompileCommand=compileonly,NanoClock::hot",
                             "-cp", tmp, "NanoClock", str(n)], tmp, env=env)
    check(p.returncode == 0 and p.stdout == "ok\n", f"exit status {p.returncode}, stdout {p.stdout!r}: {p.stderr}")
    by = callers_by(j, "os::javaTimeNanos()")
    check(by.get("long NanoClock.hot(int)") == n, f"NanoClock.hot through os::javaTimeNanos: {by}")
    hot = [r for r in j["callers"] if r.get("symbol") == "long NanoClock.hot(int)"]
    check(hot and all(r["module"] == "[jit]" for r in hot), f"a JIT frame named from the perf map: {hot}")
    # One row for the method, however many call sites the JIT's unrolled loop has.
    check(len(hot) == 1 and hot[0]["offset"] == 0 and hot[0]["calls"] == n, f"one row per JIT method: {hot}")
    check("long NanoClock.hot(int)  ([jit])  via os::javaTimeNanos()\n" in text, f"text:\n{text}")


if __name__ == "__main__":
    sys.exit(main(globals()))
