#!/usr/bin/env python3
"""End-to-end tests of Go programs under the real shim through the real `vdsotrace run`: the Go
runtime calls the vDSO by itself, and the shim's redirection of the vDSO's symbol table must
count those calls exactly, attributed to the Go functions that asked for the time, without
changing what the program prints or how it exits. One test per invocation: test_go.py NAME.
Exit 0 pass, 1 fail, 77 skipped (no Go toolchain)."""
import collections
import os
import subprocess
import sys

import vdsotrace_test
from vdsotrace_test import ENV, SHIM, check, environment, main, skip, unique_session


def run_native(args, env=None):
    return subprocess.run(args, capture_output=True, text=True, env=environment(env), timeout=100)


def run_traced(args, tmp, env=None):
    """vdsotrace run --json; returns (completed process, json report). Removes the recordings."""
    return vdsotrace_test.run_traced(args, tmp, env=env)


def by_symbol(j):
    """{(symbol, clock): calls} over every caller row."""
    out = collections.Counter()
    for row in j["callers"]:
        out[(row.get("symbol", ""), row["clock"])] += row["calls"]
    return out


def expect_calls(s, symbol, clock, n):
    """Exactly n calls of `clock` attributed to the Go function `symbol` (s from by_symbol)."""
    got = s[(symbol, clock)]
    check(got == n, f"{symbol} {clock}: {got} calls, expected {n}")


def clock_totals(j):
    return {c["name"]: c["calls"] for c in j["clocks"]}


def same_behaviour(native, traced, check_stderr=True):
    check(traced.returncode == native.returncode, f"exit status {traced.returncode}, without the shim {native.returncode}")
    check(traced.stdout == native.stdout, f"stdout {traced.stdout!r}, without the shim {native.stdout!r}")
    if check_stderr:
        check(traced.stderr == native.stderr, f"stderr {traced.stderr!r}, without the shim {native.stderr!r}")


def t_hammer_counts(tmp):
    args = [ENV["HAMMER"], "5000", "700", "0"]
    native = run_native(args)
    p, j = run_traced(args, tmp)
    same_behaviour(native, p)
    s = by_symbol(j)
    # main.hammer: 5000 time.Now(), two vDSO calls each; main.since: 700 time.Since on a monotonic
    # start (runtime.nanotime, one call each); main.main: one time.Now().
    expect_calls(s, "main.hammer", "CLOCK_REALTIME", 5000)
    expect_calls(s, "main.hammer", "CLOCK_MONOTONIC", 5000)
    expect_calls(s, "main.since", "CLOCK_MONOTONIC", 700)
    expect_calls(s, "main.since", "CLOCK_REALTIME", 0)
    expect_calls(s, "main.main", "CLOCK_REALTIME", 1)
    expect_calls(s, "main.main", "CLOCK_MONOTONIC", 1)
    # Only time.Now reads CLOCK_REALTIME: every such call is one of the program's own.
    check(clock_totals(j).get("CLOCK_REALTIME") == 5001, f"REALTIME in all {clock_totals(j)}")
    # Nothing is attributed to the plumbing itself (time.now, runtime.nanotime1, time.Now, ...).
    plumbing = {"time.now", "time.Now", "time.Since", "runtime.nanotime1.abi0", "runtime.nanotime1"}
    check(not any(sym in plumbing for sym, _ in s), f"calls attributed to Go's time plumbing: {sorted(s)}")
    rows = [r for r in j["callers"] if r.get("symbol") == "main.since"]
    check(len(rows) == 1 and rows[0]["file"].endswith("hammer.go") and rows[0]["line"] == 36,
          f"main.since's call site: {rows}")
    check(j["processes"][0].get("vdso_redirect") == "redirected", f"process {j['processes'][0]}")
    with open(os.path.join(tmp, "report.txt")) as f:
        text = f.read()
    check("calls straight into the vDSO (Go runtime) counted too" in text, "text report does not say so")


def t_exit_status(tmp):
    args = [ENV["HAMMER"], "10", "10", "7"]
    native = run_native(args)
    p, j = run_traced(args, tmp)
    check(native.returncode == 7, f"native exit status {native.returncode}")
    same_behaviour(native, p)
    check(j["processes"][0]["exit"] == {"code": 7} or j["processes"][0]["exit"].get("code") == 7,
          f"recorded exit {j['processes'][0]['exit']}")


def t_crowd(tmp):
    # 16 goroutines x 40000 time.Now() while the collector runs and SIGPROF lands at 1 kHz.
    args = [ENV["CROWD"], "16", "40000"]
    native = run_native(args)
    p, j = run_traced(args, tmp)
    same_behaviour(native, p)
    s = by_symbol(j)
    expect_calls(s, "main.worker", "CLOCK_REALTIME", 640000)
    expect_calls(s, "main.worker", "CLOCK_MONOTONIC", 640000)
    check(j["unattributed"] == [], f"unattributed {j['unattributed']}")
    check(len(j["threads"]) >= 2, f"threads {j['threads']}")


def t_panic(tmp):
    native = run_native([ENV["PANICS"]])
    p, j = run_traced([ENV["PANICS"]], tmp)
    check(native.returncode == 2, f"native exit status {native.returncode}")
    same_behaviour(native, p, check_stderr=False)
    check(p.stderr.startswith("panic: boom\n") and native.stderr.startswith("panic: boom\n"),
          f"stderr {p.stderr[:80]!r} vs {native.stderr[:80]!r}")
    s = by_symbol(j)
    expect_calls(s, "main.main", "CLOCK_REALTIME", 1)


def t_stripped(tmp):
    # -ldflags=-s: no ELF symbol table; Go's own function table (.gopclntab) still names the
    # plumbing for the shim and the callers for the report.
    args = [ENV["HAMMER_STRIPPED"], "3000", "10", "0"]
    native = run_native(args)
    p, j = run_traced(args, tmp)
    same_behaviour(native, p)
    s = by_symbol(j)
    expect_calls(s, "main.hammer", "CLOCK_REALTIME", 3000)
    expect_calls(s, "main.since", "CLOCK_MONOTONIC", 10)
    check(clock_totals(j).get("CLOCK_REALTIME") == 3001, f"REALTIME in all {clock_totals(j)}")
    rows = [r for r in j["callers"] if r.get("symbol") == "main.hammer"]
    check(rows and all("file" not in r for r in rows), f"no line information without DWARF: {rows}")


def t_refused(tmp):
    # The vDSO cannot be made writable (a seccomp filter refuses mprotect RWX, as a sealed vDSO
    # would): one message, the program unchanged, the report says what was not counted.
    args = [ENV["SECCOMP_REFUSE"], "mprotect-rwx", ENV["HAMMER"], "2000", "5", "4"]
    native = run_native(args)
    p, j = run_traced(args, tmp)
    same_behaviour(native, p, check_stderr=False)
    check(native.returncode == 4, f"native exit status {native.returncode}")
    check(p.stderr.count("vdsotrace: the vDSO cannot be made writable (sealed mapping)") == 1, f"stderr {p.stderr!r}")
    check(p.stderr.count("calls the Go runtime makes straight into the vDSO will not be counted") == 1,
          f"stderr {p.stderr!r}")
    go_rows = [q for q in j["processes"] if q["exe"].endswith("go_hammer")]
    check(len(go_rows) == 1 and go_rows[0].get("vdso_redirect") == "refused", f"processes {j['processes']}")
    check(go_rows and any("could not be made writable" in n for n in go_rows[0].get("notes", [])), f"notes {go_rows}")
    expect_calls(by_symbol(j), "main.hammer", "CLOCK_REALTIME", 0)  # refused: nothing to count with


def t_stripped_pie(tmp):
    # -buildmode=pie -ldflags='-s -w' with cgo: no .gopclntab section; the table is found inside
    # .data.rel.ro, by the shim (plumbing) and by the symbolizer (names).
    args = [ENV["HAMMER_STRIPPED_PIE"], "2500", "30", "0"]
    native = run_native(args)
    p, j = run_traced(args, tmp)
    same_behaviour(native, p)
    s = by_symbol(j)
    expect_calls(s, "main.hammer", "CLOCK_REALTIME", 2500)
    expect_calls(s, "main.hammer", "CLOCK_MONOTONIC", 2500)
    expect_calls(s, "main.since", "CLOCK_MONOTONIC", 30)


def t_redirect_off(tmp):
    args = [ENV["HAMMER"], "2000", "0", "0"]
    p, j = run_traced(args, tmp, {"VDSOTRACE_VDSO_REDIRECT": "off"})
    check(p.returncode == 0, f"exit status {p.returncode}")
    # Nothing was counted, so there is no recording at all (the shim creates it on the first call).
    check(j["total_calls"] == 0 and j["processes"] == [], f"{j['total_calls']} calls, {j['processes']}")


def t_redirect_bad_value(tmp):
    args = [ENV["HAMMER"], "2000", "0", "0"]
    p, j = run_traced(args, tmp, {"VDSOTRACE_VDSO_REDIRECT": "maybe"})
    check(p.returncode == 0, f"exit status {p.returncode}")
    check(p.stderr.count("VDSOTRACE_VDSO_REDIRECT must be auto, on or off; using auto") == 1, f"stderr {p.stderr!r}")
    expect_calls(by_symbol(j), "main.hammer", "CLOCK_REALTIME", 2000)  # auto applied


def t_c_lookup_redirect_on(tmp):
    # A C program that looks __vdso_clock_gettime up itself and calls it directly, as Go does.
    args = [ENV["VDSO_LOOKUP"], "4000"]
    native = run_native(args)
    p, j = run_traced(args, tmp, {"VDSOTRACE_VDSO_REDIRECT": "on"})
    same_behaviour(native, p)
    check(native.stdout == "direct 4000\n", f"native stdout {native.stdout!r}")
    s = by_symbol(j)
    expect_calls(s, "direct_calls", "CLOCK_MONOTONIC", 4000)
    check(j["total_calls"] == 4000, f"total {j['total_calls']}")


def t_c_lookup_auto_untouched(tmp):
    # Not a Go program: by default the vDSO is left exactly as it is, so those calls stay unseen.
    args = [ENV["VDSO_LOOKUP"], "4000"]
    p, j = run_traced(args, tmp)
    check(p.returncode == 0 and p.stdout == "direct 4000\n", f"{p.returncode} {p.stdout!r}")
    check(j["total_calls"] == 0 and j["processes"] == [], f"{j['total_calls']} calls, {j['processes']}")


def t_c_getrandom(tmp):
    # The vDSO's getrandom, called the way Go 1.24+ does (found in the vDSO's own symbol table):
    # with the vDSO redirected, each call is counted once, in its own row, at its call site; one
    # query for the opaque state's parameters, then N fills.
    n = 3000
    args = [ENV["VDSO_GETRANDOM"], str(n)]
    native = run_native(args)
    if native.returncode == 77:
        skip(native.stdout.strip().removeprefix("SKIP: "))
    p, j = run_traced(args, tmp, {"VDSOTRACE_VDSO_REDIRECT": "on"})
    same_behaviour(native, p, check_stderr=False)  # `run` names its recording on stderr
    own = [l for l in p.stderr.splitlines() if not l.startswith("vdsotrace: ")]
    check(own == native.stderr.splitlines(), f"the program's stderr {own}, without the shim {native.stderr!r}")
    check(native.stdout == f"getrandom {n}\n", f"native stdout {native.stdout!r}")
    if j is None:
        check(False, "a JSON report")
        return
    fns = {f["name"]: f["calls"] for f in j["functions"]}
    check(fns.get("getrandom") == n + 1, f"functions {fns}")
    check(j["total_calls"] == n + 1, f"total {j['total_calls']}")
    calls = collections.Counter()
    for row in j["callers"]:
        calls[(row.get("symbol", ""), row["function"])] += row["calls"]
    check(calls[("fill_calls", "getrandom")] == n, f"fill_calls {calls}")
    check(calls[("query_params", "getrandom")] == 1, f"query_params {calls}")
    with open(os.path.join(tmp, "report.txt")) as f:
        text = f.read()
    rows = [l.split() for l in text.splitlines() if l.startswith("getrandom ")]
    check(rows and rows[0][1] == f"{n + 1:,}", f"the report's getrandom row: {rows}")
    # Not redirected (a C program, VDSOTRACE_VDSO_REDIRECT=auto): such calls stay unseen, as the docs say.
    p, j = run_traced(args, tmp)
    check(p.returncode == 0 and j["total_calls"] == 0, f"auto: {p.returncode} {j['total_calls'] if j else None}")


def t_c_stack_need(tmp):
    # Go calls the vDSO on g0 or on a signal stack: the direct entry must add almost nothing to
    # what the vDSO itself needs. Measured here: +24 bytes on every call but a thread's first,
    # +296 on a thread's first (it claims the thread's recording slot).
    native = run_native([ENV["STACK_NEED"]])
    env = {"LD_PRELOAD": SHIM, "VDSOTRACE_VDSO_REDIRECT": "on", "VDSOTRACE_SESSION": unique_session("gostack")}
    traced = run_native([ENV["STACK_NEED"]], env)
    check(native.returncode == 0 and traced.returncode == 0, f"{native.returncode} {traced.returncode} {traced.stderr}")
    n = [int(x) for x in native.stdout.split()[1::2]]
    t = [int(x) for x in traced.stdout.split()[1::2]]
    print("native", n, "traced", t)
    check(n[0] == n[1], f"the vDSO alone: {native.stdout!r}")
    check(t[1] - n[1] <= 32, f"direct entry, later calls: {t[1] - n[1]} bytes more than the vDSO alone")
    check(t[0] - n[0] <= 512, f"direct entry, a thread's first call: {t[0] - n[0]} bytes more than the vDSO alone")


if __name__ == "__main__":
    if not sys.argv[1].startswith("c_") and "HAMMER" not in ENV:
        skip("no Go toolchain (package golang-go)")
    sys.exit(main(globals()))
