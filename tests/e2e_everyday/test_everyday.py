#!/usr/bin/env python3
"""Everyday use (issue 14) through the real `vdsotrace` and shim, with exact expectations.

  VDSOTRACE=... SHIM=... EXIT_PATHS=... test_everyday.py

Every recording made here belongs to a session named by this test (or to the pid<PID>.<ticks>
session of a process it started) and is removed at the end; nobody else's are touched.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from vdsotrace_test import environment
from vdsotrace_test import ENV, SHIM, VDSOTRACE, SESSIONS as made_sessions, check, cleanup, verdict
from vdsotrace_test import run as run_command


def run(args, *a, **kw):
    # These cases read the sessions `run` leaves in /dev/shm: keep them, and no recording file
    # (tests/e2e_everyday/test_recording_file.py is about that file).
    if args[1:2] == ["run"] and not {"-o", "--save"} & set(args):
        args = args[:2] + ["--keep-live", "-o", os.devnull] + args[2:]
    return run_command(args, *a, **kw)

EXIT_PATHS = os.path.abspath(ENV["EXIT_PATHS"])
TAG = f"ev{os.getpid()}"


def one_line(p):
    return p.stderr.count("\n") == 1 and p.stderr.endswith("\n")


# ---- (b) the command line ----------------------------------------------------------------------
def test_command_line(tmp):
    cases = [
        (["reprot"], 2, "vdsotrace: unknown command 'reprot': did you mean 'report'?"),
        (["lss"], 2, "vdsotrace: unknown command 'lss': did you mean 'ls'?"),
        (["report", "--bogus"], 2, "vdsotrace: unknown option --bogus (see `vdsotrace report --help`)"),
        (["run", "--bogus", "--", "true"], 2, "vdsotrace: unknown option --bogus (see `vdsotrace run --help`)"),
        (["report", "--top", "0"], 2, "vdsotrace: --top: expected a count from 1 to 1000000, not '0'"),
        (["run", "--top", "0", "--", "true"], 2, "vdsotrace: --top: expected a count from 1 to 1000000, not '0'"),
        (["run", "--route", "clock_gettime=banana", "--", "true"], 2,
         "vdsotrace: --route clock_gettime=banana: expected FUNCTION=TARGET[,...] with FUNCTION one of "
         "clock_gettime, gettimeofday, time, getcpu, clock_getres, all and TARGET one of vdso, syscall, libc"),
        (["run", "--json", "/nonexistent/x.json", "--", "true"], 2,
         "vdsotrace: --json /nonexistent/x.json: cannot write there: /nonexistent does not exist"),
        (["run", "-o", "/nonexistent/x.txt", "--", "true"], 2,
         "vdsotrace: -o /nonexistent/x.txt: cannot write there: /nonexistent does not exist"),
        (["run", "--save", "/tmp", "--", "true"], 2, "vdsotrace: --save /tmp: cannot write there: is a directory"),
        (["run", "--flamegraph", "/nonexistent/f.svg", "--", "true"], 2,
         "vdsotrace: --flamegraph /nonexistent/f.svg: cannot write there: /nonexistent does not exist"),
        (["report", "-o", "/tmp", "--pprof", "x.pb"], 2, "vdsotrace: -o /tmp: cannot write there: is a directory"),
        (["report", "--folded", "/etc/passwd/x"], 2,
         "vdsotrace: --folded /etc/passwd/x: cannot write there: /etc/passwd is not a directory"),
        (["run", "--session", "bad-name", "--", "true"], 2,
         "vdsotrace: --session bad-name: expected 1 to 40 of A-Z a-z 0-9 . _"),
        (["run", "--", "/etc/passwd"], 126, "vdsotrace: /etc/passwd: Permission denied"),
        (["run", "--", "/tmp"], 126, "vdsotrace: /tmp: Is a directory"),
        (["run", "--", "no-such-command-" + TAG], 127, f"vdsotrace: no-such-command-{TAG}: command not found"),
    ]
    for args, code, line in cases:
        p = run([VDSOTRACE] + args, cwd=tmp)
        check(p.returncode == code and p.stderr == line + "\n",
              "vdsotrace " + " ".join(args), f"exit {p.returncode}, stderr {p.stderr!r}, expected {code} {line!r}")
    # Checked before the program starts: a bad --json path never costs a run.
    marker = os.path.join(tmp, "ran")
    p = run([VDSOTRACE, "run", "--json", "/nonexistent/x.json", "--", "touch", marker])
    check(p.returncode == 2 and not os.path.exists(marker), "bad --json: the command never ran",
          f"exit {p.returncode}, marker exists: {os.path.exists(marker)}")
    # Root passes access() everywhere, yet nothing can be created in /proc: the recording file (and
    # the FILE.partial it is written as) is tried for real, before the command runs.
    for option in ("-o", "--json"):
        target = f"/proc/vdsotrace-{TAG}.out"
        p = run([VDSOTRACE, "run", option, target, "--", "touch", marker])
        check(p.returncode == 2 and one_line(p) and p.stderr.startswith(f"vdsotrace: {option} {target}: cannot write there: ")
              and not os.path.exists(marker), f"run {option} /proc/...: refused before the command ran",
              f"exit {p.returncode}, {p.stderr!r}, marker exists: {os.path.exists(marker)}")
    # -o FILE where FILE may be written but not FILE.partial beside it (a directory of that name).
    blocked = os.path.join(tmp, "blocked.vdsotrace")
    open(blocked, "w").close()
    os.mkdir(blocked + ".partial")
    p = run([VDSOTRACE, "run", "-o", blocked, "--", "touch", marker])
    check(p.returncode == 2 and p.stderr == f"vdsotrace: -o {blocked}: cannot write there: {blocked}.partial is in the way "
          "(the file is written there first)\n" and not os.path.exists(marker),
          "run -o FILE with a directory FILE.partial: refused before the command ran", f"exit {p.returncode}, {p.stderr!r}")
    os.rmdir(blocked + ".partial")
    # "-" is standard output: the JSON report comes after the program's own output, no file "-".
    p = run([VDSOTRACE, "run", "--session", TAG + "dash", "--json", "-", "--", EXIT_PATHS, "fork-exit"], cwd=tmp)
    made_sessions.add(TAG + "dash")
    ok = p.returncode == 0 and not os.path.exists(os.path.join(tmp, "-"))
    try:
        j = json.loads(p.stdout)
        ok = ok and j["total_calls"] == 9 and j["session"] == TAG + "dash"
    except ValueError as e:
        ok, j = False, str(e)
    check(ok, "run --json - writes the JSON to stdout", f"exit {p.returncode}, stdout {p.stdout[:300]!r}")
    # A session name in use is refused (its report would mix two runs).
    p = run([VDSOTRACE, "run", "--session", TAG + "dash", "--", "true"])
    check(p.returncode == 2 and one_line(p) and "recordings of that session exist already" in p.stderr,
          "run --session NAME in use", f"exit {p.returncode}, {p.stderr!r}")


# ---- (c) exit statuses -------------------------------------------------------------------------
def processes(report):
    return sorted(report["processes"], key=lambda p: p["pid"])


def test_fork_exit(tmp):
    out = os.path.join(tmp, "fork.json")
    p = run([VDSOTRACE, "run", "--session", TAG + "fork", "--json", out, "--", EXIT_PATHS, "fork-exit"])
    made_sessions.add(TAG + "fork")
    check(p.returncode == 0, "fork-exit ran", p.stderr)
    r = json.load(open(out))
    got = sorted((q["calls"], q["exit"]) for q in r["processes"])
    want = sorted([(1, {"code": 0}), (5, {"code": 7}), (3, {"code": 9})])
    check(got == want, "fork + _exit(7) and _Exit(9) children reported as exited with their codes", str(got))
    # Plain LD_PRELOAD, nobody but the program's own parent reaps: the same.
    p = run([EXIT_PATHS, "fork-exit"], env={"LD_PRELOAD": SHIM, "VDSOTRACE_SESSION": TAG + "forkpre"})
    made_sessions.add(TAG + "forkpre")
    r = json.loads(run([VDSOTRACE, "report", "--json", TAG + "forkpre"]).stdout)
    got = sorted((q["calls"], q["exit"]) for q in r["processes"])
    check(got == want, "the same under plain LD_PRELOAD", str(got))


def test_reaped_by_parent(tmp):
    """Children that cannot record how they end (SIGKILL, SIGTERM, a raw exit_group): their traced
    parent's waitpid, waitid and wait record it for them, with the parent's pid."""
    want_children = [(2, {"signal": 15}), (4, {"signal": 9}), (6, {"code": 5})]
    strace = shutil.which("strace")
    if strace is None:
        print("skip: the reap without a /dev/shm scan needs strace (package strace)")
    for how in ("run", "preload") + (("strace",) if strace else ()):
        session = TAG + "reap" + how
        made_sessions.add(session)
        if how == "strace":
            # The parent finds its children's recordings by their names (derived from session, pid
            # and image generation), not by reading /dev/shm: no getdents64 at all.
            log = os.path.join(tmp, "reap.strace")
            p = run([strace, "-f", "-qq", "-e", "trace=getdents64", "-o", log, EXIT_PATHS, "fork-kill"],
                    env={"LD_PRELOAD": SHIM, "VDSOTRACE_SESSION": session})
            check(p.returncode == 0, "fork-kill ran under strace", p.stderr)
            calls = [line for line in open(log) if "getdents64(" in line]
            check(calls == [], "the parent reaped its three children without a scan of /dev/shm", "".join(calls[:5]))
            r = json.loads(run([VDSOTRACE, "report", "--json", session]).stdout)
            text = run([VDSOTRACE, "report", session]).stdout
        elif how == "run":
            out = os.path.join(tmp, "reap.json")
            p = run([VDSOTRACE, "run", "--session", session, "--json", out, "--", EXIT_PATHS, "fork-kill"])
            check(p.returncode == 0, "fork-kill ran under run", p.stderr)
            r = json.load(open(out))
            text = p.stderr
        else:
            p = run([EXIT_PATHS, "fork-kill"], env={"LD_PRELOAD": SHIM, "VDSOTRACE_SESSION": session})
            check(p.returncode == 0, "fork-kill ran under LD_PRELOAD", p.stderr)
            r = json.loads(run([VDSOTRACE, "report", "--json", session]).stdout)
            text = run([VDSOTRACE, "report", session]).stdout
        procs = processes(r)
        parent = [q for q in procs if q["calls"] == 1]
        check(len(parent) == 1 and parent[0]["exit"] == {"code": 0}, f"{how}: the parent exited 0",
              str([(q["pid"], q["calls"], q["exit"]) for q in procs]))
        if not parent:
            continue
        ppid = parent[0]["pid"]
        got = sorted((q["calls"], q["exit"], q.get("reaped_by")) for q in procs if q["pid"] != ppid)
        want = [(calls, fate, ppid) for calls, fate in want_children]
        check(got == want, f"{how}: killed and raw-exited children reported with the status their parent reaped",
              f"{got} != {want}")
        for line in (f"killed by SIGKILL (reaped by PID {ppid}), 4 calls", f"killed by SIGTERM (reaped by PID {ppid}), 2 calls",
                     f"exited with code 5 (reaped by PID {ppid}), 6 calls"):
            check(line in text, f"{how}: the text report says '{line}'", text[-1500:])


def test_startup_files(tmp):
    """What the shim's start-up opens in a program that never reads the clock: its own library,
    nothing else (it read /proc/self/maps twice and the loader's file before issue 14's start-up
    cut, 15 system calls at every process start)."""
    strace = shutil.which("strace")
    if strace is None:
        print("skip: the start-up's files need strace (package strace)")
        return
    true = shutil.which("true")

    def opened(name, env):
        log = os.path.join(tmp, name + ".strace")
        p = run([strace, "-f", "-qq", "-e", "trace=open,openat,readlink", "-o", log, true], env=env)
        check(p.returncode == 0, f"{name}: true ran under strace", p.stderr)
        paths = sorted(re.findall(r'^\d+\s+(?:open|openat|readlink)\((?:AT_FDCWD, )?"([^"]*)"', open(log).read(), re.M))
        return paths

    native = opened("native", None)
    session = TAG + "startup"
    made_sessions.add(session)
    traced = opened("preload", {"LD_PRELOAD": SHIM, "VDSOTRACE_SESSION": session})
    extra = list(traced)
    for path in native:
        if path in extra:
            extra.remove(path)
    check(extra == [SHIM], "the shim's start-up opens its own library and nothing else", f"{extra} (native {native})")


def test_killed_duration(tmp):
    """A plain LD_PRELOAD program killed with SIGTERM after reading the clock for about 0.5 s: its
    recording keeps the last activity it proves, and the report gives that as a lower bound
    (before format minor 6: "11,298,704 vDSO time calls in 0 us", without rates)."""
    # Reaped by this (untraced) test: nobody recorded the signal, the process vanished.
    session = TAG + "term"
    made_sessions.add(session)
    env = environment({"LD_PRELOAD": SHIM, "VDSOTRACE_SESSION": session})
    proc = subprocess.Popen([EXIT_PATHS, "busy"], stdout=subprocess.PIPE, env=env, text=True)
    started = time.monotonic()
    ready = proc.stdout.readline() == "busy\n"
    time.sleep(max(0.0, 0.5 - (time.monotonic() - started)))
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    lived = time.monotonic() - started
    r = json.loads(run([VDSOTRACE, "report", "--json", session]).stdout)
    q = r["processes"][0] if len(r["processes"]) == 1 else {}
    check(ready and q.get("exit") == {"vanished": True} and q.get("seconds_at_least") is True and
          0.3 <= q.get("seconds", 0) <= lived + 0.01 and r.get("seconds_at_least") is True and r["seconds"] == q["seconds"],
          "SIGTERM'd LD_PRELOAD program: at least ~0.5 s (its last activity), at most its real life",
          f"lived {lived:.3f} s; {json.dumps(q)[:600]}")
    text = run([VDSOTRACE, "report", session]).stdout
    m = re.search(r"^[0-9,]+ vDSO time calls in at least ([0-9.]+) (ms|s)$", text, re.M)
    check(m is not None and re.search(r", [0-9,]+ calls over at least [0-9.]+ (ms|s) \(until its last recorded "
                                      r"activity\)$", text, re.M) is not None,
          "the text report says 'at least' for the run and the process", text[:400] + text[-400:])

    # Reaped by a traced shell: killed by SIGTERM, with the shell's pid, and the same lower bound.
    sh = shutil.which("sh")
    session = TAG + "termsh"
    made_sessions.add(session)
    p = run([sh, "-c", f'"{EXIT_PATHS}" busy >/dev/null & sleep 0.5; kill -TERM $!; wait $!; echo "$? $$"'],
            env={"LD_PRELOAD": SHIM, "VDSOTRACE_SESSION": session})
    r = json.loads(run([VDSOTRACE, "report", "--json", session]).stdout)
    busy = [q for q in r["processes"] if q["exe"] == os.path.realpath(EXIT_PATHS)]
    words = p.stdout.split()
    shell_pid = int(words[1]) if len(words) == 2 else 0
    check(p.returncode == 0 and words[:1] == ["143"] and len(busy) == 1 and busy[0]["exit"] == {"signal": 15} and
          busy[0].get("reaped_by") == shell_pid and busy[0].get("seconds_at_least") is True and
          0.2 <= busy[0]["seconds"] <= 10,
          "SIGTERM'd child of a traced shell: killed by SIGTERM, reaped by the shell, at least its last activity",
          f"sh exit {p.returncode}, pid {shell_pid}; {json.dumps(busy)[:600]}")


def test_ls_killed_duration(tmp):
    """`ls` gives a process killed by SIGKILL the duration its recording proves: from its start to
    its last recorded activity (stamped every 65,536 calls), said as a lower bound ("≥"). The
    program prints its own clock readings, which bound that duration from both sides; it then
    waits 0.4 s to be killed, which the duration must not include (before: no duration at all,
    and the session "lasted 0 us")."""
    calls = 20 * 65536  # about 40 ms of calls: many stamps, each a coarse clock tick apart at most
    session = TAG + "lskill"
    made_sessions.add(session)
    env = environment({"LD_PRELOAD": SHIM, "VDSOTRACE_SESSION": session})
    proc = subprocess.Popen([EXIT_PATHS, "stamped", str(calls)], stdout=subprocess.PIPE, env=env, text=True)
    times = [int(w) for w in proc.stdout.readline().split()]
    time.sleep(0.4)
    proc.kill()
    proc.wait()
    check(len(times) == 4, "stamped: four clock readings", str(times))
    if len(times) != 4:
        return
    before, first, mark, after = times
    # Its last activity is no earlier than call N - 65,537, less the stamp's granularity (1 ms, as
    # the coarse clock tells it, which lags by up to one of its ticks), and no later than its last
    # call; its start lies between the raw read before its first call and the raw read right after
    # that call returned (the recording is made during the first call, after its clock read: under
    # load that took longer than the 1 ms and a tick this bound once assumed from the call's own
    # reading).
    # One stamp may be skipped besides: a stamp is taken when the coarse clock shows a millisecond
    # since the last one, and a coarse clock a tick behind can hide it at one turn of the count
    # (seen in CI: 1.1 ms short of the bound without this). A turn is 65,536 calls at this run's
    # own pace.
    turn = (after - first) / 1e9 * 65536 / (calls - 1)
    low = (mark - first) / 1e9 - 0.001 - time.clock_getres(6) - turn  # 6: CLOCK_MONOTONIC_COARSE
    high = (after - before) / 1e9
    rows = [row for row in json.loads(run([VDSOTRACE, "ls", "--json"]).stdout) if row["session"] == session]
    row = rows[0] if len(rows) == 1 else {}
    check(row.get("pid") == proc.pid and row.get("state") == "vanished" and row.get("calls") == calls and
          row.get("seconds_at_least") is True and low <= row.get("seconds", -1) <= high,
          f"ls --json: the SIGKILL'd process ran at least {low:.4f} to {high:.4f} s ({calls} calls), "
          "not the 0.4 s it waited to be killed", json.dumps(rows)[:600])
    text = run([VDSOTRACE, "ls"]).stdout
    seconds = row.get("seconds", 0)
    shown = f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"
    line = re.search(rf"^ +{proc.pid} +[0-9]+  vanished +{calls:,} +\u2265 ([0-9.]+ ms)  {re.escape(EXIT_PATHS)} stamped {calls}$",
                     text, re.M)
    check(line is not None and line.group(1) == shown, f"ls: the process's row says '\u2265 {shown}'", text[:1500])
    head = re.search(rf"^session {session}  started \S+ \S+, lasted at least ([0-9.]+ ms): ", text, re.M)
    check(head is not None and head.group(1) == shown, f"ls: the session lasted at least {shown}", text[:1500])


def test_unnamed_via(tmp):
    """Debian's python3.11 is stripped: the C function that reads the clock for time.monotonic()
    (the wrapper the Python caller is found through) has no name there. The report still says why,
    in JSON and text (before: "via python3.11+0x605543" and nothing more)."""
    python = "/usr/bin/python3.11"
    if not os.access(python, os.X_OK):
        print("skip unnamed via: no /usr/bin/python3.11")
        return
    build_id = re.search(r"Build ID: ([0-9a-f]+)", subprocess.run(["readelf", "-n", python], capture_output=True,
                                                                    text=True).stdout)
    if build_id is None or os.path.exists(f"/usr/lib/debug/.build-id/{build_id.group(1)[:2]}/{build_id.group(1)[2:]}.debug"):
        print("skip unnamed via: python3.11's debug symbols are installed (python3.11-dbg), its wrapper has a name")
        return
    script = os.path.join(tmp, "mono.py")
    open(script, "w").write("import time\nfor _ in range(1000):\n    time.monotonic()\n")
    out = os.path.join(tmp, "mono.json")
    session = TAG + "py311"
    p = run([VDSOTRACE, "run", "--session", session, "--json", out, "--", python, script], timeout=120,
            env={"DEBUGINFOD_URLS": ""})
    made_sessions.add(session)
    r = json.load(open(out)) if p.returncode == 0 else {"callers": []}
    rows = [c for c in r["callers"] if c.get("python") and c["symbol"] == "<module>" and c.get("line") == 3]
    via = rows[0].get("via", {}) if len(rows) == 1 else {}
    check(len(rows) == 1 and rows[0]["calls"] == 1000 and
          re.fullmatch(r"python3\.11\+0x[0-9a-f]+", via.get("name", "")) is not None and
          via.get("module") == python and via.get("unnamed_because") == "no symbols in the module",
          "python3.11's unnamed wrapper: 1000 calls from mono.py:3, via python3.11+0x..., and why",
          json.dumps(rows)[:800])
    text = run([VDSOTRACE, "report", "--top", "1000", session]).stdout
    want = f"<module>  mono.py:3  via {via.get('name')} (unnamed: no symbols in the module)"
    check(want in text, f"the text report says '{want}'", text[:2000])


PY_POOL = r"""
import multiprocessing as mp, sys, time
def work(n):
    for _ in range(n): time.time()
    return n
def leave():
    for _ in range(10): time.time()
    sys.exit(3)
if __name__ == "__main__":
    mp.set_start_method("fork")
    with mp.Pool(2) as pool:
        assert sum(pool.map(work, [100] * 8)) == 800
        pool.close(); pool.join()
    p = mp.Process(target=leave); p.start(); p.join()
    assert p.exitcode == 3
"""


def test_python_pool(tmp):
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        print("skip python pool: no /usr/bin/python3")
        return
    script = os.path.join(tmp, "pool.py")
    open(script, "w").write(PY_POOL)
    out = os.path.join(tmp, "pool.json")
    p = run([VDSOTRACE, "run", "--session", TAG + "pool", "--json", out, "--", python, script], timeout=120)
    made_sessions.add(TAG + "pool")
    check(p.returncode == 0, "python pool ran", p.stderr[-2000:])
    r = json.load(open(out))
    procs = processes(r)
    fates = sorted(json.dumps(q["exit"], sort_keys=True) for q in procs)
    # The main process, two pool workers (os._exit(0)) and the Process that called sys.exit(3).
    want = sorted(['{"code": 0}'] * 3 + ['{"code": 3}'])
    check(fates == want, "python multiprocessing: 3 exited 0 (main, 2 workers), 1 exited 3, none vanished",
          str([(q["pid"], q["exit"], q["calls"]) for q in procs]))


# ---- (d) sessions ------------------------------------------------------------------------------
def test_sessions(tmp):
    # Plain LD_PRELOAD without VDSOTRACE_SESSION: each program gets its own session pid<PID>.<ticks>.
    env = {"LD_PRELOAD": SHIM}
    env_clean = {k: v for k, v in os.environ.items() if k != "VDSOTRACE_SESSION"}
    sessions = []
    for _ in range(2):
        proc = subprocess.run([EXIT_PATHS, "fork-exit"], env={**env_clean, **env}, capture_output=True, text=True)
        check(proc.returncode == 0, "plain LD_PRELOAD run", proc.stderr)
    # Find the sessions of the two runs by their pids: pid<PID>.* and the children share it.
    ls = json.loads(run([VDSOTRACE, "ls", "--json"]).stdout)
    mine = [row for row in ls if row.get("exe") == os.path.realpath(EXIT_PATHS) and row["session"].startswith("pid")]
    by_session = {}
    for row in mine:
        by_session.setdefault(row["session"], []).append(row)
        made_sessions.add(row["session"])
    own = [s for s, rows in by_session.items() if len(rows) == 3 and any(s == f"pid{r['pid']}." + s.split(".")[1] for r in rows)]
    check(len(own) >= 2, "two plain LD_PRELOAD programs: two sessions, each parent with its 2 forked children",
          str({s: [(r["pid"], r["ppid"]) for r in rows] for s, rows in by_session.items()}))

    # ls: newest first, with start time, duration and command.
    run([VDSOTRACE, "run", "--session", TAG + "first", "--", EXIT_PATHS, "fork-exit"])
    time.sleep(1.1)
    run([VDSOTRACE, "run", "--session", TAG + "second", "--", EXIT_PATHS, "fork-exit"])
    made_sessions.update([TAG + "first", TAG + "second"])
    text = run([VDSOTRACE, "ls"]).stdout
    a, b = text.find(f"session {TAG}second "), text.find(f"session {TAG}first ")
    check(0 <= a < b, "ls lists the newer session first", text[:1500])
    line = re.search(rf"session {TAG}second  started (\S+ \S+), lasted ([0-9.]+ (us|ms|s)): (.*)\n", text)
    check(line is not None and line.group(4) == f"{EXIT_PATHS} fork-exit", "ls: start time, duration, command",
          text[a:a + 300])

    # report and top without argument say which session they read, and read that one.
    p = run([VDSOTRACE, "report", "--json"], cwd=tmp)  # no recording file there: the newest session
    m = re.search(r"^vdsotrace: reading session (\S+) \(started [0-9:]+: .*\), the newest of [0-9]+ in /dev/shm; "
                  r"`vdsotrace ls` lists them$", p.stderr, re.M)
    ok = m is not None
    if ok:
        ok = json.loads(p.stdout)["session"] == m.group(1)
    check(ok, "report without argument names the session it read", p.stderr)


def main():
    tmp = tempfile.mkdtemp(prefix="vdsotrace-everyday-")
    try:
        test_command_line(tmp)
        test_fork_exit(tmp)
        test_reaped_by_parent(tmp)
        test_startup_files(tmp)
        test_killed_duration(tmp)
        test_ls_killed_duration(tmp)
        test_python_pool(tmp)
        test_unnamed_via(tmp)
        test_sessions(tmp)
    finally:
        cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return verdict()


if __name__ == "__main__":
    sys.exit(main())
