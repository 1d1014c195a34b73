#!/usr/bin/env python3
"""One file a run (issue 14, item 2), through the real `vdsotrace` and shim, with exact values.

  test_recording_file.py VDSOTRACE LIBVDSOTRACE DEMO

`run` writes vdsotrace.<program>.<session>.vdsotrace (or -o FILE), private, and removes its
segments from /dev/shm; the file alone names every caller and sampled frame after the traced
binary was deleted; `report` with no argument reads it; a bad -o is refused before the program
starts; garbage is refused in one line. Sessions are named by this test and removed at the end.
"""
import glob
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

from vdsotrace_test import check, failures  # the Python suites' one harness (tests/support)


def has_debug_info(path):
    """Whether the ELF file at `path` has a .debug_info section (readelf, from binutils)."""
    out = subprocess.run(["readelf", "-S", "-W", path], capture_output=True, text=True).stdout
    return ".debug_info" in out

VDSOTRACE, SHIM, DEMO = (os.path.abspath(a) for a in sys.argv[1:4])
TAG = f"rf{os.getpid()}"


def run(args, cwd=None, timeout=300):
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, timeout=timeout)


def live_segments(session):
    return glob.glob(f"/dev/shm/vdsotrace-{os.getuid()}-{session}-*")


# The demo's call sites by the function whose code makes the call (the innermost inlined one,
# else the containing function), and their calls: fixed by the demo (tools/demo/clock_demo.cpp).
DEMO_SITES = {"handle_request": 40000, "log_line": 20000, "refresh_date_header": 1000, "expire_sessions": 1000,
              "pick_shard": 200}


def calls_by_source_function(report):
    got = {}
    for c in report["callers"]:
        name = c["inlined"][0] if c.get("inlined") else c["symbol"]
        key = next((k for k in DEMO_SITES if k + "(" in name), name)
        got[key] = got.get(key, 0) + c["calls"]
    return got


def caller_rows(report):
    return sorted((c["symbol"], c.get("file", ""), c.get("line", 0), c["calls"], c["offset"]) for c in report["callers"])


def killed_run(tmp, sessions):
    """`run` writes the file as processes end: killed (SIGKILL, no chance to finish), it leaves
    <file>.partial holding every process it had taken, which `report` reads with a warning (their
    segments are still in /dev/shm too: nothing is lost either way)."""
    session = TAG + "k"
    sessions.append(session)
    work = os.path.join(tmp, "killed")
    os.mkdir(work)
    out = os.path.join(work, "k.vdsotrace")
    partial = out + ".partial"
    # Five `date`s that end, then a shell that lives on.
    proc = subprocess.Popen([VDSOTRACE, "run", "--shim", SHIM, "--session", session, "-o", out, "--", "bash", "-c",
                             "for i in 1 2 3 4 5; do date >/dev/null; done; sleep 60"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        taken = False
        for _ in range(200):  # up to 10 s: the collector looks every 25 ms
            if os.path.exists(partial):
                p = run([VDSOTRACE, "report", "--json", partial])
                if p.returncode == 0 and len(json.loads(p.stdout)["processes"]) == 5:
                    taken = True
                    break
            time.sleep(0.05)
        check(taken, "the five ended processes are in the file while the run goes on", partial)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    check(not os.path.exists(out) and os.path.exists(partial), "a killed run leaves <file>.partial",
          str(os.listdir(work)))
    p = run([VDSOTRACE, "report", "--json", partial])
    r = json.loads(p.stdout) if p.returncode == 0 else {"processes": [], "total_calls": 0}
    check(p.returncode == 0 and p.stderr == f"vdsotrace: {partial}: unfinished recording (the run ended before "
          "writing it whole): read the 5 processes it holds\n", "report reads what the killed run had taken, and says so",
          f"{p.returncode} {p.stderr!r}")
    check(r["total_calls"] == 5 and sorted(x["exe"] for x in r["processes"]) == ["/usr/bin/date"] * 5,
          "the five dates, one clock_gettime each", f"{r['total_calls']} {[x.get('exe') for x in r['processes']]}")
    dates = [f for f in live_segments(session) if b"/usr/bin/date" in open(f, "rb").read()]
    check(len(dates) == 5, "their segments are still in /dev/shm as well", str(dates))


def main():
    tmp = tempfile.mkdtemp(prefix="vdsotrace-recfile-")
    sessions = []
    try:
        bindir, work = os.path.join(tmp, "bin"), os.path.join(tmp, "work")
        os.mkdir(bindir)
        os.mkdir(work)
        program = os.path.join(bindir, "clock-demo")
        shutil.copy2(DEMO, program)

        # ---- the file `run` writes, in the current directory ---------------------------------
        session = TAG + "a"
        sessions.append(session)
        live_json = os.path.join(tmp, "live.json")
        p = run([VDSOTRACE, "run", "--shim", SHIM, "--session", session, "--sample", "7", "--json", live_json,
                 "--", program], cwd=work)
        name = f"vdsotrace.clock-demo.{session}.vdsotrace"
        path = os.path.join(work, name)
        check(p.returncode == 0, "run exits with the demo's status", f"{p.returncode} {p.stderr[-500:]}")
        check(os.listdir(work) == [name], "run wrote vdsotrace.<program>.<session>.vdsotrace, and only it",
              str(os.listdir(work)))
        check(f"vdsotrace: recording: {name} (" in p.stderr, "run says where the recording is", p.stderr[-400:])
        if not os.path.exists(path):
            return
        check(stat.S_IMODE(os.stat(path).st_mode) == 0o600, "the file is private (0600)",
              oct(stat.S_IMODE(os.stat(path).st_mode)))
        check(live_segments(session) == [], "the session's segments left /dev/shm", str(live_segments(session)))
        live = json.load(open(live_json))
        check(calls_by_source_function(live) == DEMO_SITES, "the run's own report names the demo's call sites",
              str(calls_by_source_function(live)))

        # ---- the binary deleted, /dev/shm clean: the file alone names everything -------------
        shutil.rmtree(bindir)
        p = run([VDSOTRACE, "report", "--json", path])
        check(p.returncode == 0, "report FILE after the binary was deleted", p.stderr)
        r = json.loads(p.stdout) if p.returncode == 0 else {"callers": [], "total_calls": 0}
        check(r["total_calls"] == 62200, "all 62,200 calls", str(r["total_calls"]))
        check(calls_by_source_function(r) == DEMO_SITES, "every caller named, with its exact calls",
              str(calls_by_source_function(r)))
        check(caller_rows(r) == caller_rows(live), "callers, files and lines as the run named them",
              f"{caller_rows(r)} vs {caller_rows(live)}")
        # file:line only where the demo was built with debug information (a release build has none).
        if has_debug_info(DEMO):
            check(all(c.get("file", "").endswith("clock_demo.cpp") for c in r["callers"]), "file:line for every caller",
                  str([c.get("file") for c in r["callers"]]))
        stacks = r.get("stacks", [])
        check(len(stacks) > 0 and stacks == live.get("stacks"), "sampled stacks named as in the run",
              f"{len(stacks)} stacks")
        demo_frames = [fr for s in stacks for fr in s["frames"] if fr["module"].endswith("/clock-demo")]
        check(demo_frames and all(fr["symbol"] for fr in demo_frames), "every sampled frame of the demo named",
              str([fr for fr in demo_frames if not fr["symbol"]][:3]))
        folded = os.path.join(tmp, "f.folded")
        p = run([VDSOTRACE, "report", "-o", os.devnull, "--folded", folded, path])
        text = open(folded).read() if os.path.exists(folded) else ""
        check(p.returncode == 0 and "handle_request(int)" in text and "clock-demo+0x" not in text,
              "folded stacks from the file name the deleted binary's frames", text[:300])

        # ---- `report` with no argument: the newest file here ----------------------------------
        p = run([VDSOTRACE, "report", "--json"], cwd=work)
        ok = p.returncode == 0 and json.loads(p.stdout)["total_calls"] == 62200
        check(ok and p.stderr == f"vdsotrace: reading {name} (written " + p.stderr.split("(written ")[-1]
              and "the recording file in the current directory" in p.stderr,
              "report with no argument reads the file here and says so", p.stderr)

        # ---- -o chooses the path; --keep-live keeps the segments -------------------------------
        session = TAG + "b"
        sessions.append(session)
        out = os.path.join(tmp, "chosen.rec")
        work2 = os.path.join(tmp, "work2")
        os.mkdir(work2)
        p = run([VDSOTRACE, "run", "--shim", SHIM, "--session", session, "-o", out, "--keep-live", "--", DEMO],
                cwd=work2)
        check(p.returncode == 0 and os.path.exists(out) and os.listdir(work2) == [], "-o FILE writes there only",
              f"{p.returncode} {os.listdir(work2)}")
        check(len(live_segments(session)) == 1, "--keep-live leaves the segment in /dev/shm",
              str(live_segments(session)))
        p = run([VDSOTRACE, "report", "--json", out])
        check(p.returncode == 0 and json.loads(p.stdout)["total_calls"] == 62200, "report of the -o file", p.stderr)

        # ---- without a recording file: what cannot be named says why ----------------------------
        session = TAG + "c"
        sessions.append(session)
        bindir2 = os.path.join(tmp, "bin2")
        os.mkdir(bindir2)
        program2 = os.path.join(bindir2, "clock-demo")
        shutil.copy2(DEMO, program2)
        p = run([VDSOTRACE, "run", "--shim", SHIM, "--session", session, "--keep-live", "-o", os.devnull, "--",
                 program2])
        check(p.returncode == 0, "a live session of a copy of the demo", p.stderr[-300:])
        for change, why in (("delete", "module file deleted or moved"),
                            ("replace", "module changed since the run (build id differs)")):
            if change == "delete":
                os.unlink(program2)
            else:
                shutil.copy2("/bin/true", program2)
            p = run([VDSOTRACE, "report", "--json", session])
            rows = [c for c in json.loads(p.stdout)["callers"] if c["module"] == program2] if p.returncode == 0 else []
            check(sum(c["calls"] for c in rows) == 62200 and
                  all(c["symbol"] == "" and c.get("unnamed_because") == why for c in rows),
                  f"binary {change}d: every caller says why it is unnamed ({why})",
                  str([(c["symbol"], c.get("unnamed_because")) for c in rows]))
            p = run([VDSOTRACE, "report", session])
            check(p.stdout.count(f"(unnamed: {why})") == len(rows), f"... in text too ({change})", p.stdout[:1500])

        # ---- refusals --------------------------------------------------------------------------
        marker = os.path.join(tmp, "ran")
        p = run([VDSOTRACE, "run", "--shim", SHIM, "-o", "/nonexistent/x.vdsotrace", "--", "touch", marker])
        check(p.returncode == 2 and not os.path.exists(marker) and
              p.stderr == "vdsotrace: -o /nonexistent/x.vdsotrace: cannot write there: /nonexistent does not exist\n",
              "an unwritable -o is refused before the program starts", f"{p.returncode} {p.stderr!r}")
        garbage = os.path.join(tmp, "garbage.vdsotrace")
        with open(garbage, "wb") as g:
            g.write(b"VDSOTREC" + bytes(range(200)))
        p = run([VDSOTRACE, "report", garbage])
        check(p.returncode == 1 and p.stderr.count("\n") == 1 and p.stdout == "" and
              p.stderr == f"vdsotrace: {garbage}: the recording's header is corrupt\n",
              "garbage behind the magic is refused in one line", f"{p.returncode} {p.stderr!r}")
        newer = bytearray(open(path, "rb").read())
        newer[8] = 3
        with open(garbage, "wb") as g:
            g.write(newer)
        p = run([VDSOTRACE, "report", garbage])
        check(p.returncode == 1 and p.stderr == f"vdsotrace: {garbage}: recording file version 3.0 is not compatible "
              "with this vdsotrace, which reads 1.x to 2.x\n", "a newer version is refused in one line",
              f"{p.returncode} {p.stderr!r}")

        killed_run(tmp, sessions)
    finally:
        for s in sessions:
            for f in live_segments(s):
                os.unlink(f)
        shutil.rmtree(tmp, ignore_errors=True)


main()
print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
