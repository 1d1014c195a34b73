#!/usr/bin/env python3
"""End-to-end tests of the vDSO doctor through the real `vdsotrace` and the real shim.

usage: test_doctor.py VDSOTRACE CRASH_SMALL_STACK ROUTE_PROBE CLOCK_MIX LOW_HEADROOM EARLY_HANDLER
Every check asserts exact values; the figures it compares against come from independent sources
(readelf on the dump, this process's own [vdso] bytes, the program's own stack size).
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

from vdsotrace_test import check, verdict

VDSOTRACE, CRASHER, ROUTE_PROBE, CLOCK_MIX, LOW_HEADROOM, EARLY_HANDLER = sys.argv[1:7]


def own_vdso():
    with open("/proc/self/maps") as f:
        for line in f:
            if line.rstrip().endswith("[vdso]"):
                start, end = (int(x, 16) for x in line.split()[0].split("-"))
                with open("/proc/self/mem", "rb") as mem:
                    mem.seek(start)
                    return mem.read(end - start)
    return None


def readelf_dynsyms(path):
    out = subprocess.run(["readelf", "--dyn-syms", "-W", path], capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 8 and f[0].endswith(":") and f[3] == "FUNC":
            name, _, version = f[7].partition("@")
            syms[(name, version.lstrip("@"))] = (int(f[1], 16), int(f[2]))
    return syms


def session_files(session_json):
    return [p["recording"] for p in session_json["processes"]]


with tempfile.TemporaryDirectory() as tmp:
    # --- vdso --dump is the live image, byte for byte; --json symbols are what readelf reads there.
    dump = os.path.join(tmp, "vdso.so")
    r = subprocess.run([VDSOTRACE, "vdso", "--json", "--dump", dump], capture_output=True, text=True)
    check(r.returncode == 0, "vdso --json --dump exits 0")
    info = json.loads(r.stdout)
    with open(dump, "rb") as f:
        dumped = f.read()
    check(dumped == own_vdso(), "the dump equals this process's [vdso] mapping byte for byte")
    check(info["mapping"]["size"] == len(dumped), "mapping.size is the dump's size")
    elf = readelf_dynsyms(dump)
    mine = {(s["name"], s["version"]): (s["offset"], s["size"]) for s in info["symbols"]}
    check(len(elf) > 0 and mine == elf, f"--json symbols equal readelf on the dump ({len(elf)} functions)")
    fns = {f["function"]: f for f in info["functions"]}
    check(set(fns) >= {"clock_gettime", "gettimeofday"}, "stack need listed for clock_gettime and gettimeofday")
    need = fns["clock_gettime"]["stack_need"]
    check(isinstance(need, int) and need >= 8 and need % 8 == 0, f"clock_gettime needs {need} bytes")
    check(all(f["repeatable"] for f in info["functions"]), "every stack-need figure repeatable within a run")
    again = json.loads(subprocess.run([VDSOTRACE, "vdso", "--json", "--no-clocks"], capture_output=True,
                                      text=True, check=True).stdout)
    check({f["function"]: f["stack_need"] for f in again["functions"]} ==
          {f["function"]: f["stack_need"] for f in info["functions"]}, "stack-need figures equal across runs")
    # The text's code-scan lines agree with the JSON, in words that count right ("1 push").
    text = subprocess.run([VDSOTRACE, "vdso", "--no-clocks"], capture_output=True, text=True, check=True).stdout
    scanned = [f for f in info["functions"] if (f.get("scan") or {}).get("scanned")]
    check(len(scanned) == len(info["functions"]), f"every function's code scanned: {info['functions']}")
    for f in scanned:
        n = f["scan"]["pushes"]
        check(f" {n} push{'' if n == 1 else 'es'}, " in text, f"{f['function']}: {n} push(es) in the text:\n{text}")
    service = {(c["function"], c.get("clock_id")): c for c in info["clock_service"]["calls"]}
    check(service[("clock_gettime", 2)]["served_by"] == "syscall", "CLOCK_PROCESS_CPUTIME_ID falls back to a syscall")
    if info["clocksource"]["current"] in ("tsc", "kvm-clock"):
        check(service[("clock_gettime", 1)]["served_by"] == "vdso", "CLOCK_MONOTONIC is served by the vDSO")

    # --- vdso --pid of another process of ours reads the same image.
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        r = subprocess.run([VDSOTRACE, "vdso", "--pid", str(sleeper.pid), "--json", "--no-clocks",
                            "--dump", dump + ".pid"], capture_output=True, text=True)
        check(r.returncode == 0, "vdso --pid exits 0")
        with open(dump + ".pid", "rb") as f:
            check(f.read() == dumped, "the vDSO read through /proc/PID/mem equals ours")
    finally:
        sleeper.kill()
        sleeper.wait()
    r = subprocess.run([VDSOTRACE, "vdso", "--pid", "999999999"], capture_output=True, text=True)
    check(r.returncode == 1 and "no such process" in r.stderr, "vdso --pid of no process: one message, exit 1")

    # --- The crash: clock_gettime called on a stack 8 bytes too small.
    small = need - 8
    alone = subprocess.run([CRASHER, str(small)], capture_output=True)
    check(alone.returncode == -11, f"without the shim, {small} bytes of stack: SIGSEGV ({alone.returncode})")
    enough = subprocess.run([VDSOTRACE, "run", "--keep-live", "-o", os.devnull, "--", CRASHER, str(need)], capture_output=True, text=True)
    check(enough.returncode == 0, f"under the shim, {need} bytes of stack: survives ({enough.returncode})")
    report_json = os.path.join(tmp, "crash.json")
    # A stack overflow is recorded only where the shim gives threads an alternate signal stack,
    # which it does on request (VDSOTRACE_CRASH=stack; by default it would move the program's own
    # SA_ONSTACK handlers onto it, issue 12).
    with_stack = dict(os.environ, VDSOTRACE_CRASH="stack")
    run = subprocess.run([VDSOTRACE, "run", "--keep-live", "-o", os.devnull, "--json", report_json, "--", CRASHER, str(small)],
                         capture_output=True, text=True, env=with_stack)
    check(run.returncode == 139, f"under the shim: run exits 139 like the program alone ({run.returncode})")
    with open(report_json) as f:
        rep = json.load(f)
    proc = rep["processes"][0]
    check(proc["exit"] == {"signal": 11}, "the report says SIGSEGV")
    crash = proc.get("crash", {})
    check(crash.get("where") == "vdso" and crash.get("function") == "clock_gettime",
          "the crash is inside the vDSO's clock_gettime")
    check(crash.get("symbol") == "__vdso_clock_gettime", "symbol __vdso_clock_gettime")
    size = next(s["size"] for s in info["symbols"] if s["name"] == "__vdso_clock_gettime")
    check(0 <= crash.get("offset", -1) < size, f"offset {crash.get('offset')} inside the function")
    check(crash.get("caller_stack") == small, f"the caller had {small} bytes ({crash.get('caller_stack')})")
    check(crash.get("need") == need and crash.get("need_measured") is True, f"the vDSO needs {need} (measured)")
    check(crash.get("shortfall") == 8, f"8 bytes short ({crash.get('shortfall')})")
    check(crash.get("stack_left") == crash["sp"] - (crash["caller_sp"] - small), "stack left is sp - stack start")
    check("call_on_stack" in crash.get("caller", ""), "the caller is named (call_on_stack)")
    text = run.stderr
    check(re.search(r"SIGSEGV inside the vDSO's clock_gettime \(\+0x[0-9a-f]+\)", text) is not None,
          "the text report names the function and offset")
    check(f"needs {need} bytes" in text and "8 bytes short" in text, "the text report says the need and shortfall")
    for p in session_files(rep):
        os.unlink(p)

    # --- The same through the shim's clock_gettime: the fault is in the shim or in the vDSO it calls.
    alone = subprocess.run([CRASHER, "16", "plt"], capture_output=True)
    out = os.path.join(tmp, "plt.json")
    run = subprocess.run([VDSOTRACE, "run", "--keep-live", "-o", os.devnull, "--json", out, "--", CRASHER, "16", "plt"], capture_output=True, text=True,
                         env=with_stack)
    check(alone.returncode == -11 and run.returncode == 139,
          f"16 bytes through the PLT: SIGSEGV with and without the shim ({alone.returncode}, {run.returncode})")
    with open(out) as f:
        rep = json.load(f)
    crash = rep["processes"][0].get("crash", {})
    check(crash.get("where") in ("shim", "vdso") and crash.get("signal") == "SIGSEGV",
          f"through the PLT: crash recorded in the {crash.get('where')}")
    for p in session_files(rep):
        os.unlink(p)

    # --- A SIGSEGV handler installed before the shim (a preload initialised first) is chained to; on
    # a stack overflow it could not have run without the shim's alternate stack, so the program
    # dies of SIGSEGV as it would have. LD_PRELOAD=shim:early initialises `early` first; this is
    # set by hand because `vdsotrace run` puts the shim after an existing LD_PRELOAD (so that
    # libfaketime and sanitizer runtimes keep working), which initialises the shim first.
    shim = os.path.normpath(os.path.join(os.path.dirname(VDSOTRACE), "..", "shim", "libvdsotrace.so"))
    for args, status_alone in ((["null"], 43), ([str(small)], -11)):
        alone = subprocess.run([CRASHER] + args, capture_output=True, env=dict(os.environ, LD_PRELOAD=EARLY_HANDLER))
        session = f"early{os.getpid()}{args[0][:4]}"
        traced = subprocess.run([CRASHER] + args, capture_output=True,
                                env=dict(with_stack, LD_PRELOAD=f"{shim}:{EARLY_HANDLER}", VDSOTRACE_SESSION=session))
        check(alone.returncode == status_alone and traced.returncode == status_alone,
              f"earlier handler, {args[0]}: exits {status_alone} with and without the shim "
              f"({alone.returncode}, {traced.returncode})")
        rep = subprocess.run([VDSOTRACE, "report", "--json", session], capture_output=True, text=True)
        has_crash = False
        if rep.returncode == 0:  # no clock call before the fault: no recording at all
            rep = json.loads(rep.stdout)
            has_crash = bool(rep["processes"]) and "crash" in rep["processes"][0]
            for p in session_files(rep):
                os.unlink(p)
        check(has_crash == (args[0] != "null"), f"earlier handler, {args[0]}: crash record {has_crash}")

    # --- Crashes elsewhere are the program's own: same death, no crash record; its handlers run.
    for mode, status in (("null", 139), ("handler", 42)):
        alone = subprocess.run([CRASHER, mode], capture_output=True)
        out = os.path.join(tmp, mode + ".json")
        run = subprocess.run([VDSOTRACE, "run", "--keep-live", "-o", os.devnull, "--json", out, "--", CRASHER, mode], capture_output=True, text=True)
        check(run.returncode == status and (alone.returncode == -11 if status == 139 else alone.returncode == status),
              f"{mode}: exits {status} with and without the shim ({alone.returncode}, {run.returncode})")
        if os.path.exists(out):
            with open(out) as f:
                rep = json.load(f)
            check(all("crash" not in p for p in rep["processes"]), f"{mode}: no crash record")
            for p in session_files(rep):
                os.unlink(p)

    # --- Routing: where the calls end up, seen through a seccomp filter in the program.
    for spec, expected, routes in (
            ("", "clock_gettime=vdso gettimeofday=vdso", None),
            ("clock_gettime=syscall", "clock_gettime=kernel gettimeofday=vdso", ["clock_gettime=syscall"]),
            ("gettimeofday=syscall,clock_gettime=libc", "clock_gettime=vdso gettimeofday=kernel",
             ["clock_gettime=libc", "gettimeofday=syscall"])):
        out = os.path.join(tmp, "route.json")
        run = subprocess.run([VDSOTRACE, "run", "--keep-live", "-o", os.devnull, "--json", out, "--route", spec, "--", ROUTE_PROBE],
                             capture_output=True, text=True)
        check(run.returncode == 0 and run.stdout.strip() == expected, f"route '{spec}': {run.stdout.strip()}")
        with open(out) as f:
            rep = json.load(f)
        check(rep["processes"][0].get("routes") == routes, f"route '{spec}': report lists {routes}")
        check(run.stderr.count("ignoring VDSOTRACE_ROUTE") == 0, f"route '{spec}': no message about the spec")
        for p in session_files(rep):
            os.unlink(p)
    # A bad spec: `run` refuses it in one line before the program starts (exit 2); the shim alone
    # (plain LD_PRELOAD) says so once and sends every call to the vDSO.
    run = subprocess.run([VDSOTRACE, "run", "--keep-live", "-o", os.devnull, "--route", "clock_gettime=rdtsc", "--", ROUTE_PROBE],
                         capture_output=True, text=True)
    check(run.returncode == 2 and run.stdout == "" and run.stderr.count("\n") == 1 and
          run.stderr.startswith("vdsotrace: --route clock_gettime=rdtsc: expected FUNCTION=TARGET"),
          f"run --route rdtsc refused: {run.returncode} {run.stderr!r}")
    shim = os.path.join(os.path.dirname(VDSOTRACE), "..", "shim", "libvdsotrace.so")  # the build tree's
    env = dict(os.environ, LD_PRELOAD=shim, VDSOTRACE_ROUTE="clock_gettime=rdtsc",
               VDSOTRACE_SESSION="doctor_bad_route")
    plain = subprocess.run([ROUTE_PROBE], capture_output=True, text=True, env=env)
    check(plain.returncode == 0 and plain.stdout.strip() == "clock_gettime=vdso gettimeofday=vdso",
          f"bad VDSOTRACE_ROUTE: every call to the vDSO: {plain.stdout.strip()}")
    check(plain.stderr.count("ignoring VDSOTRACE_ROUTE") == 1, f"bad VDSOTRACE_ROUTE: one message: {plain.stderr!r}")
    subprocess.run([VDSOTRACE, "clean", "doctor_bad_route"], capture_output=True)

    # --- Fallback flagged in the report: CPU-time clock yes (exact count), MONOTONIC no.
    for route, expect in (("", {("clock_gettime", 2): 1000}),
                          ("clock_gettime=syscall", {("clock_gettime", 2): 1000, ("clock_gettime", 1): 3000})):
        out = os.path.join(tmp, "mix.json")
        run = subprocess.run([VDSOTRACE, "run", "--keep-live", "-o", os.devnull, "--json", out, "--route", route, "--", CLOCK_MIX],
                             capture_output=True, text=True)
        with open(out) as f:
            rep = json.load(f)
        got = {(fb["function"], fb.get("clock_id")): fb["calls"] for fb in rep["fallbacks"]}
        check(run.returncode == 0 and got == expect, f"fallbacks with route '{route}': {got}")
        if info["clocksource"]["current"] in ("tsc", "kvm-clock"):
            cpu = next(fb for fb in rep["fallbacks"] if fb.get("clock_id") == 2)
            check(cpu.get("ns_per_call", 0) > 0 and "CLOCK_MONOTONIC" in cpu.get("suggestion", ""),
                  "the CPU-time row has a measured cost and suggests CLOCK_MONOTONIC")
        check("entered the kernel" in run.stderr and "1,000 calls" in run.stderr, "the text report flags them")
        check(rep["headroom"] == [], "main thread with a normal stack: no headroom warning")
        for p in session_files(rep):
            os.unlink(p)

    # --- Headroom: a call with 1024 bytes left below the caller's frame is flagged, the one before it
    # (with ~60 KiB left) is not.
    out = os.path.join(tmp, "headroom.json")
    run = subprocess.run([VDSOTRACE, "run", "--keep-live", "-o", os.devnull, "--json", out, "--", LOW_HEADROOM, "1024"], capture_output=True, text=True,
                         env=dict(os.environ, VDSOTRACE_HEADROOM="threads"))
    with open(out) as f:
        rep = json.load(f)
    rows = rep["headroom"]
    check(run.returncode == 0 and len(rows) == 1, f"one low-headroom caller ({len(rows)})")
    if rows:
        h = rows[0]
        check(h["function"] == "clock_gettime" and "call_low" in h["caller"] and h["calls"] == 1,
              f"it is call_low's clock_gettime, once: {h['caller']}")
        check(512 < h["min_headroom"] <= 1024, f"its headroom is under the 1024 bytes left by the caller ({h['min_headroom']})")
        check(h.get("need") == need and h["warning"] is True, "warned, with the vDSO's measured need")
        check("WARNING" in run.stderr and "low on stack" in run.stderr, "the text report warns")
    for p in session_files(rep):
        os.unlink(p)
    # Without VDSOTRACE_HEADROOM=threads, other threads' stacks are not looked up: no row.
    run = subprocess.run([VDSOTRACE, "run", "--keep-live", "-o", os.devnull, "--json", out, "--", LOW_HEADROOM, "1024"], capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "VDSOTRACE_HEADROOM"})
    with open(out) as f:
        rep = json.load(f)
    check(run.returncode == 0 and rep["headroom"] == [], "threads are not watched by default")
    for p in session_files(rep):
        os.unlink(p)

# Segments of the survived run without --json: remove this test's leftovers by program name.
for p in glob.glob("/dev/shm/vdsotrace-%d-*" % os.getuid()):
    try:
        with open(p, "rb") as f:
            if os.path.basename(CRASHER).encode() in f.read(8192):
                os.unlink(p)
    except OSError:
        pass

sys.exit(verdict())
