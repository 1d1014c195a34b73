#!/usr/bin/env python3
"""End-to-end tests of calls through clock wrappers: a C++ program asks std::chrono's now() for
the time from known functions a known number of times; the report must count each calling
function exactly, with the wrapper it came through. One test per invocation: test_wrappers.py
NAME. Exit 0 pass, 1 fail."""
import json
import os
import subprocess
import sys
import tempfile
import uuid

ENV = os.environ
VDSOTRACE, SHIM, PROGRAM = ENV["VDSOTRACE"], ENV["SHIM"], ENV["CHRONO_CALLERS"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def remove_recordings(j):
    for proc in j["processes"]:
        try:
            os.unlink(proc["recording"])
        except OSError:
            pass


def run_traced(args, tmp, options=(), env=None):
    report = os.path.join(tmp, "report.json")
    text = os.path.join(tmp, "report.txt")
    cmd = [VDSOTRACE, "run", "--shim", SHIM, "--keep-live", "-o", os.devnull, "--json", report, "--text", text, *options, "--", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **(env or {})), timeout=100)
    j = None
    if os.path.exists(report):
        with open(report) as f:
            j = json.load(f)
        remove_recordings(j)
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
    p, j, text = run_traced([path, SCRIPT, str(n), str(m)], tmp)
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
    return j


def t_python_debian(tmp):
    python_callers(python_or_skip("/usr/bin/python3", "3.11"), tmp)


def t_python_312(tmp):
    python_callers(python_or_skip("~/.pyenv/versions/3.12.1/bin/python3.12", "3.12"), tmp)


def t_python_313(tmp):
    python_callers(python_or_skip("~/.pyenv/versions/3.13.0/bin/python3.13", "3.13"), tmp)


def t_python_unreadable(tmp):
    # CPython 3.10 keeps other frame structures: named in the report with why, every call counted
    # at the interpreter's C call site.
    path = python_or_skip("~/.pyenv/versions/3.10.13/bin/python3.10", "3.10")
    p, j, text = run_traced([path, SCRIPT, "3000", "5000"], tmp)
    check(p.returncode == 0, f"exit status {p.returncode}")
    notes = [n for proc in j["processes"] for n in proc.get("notes", [])]
    check(any(n.startswith("CPython 3.10.13") and "before 3.11" in n for n in notes), f"3.10 named with why: {notes}")
    check("CPython 3.10.13: its Python frames were not read" in text, f"text report says so:\n{text}")
    mono = sorted((r["calls"] for r in j["callers"] if r.get("clock") == "CLOCK_MONOTONIC"), reverse=True)
    check(mono and mono[0] == 8000, f"time.monotonic's C call site has all 8000 calls: {mono}")
    check(not any(r.get("python") for r in j["callers"]), "no Python caller claimed")


def main():
    name = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        globals()["t_" + name](tmp)
    print("PASS" if not failures else f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
