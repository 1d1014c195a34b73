#!/usr/bin/env python3
"""Adversarial programs (issue 12): each scenario runs the program natively and under
`vdsotrace run`, and asserts the same stdout, the same files and the same exit status, and that
the recording is readable (`vdsotrace report --json` on every segment of the session).
One scenario per invocation: test_adversarial.py NAME. Exit 0 pass, 1 fail, 77 skip."""
import filecmp
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import vdsotrace_test
from vdsotrace_test import ENV, SHIM, VDSOTRACE, check, recordings, status_of

ADVERSARY = ENV["ADVERSARY"]


def clean_env(extra=None):
    e = {k: v for k, v in ENV.items() if k != "LD_PRELOAD" and not k.startswith("VDSOTRACE_")}
    e.update(extra or {})
    return e


class Run:
    def __init__(self, status, out, err, files, report=None):
        self.status, self.out, self.err, self.files, self.report = status, out, err, files, report


def run_group(cmd, env, timeout):
    """Runs cmd in its own process group; on timeout kills the group: status "timeout"."""
    p = vdsotrace_test.run(cmd, env, timeout, unset=[k for k in ENV if k not in env], text=False,
                           timeout_status="timeout")
    if p.returncode == "timeout":
        return "timeout", p.stdout[:4096], p.stderr[-4096:]
    return p.returncode, p.stdout, p.stderr


def run_native(args, env=None, timeout=30):
    d = tempfile.mkdtemp(prefix="adv-native-")
    rc, out, err = run_group([ADVERSARY] + args, clean_env(dict(env or {}, ADV_DIR=d)), timeout)
    return Run(rc if rc == "timeout" else status_of(rc), out, err, d)


def run_traced(args, env=None, extra=(), timeout=30):
    d = tempfile.mkdtemp(prefix="adv-traced-")
    report = os.path.join(d, ".report.json")
    cmd = [VDSOTRACE, "run", "--keep-live", "-o", os.devnull, "--shim", SHIM, "--json", report] + list(extra) + ["--", ADVERSARY] + args
    rc, out, err = run_group(cmd, clean_env(dict(env or {}, ADV_DIR=d)), timeout)
    data = None
    if os.path.exists(report):
        with open(report) as f:
            data = json.load(f)
        os.unlink(report)
    return Run(rc, out, err, d, data)


def check_readable_and_remove(r, expect_recording=True):
    files = recordings(r.report)
    check(r.report is not None, "run wrote its JSON report")
    if expect_recording:
        check(len(files) >= 1, f"a recording was made ({len(files)})")
    for path in files:
        # Root reads recordings of processes that setuid'd (t_setuid_child) with --allow-other-users.
        others = ["--allow-other-users"] if os.stat(path).st_uid != os.geteuid() else []
        p = subprocess.run([VDSOTRACE, "report", "--json"] + others + [path], capture_output=True, text=True)
        check(p.returncode == 0, f"recording {os.path.basename(path)} readable ({p.stderr.strip()[:200]})")
        try:
            os.unlink(path)
        except OSError:
            pass


def same_files(a, b):
    names_a = sorted(n for n in os.listdir(a) if not n.startswith("."))
    names_b = sorted(n for n in os.listdir(b) if not n.startswith("."))
    if names_a != names_b:
        return False, f"{names_a} != {names_b}"
    for n in names_a:
        if not filecmp.cmp(os.path.join(a, n), os.path.join(b, n), shallow=False):
            return False, f"{n} differs"
    return True, ", ".join(names_a) or "none"


def compare(name, args, env=None, extra=(), expect_status=None, expect_out=None, expect_recording=True,
            native_env=None):
    native = run_native(args, env=dict(env or {}, **(native_env or {})))
    traced = run_traced(args, env=env, extra=extra)
    try:
        if expect_status is not None:
            check(native.status == expect_status, f"{name}: native exit status {native.status} == {expect_status}")
        check(traced.status == native.status, f"{name}: exit status {traced.status} under run == {native.status} native")
        if expect_out is not None:
            check(native.out == expect_out, f"{name}: native stdout {native.out!r} == {expect_out!r}")
        check(traced.out == native.out, f"{name}: stdout {traced.out!r} == native {native.out!r}")
        same, what = same_files(native.files, traced.files)
        check(same, f"{name}: files equal ({what})")
        check_readable_and_remove(traced, expect_recording)
    finally:
        shutil.rmtree(native.files, ignore_errors=True)
        shutil.rmtree(traced.files, ignore_errors=True)
    return native, traced


def total_calls(report):
    return (report or {}).get("total_calls", -1)


# ---- scenarios ----------------------------------------------------------------------------------

def t_reporter_resethand():
    # A one-shot crash reporter (SA_RESETHAND) installed before the shim: it reports once, then
    # the retried fault kills the process: 139, one report (the shim looped it 25,000 times).
    compare("resethand", ["reporter-crash"], env={"ADV_HANDLER": "resethand"}, expect_status=139,
            expect_out=b"calls 500\ncrash report (one-shot)\n")


def t_reporter_flags():
    # The chained handler runs with its own mask, its SA_NODEFER, on the stack it asked for.
    for how, out in (("mask", b"handler: SIGSEGV blocked yes, SIGUSR2 blocked yes, on alternate stack no\n"),
                     ("nodefer", b"handler: SIGSEGV blocked no, SIGUSR2 blocked no, on alternate stack no\n"),
                     ("onstack", b"handler: SIGSEGV blocked yes, SIGUSR2 blocked no, on alternate stack yes\n"),
                     ("thread", b"handler: SIGSEGV blocked yes, SIGUSR2 blocked no, on alternate stack no\n"),
                     ("plain", b"plain handler\n")):
        compare(how, ["reporter-crash"], env={"ADV_HANDLER": how}, expect_status=3, expect_out=b"calls 500\n" + out)
    compare("ignore", ["reporter-crash"], env={"ADV_HANDLER": "ignore"}, expect_status=139,
            expect_out=b"calls 500\n")


def t_onstack_bigframe():
    # No alternate stack of the program's: its SA_ONSTACK handler runs on the thread's stack, as
    # natively, and its 200 KiB frame writes nothing into the recording.
    _, traced = compare("onstack-bigframe", ["onstack-bigframe"], expect_status=0,
                        expect_out=b"handler: on alternate stack no, near main's frame yes, frame[7] 90\ncalls 100\n")
    check(total_calls(traced.report) == 200, f"200 calls counted ({total_calls(traced.report)})")


def t_onstack_overflow():
    # A stack overflow dies of SIGSEGV (139) as natively: the SA_ONSTACK handler cannot run.
    compare("onstack-overflow", ["onstack-overflow"], expect_status=139, expect_out=b"overflowing\n")


def t_daemon_files():
    # A daemon that closes every descriptor and opens its own files on 3 and 4, sampled: its files
    # hold exactly what it wrote (libunwind's validation pipe wrote process memory into them).
    for unwind in ("libunwind", "fp"):
        _, traced = compare(f"daemon-files {unwind}", ["daemon-files", "20"], extra=["--sample", "1", "--unwind", unwind],
                            expect_status=0, expect_out=b"")
        check(total_calls(traced.report) == 10 + 200 * 20, f"{unwind}: 4010 calls ({total_calls(traced.report)})")
        # The stacks are whole: through the frames without unwind tables (checked address by
        # address) up to main.
        chains = [[f.get("symbol", "") for f in st["frames"]] for st in traced.report.get("stacks", [])]
        through = [c for c in chains if "adv_calls_without_cfi" in c]
        check(len(through) > 0 and all("main" in c and "daemon_files" in c for c in through),
              f"{unwind}: sampled stacks reach main through the frames without CFI ({through[:1]})")


def t_signals():
    # Every signal a user may send to `vdsotrace run` reaches the program, once.
    names = ["SIGUSR1", "SIGUSR2", "SIGALRM", "SIGPIPE", "SIGWINCH", "SIGCONT", "SIGHUP", "SIGINT", "SIGQUIT",
             "SIGTERM", "SIGRTMIN+1"]

    def drive(cmd, env):
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
        lines = [p.stdout.readline()]
        for n in names:
            sig = signal.SIGRTMIN + 1 if n == "SIGRTMIN+1" else getattr(signal, n)
            os.kill(p.pid, sig)
            lines.append(p.stdout.readline())
        try:
            rest, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            rest, err = p.communicate()
        return status_of(p.returncode), b"".join(lines) + rest, err

    expected = b"ready\n" + b"".join(f"got {n[3:] if n.startswith('SIG') and n != 'SIGRTMIN+1' else n}\n".encode()
                                     for n in names)
    native = drive([ADVERSARY, "signals"], clean_env())
    check(native == (0, expected, b""), f"native: {native}")
    d = tempfile.mkdtemp(prefix="adv-traced-")
    report = os.path.join(d, "r.json")
    status, out, err = drive([VDSOTRACE, "run", "--keep-live", "-o", os.devnull, "--shim", SHIM, "--json", report, "--", ADVERSARY, "signals"],
                             clean_env())
    check(status == 0 and out == expected, f"under run: status {status}, stdout {out!r}")
    with open(report) as f:
        rep = json.load(f)
    check(total_calls(rep) == 100, f"100 calls ({total_calls(rep)})")
    check_readable_and_remove(Run(status, out, err, d, rep))
    shutil.rmtree(d, ignore_errors=True)


def t_bad_pointer():
    # A bad pointer handed to clock_gettime: SIGSEGV in the vDSO, explained as a bad pointer.
    _, traced = compare("bad-pointer", ["bad-pointer"], expect_status=139, expect_out=b"calls 100\n")
    crash = traced.report["processes"][0].get("crash", {})
    check(crash.get("where") == "vdso", f"crash recorded in the vDSO ({crash.get('where')})")
    text = crash.get("text", "")
    check("bad pointer" in text and "0x8" in text, f"explained as a bad pointer: {text!r}")
    check("below the stack pointer" not in text and "stack left" not in text,
          "not as a stack overflow")


def t_escapes():
    # Terminal escapes in a thread name and in argv are shown escaped by report and ls.
    evil = "\x1b]0;owned\x07\x1b[2J"
    d = tempfile.mkdtemp(prefix="adv-traced-")
    report = os.path.join(d, "r.json")
    session_dir = os.path.join(d, "out")
    p = subprocess.run([VDSOTRACE, "run", "--keep-live", "-o", os.devnull, "--shim", SHIM, "--json", report, "--output-dir", session_dir, "--",
                        ADVERSARY, "name", evil], capture_output=True, env=clean_env())
    check(p.returncode == 0 and p.stdout == b"thread calls 300\n", f"runs ({p.returncode}, {p.stdout!r})")
    check(b"\x1b" not in p.stderr and b"\x07" not in p.stderr, "run's report has no raw escape")
    check(b"\\x1b" in p.stderr or b"\\e" in p.stderr or b"\\033" in p.stderr, "run's report shows the escape escaped")
    with open(report) as f:
        rep = json.load(f)
    for path in recordings(rep):
        r = subprocess.run([VDSOTRACE, "report", path], capture_output=True)
        check(r.returncode == 0 and b"\x1b" not in r.stdout + r.stderr, "report: no raw escape")
        ls = subprocess.run([VDSOTRACE, "ls"], capture_output=True)
        check(b"\x1b" not in ls.stdout + ls.stderr and b"\x07" not in ls.stdout, "ls: no raw escape")
        os.unlink(path)
    shutil.rmtree(d, ignore_errors=True)


def t_fsize_limit():
    # RLIMIT_FSIZE below the recording's size: no SIGXFSZ, one line, no recording left behind.
    native, traced = None, None
    native = run_native(["fsize-limit"])
    traced = run_traced(["fsize-limit"])
    check(native.status == 0 and traced.status == 0, f"exit 0 both ({native.status}, {traced.status})")
    check(traced.out == native.out == b"calls 1000\nwrote 32768\n", f"stdout {traced.out!r}")
    same, what = same_files(native.files, traced.files)
    check(same, f"files equal ({what})")
    lines = [l for l in traced.err.decode().splitlines() if l.startswith("vdsotrace: ") and "not recording" in l]
    check(len(lines) == 1 and "file size limit" in lines[0], f"one line about the limit: {lines}")
    check(recordings(traced.report) == [], "no recording (none left half made)")
    shutil.rmtree(native.files, ignore_errors=True)
    shutil.rmtree(traced.files, ignore_errors=True)


def t_seccomp_strict():
    # A filter that kills every syscall the program does not make itself, installed after its
    # first call: the calls after it make no syscall in the shim.
    _, traced = compare("seccomp-strict", ["seccomp-strict", "1000"], expect_status=0, expect_out=b"calls 1000\n")
    check(total_calls(traced.report) == 1001, f"1001 calls ({total_calls(traced.report)})")


def t_seccomp_strict_sampled():
    _, traced = compare("seccomp-strict sampled", ["seccomp-strict", "1000"], extra=["--sample", "10"],
                        expect_status=0, expect_out=b"calls 1000\n")
    check(total_calls(traced.report) == 1001, f"1001 calls ({total_calls(traced.report)})")


def t_seccomp_first():
    # The strict filter installed before the process's first clock call: that call created the
    # recording (shm_open, mmap, ...) and died of SIGSYS (159). The shim now makes the recording
    # when the program calls prctl to install the filter; the calls after it make no system call.
    _, traced = compare("seccomp-first", ["seccomp-first", "1000", "exit_group"], expect_status=0,
                        expect_out=b"calls 1000\n")
    check(total_calls(traced.report) == 1000, f"1000 calls ({total_calls(traced.report)})")
    check(b"vdsotrace:" not in traced.err, f"nothing said on stderr ({traced.err[-500:]!r})")


def t_seccomp_exit():
    # The same filter, left through exit(): the shim's exit handlers asked getpid() (to tell a vfork
    # child from its parent) and died of SIGSYS there (159); also with the filter before the first call.
    args = ["seccomp-first", "1000", "exit"]
    _, traced = compare(" ".join(args), args, expect_status=0, expect_out=b"calls 1000\n")
    check(total_calls(traced.report) == 1000, f"1000 calls ({total_calls(traced.report)})")
    procs = (traced.report or {}).get("processes", [])
    check(len(procs) == 1 and procs[0].get("exit", {}).get("code") == 0, f"exit code 0 recorded ({procs})")


def t_vfork_exit():
    # A vfork child's _exit and the parent's exit() under a filter that kills getpid: the child is
    # told apart by the shim's vfork (it marks the TLS it runs on), with no system call. The child's
    # calls count in its parent's thread (it runs on it); the parent's exit code, not the child's 3,
    # is the recording's.
    _, traced = compare("vfork-exit", ["vfork-exit", "500", "20"], expect_status=0,
                        expect_out=b"child exit 3 calls 500\n")
    check(total_calls(traced.report) == 521, f"521 calls ({total_calls(traced.report)})")
    procs = (traced.report or {}).get("processes", [])
    check(len(procs) == 1 and procs[0].get("exit", {}).get("code") == 0, f"exit code 0 recorded ({procs})")


def t_disabled_no_syscalls():
    # Recording impossible: the shim says so once, then passes calls through with no syscall of its
    # own (it made a getpid per call: 286 ns instead of 31, and SIGSYS under this filter).
    native, traced = compare("disabled", ["disabled-strict", "1000"], expect_status=0, expect_out=b"calls 1000\n",
                             expect_recording=False)
    lines = [l for l in traced.err.decode().splitlines() if l.startswith("vdsotrace: ") and "not recording" in l]
    check(len(lines) == 1 and "file size limit" in lines[0], f"one line saying why: {lines}")


def t_seccomp_threads():
    # Threads started after a strict filter that allows only what starting threads needs natively
    # (no gettid, getpid, prctl, sigaltstack, openat): each thread's first clock call claims its
    # slot with no system call (its id from glibc's thread descriptor, its name the one the main
    # thread gave itself), and its exit folds the slot with none. Also sampled, both unwinders.
    for extra in ([], ["--sample", "10"], ["--sample", "10", "--unwind", "fp"]):
        what = " ".join(["seccomp-threads"] + extra)
        _, traced = compare(what, ["seccomp-threads", "1000", "4"], extra=extra, expect_status=0,
                            expect_out=b"threads 4 calls 4000\n")
        check(total_calls(traced.report) == 4001, f"{what}: 4001 calls ({total_calls(traced.report)})")
        threads = (traced.report or {}).get("threads", [])
        workers = [t for t in threads if t.get("tid") != t.get("pid")]
        check(len(workers) == 4 and all(t["calls"] == 1000 and t["exited"] for t in workers),
              f"{what}: four exited threads of 1000 calls ({threads})")
        check(all(t.get("name") == "sandbox-main" for t in threads), f"{what}: named as the kernel names them ({threads})")
        check(all(t.get("tid", 0) > 0 for t in threads), f"{what}: thread ids known")


def t_dl_reuse():
    # Library A called N times (half on a thread that exits first), unloaded; library B (the same
    # code, its function named differently) loaded at A's address, M calls; B unloaded, A loaded
    # there again, K calls. B's calls were credited to A; now each library keeps its own.
    n, m, k = 3000, 2000, 500
    native = run_native(["dl-reuse", str(n), str(m), str(k)])
    shutil.rmtree(native.files, ignore_errors=True)
    if native.out == f"a {n + k} b {m} reused no\n".encode():
        print("skip: the loader did not put library B at library A's address here")
        sys.exit(77)
    _, traced = compare("dl-reuse", ["dl-reuse", str(n), str(m), str(k)], expect_status=0,
                        expect_out=f"a {n + k} b {m} reused yes\n".encode())
    check(total_calls(traced.report) == n + m + k, f"{n + m + k} calls ({total_calls(traced.report)})")
    a = callers_named(traced.report, "plugin_a_clock")
    b = callers_named(traced.report, "plugin_b_clock")
    check(sum(c["calls"] for c in a) == n + k and all(c["module"].endswith("libadv_plugin_a.so") for c in a),
          f"library A's function: {n + k} calls, in A ({a})")
    check(sum(c["calls"] for c in b) == m and all(c["module"].endswith("libadv_plugin_b.so") for c in b),
          f"library B's function: {m} calls, in B ({b})")
    check(len(a) == 1 and len(b) == 1 and a[0]["offset"] == b[0]["offset"],
          f"one call site each, at the same offset (the same return address): {a} {b}")


def t_small_stack():
    # The process's first call from a thread with a 16 KiB stack; also sampled, both unwinders.
    for extra in ([], ["--sample", "1"], ["--sample", "1", "--unwind", "fp"]):
        _, traced = compare(f"small-stack {extra}", ["small-stack", "16384"], extra=extra, expect_status=0,
                            expect_out=b"calls 10\n")
        check(total_calls(traced.report) == 10, f"{extra}: 10 calls ({total_calls(traced.report)})")


def t_altstack_first():
    # A SIGPROF handler on an 8 KiB sigaltstack (a guard page below) makes the process's first 10
    # calls. Natively it fits in 4 KiB. Sampled, the first call took 9,424 bytes (libunwind and
    # its frame buffers) and crashed; samples now run on the shim's own stacks (sample_stack.h).
    for extra in ([], ["--sample", "1"], ["--sample", "1", "--unwind", "fp"]):
        _, traced = compare(f"altstack-first {extra}", ["altstack-first", "8192"], extra=extra, expect_status=0,
                            expect_out=b"handler calls 10\n")
        check(total_calls(traced.report) == 10, f"{extra}: 10 calls ({total_calls(traced.report)})")
        if extra:
            s = (traced.report or {}).get("sampling", {})
            check(s.get("sampled") == 10 and s.get("in_stacks") == 10, f"{extra}: 10 calls sampled, 10 in stacks ({s})")
            if "fp" not in extra:
                # libunwind steps from the shim's stack back through the signal frame to main.
                stacks = (traced.report or {}).get("stacks", [])
                names = [f.get("symbol") for f in (stacks[0]["frames"] if stacks else [])]
                check(len(stacks) == 1 and stacks[0]["calls"] == 10 and "prof_handler" in names and "main" in names,
                      f"one stack of 10 calls through prof_handler to main ({names})")


def t_first_call_stack():
    # The process's first clock call (which creates the recording) on 3 KiB of stack over a guard
    # page, the doctor's method: it needed 7.6 KB (a 4 KiB header and buffers on the stack), now
    # about 2 KiB; a later call from a new call site 688 bytes (the vDSO alone 48, measured the
    # same way).
    if os.uname().machine != "x86_64":
        sys.exit(77)
    # Sampled too: libunwind runs on the shim's own stacks (it needed 9,424 bytes here).
    for extra in ([], ["--sample", "1"], ["--sample", "1", "--unwind", "fp"]):
        _, traced = compare(f"first call on 3 KiB {extra}", ["stack-call", "3072", "first"], extra=extra,
                            expect_status=0, expect_out=b"ok 0\n")
        check(total_calls(traced.report) == 1, f"{extra}: 1 call ({total_calls(traced.report)})")
        if extra:
            s = (traced.report or {}).get("sampling", {})
            check(s.get("sampled") == 1 and s.get("in_stacks") == 1, f"{extra}: the call sampled, in a stack ({s})")
    _, traced = compare("later call on 1 KiB", ["stack-call", "1024", "warm"], expect_status=0, expect_out=b"ok 0\n")
    check(total_calls(traced.report) == 2, f"2 calls ({total_calls(traced.report)})")


def t_key_destructor():
    # Calls from a thread-key destructor that runs after the shim's own: counted, and no bogus
    # "shared overflow slot" row.
    _, traced = compare("key destructor", ["key-destructor"], expect_status=0, expect_out=b"thread calls 100\n")
    check(total_calls(traced.report) == 201, f"201 calls ({total_calls(traced.report)})")
    threads = (traced.report or {}).get("threads", [])
    check(not any(t.get("shared") for t in threads), f"no shared overflow slot: {threads}")
    check(any(t.get("calls") == 200 and t.get("exited") for t in threads), f"the thread has its 200 calls: {threads}")


def t_cancel_pending():
    # pthread_cancel (deferred) before a thread's first clock calls, which are the process's first:
    # the shim's file work (open, close, fallocate: cancellation points) acted on it inside
    # clock_gettime, and the thread died in its first call. They must return, and the cancel wait
    # for the thread's pthread_testcancel.
    _, traced = compare("cancel pending", ["cancel-pending", "50"], expect_status=0,
                        expect_out=b"calls returned 50, cancelled 1\n")
    check(total_calls(traced.report) == 50, f"50 calls ({total_calls(traced.report)})")


def t_setuid_child():
    # A root server whose worker setuids to nobody: its recording (owned by nobody) is in run's report.
    if os.geteuid() != 0:
        print("skip: needs root (setuid to nobody)")
        sys.exit(77)
    _, traced = compare("setuid child", ["setuid-child", "300"], expect_status=0,
                        expect_out=b"parent 300 child status 0\n")
    procs = (traced.report or {}).get("processes", [])
    check(len(procs) == 2, f"both processes reported ({len(procs)})")
    check(total_calls(traced.report) == 600, f"600 calls ({total_calls(traced.report)})")


def callers_named(report, symbol):
    return [c for c in (report or {}).get("callers", []) if c.get("symbol") == symbol]


def t_clone_vm():
    # clone(CLONE_VM) without CLONE_THREAD or CLONE_SETTLS: the child runs on the parent thread's
    # TLS in the same memory, and both call from one site (calls()) at the same time. Plain
    # increments from two CPUs lost 0.1-1% here (3-10% in issue 12); the shim's clone() switches
    # that thread to atomic counting. `first`: the parent counted before the clone (its slot
    # exists); `fresh`: both make their first call after it.
    n, m = 2000000, 1500000
    for when, before in (("first", 1), ("fresh", 0)):
        _, traced = compare(f"clone-vm {when}", ["clone-vm", str(n), str(m), when], expect_status=0,
                            expect_out=f"parent {n} child {m} status 0\n".encode())
        total = n + m + before
        check(total_calls(traced.report) == total, f"{when}: {total} calls ({total_calls(traced.report)})")
        rows = callers_named(traced.report, "calls")
        check(len(rows) == 1 and rows[0]["calls"] == total, f"{when}: one call site, {total} calls ({rows})")
        # The clone has no TLS of its own: its calls are in the row of the thread it cloned from.
        threads = (traced.report or {}).get("threads", [])
        check(len(threads) == 1 and threads[0]["calls"] == total, f"{when}: the cloning thread's row ({threads})")


def t_other_elf_class():
    # A 32-bit program: run says so in one line before it starts; exit status and output unchanged.
    d = tempfile.mkdtemp(prefix="adv-cli-")
    src, exe = os.path.join(d, "s32.c"), os.path.join(d, "s32")
    with open(src, "w") as f:
        f.write('void _start(void) { __asm__ volatile("mov $1, %eax\\n mov $3, %ebx\\n int $0x80"); }\n')
    built = subprocess.run(["gcc", "-m32", "-nostartfiles", "-nostdlib", "-static", "-fno-pie", "-no-pie", src, "-o", exe],
                           capture_output=True)
    if built.returncode != 0 or os.uname().machine != "x86_64":
        print("skip: cannot build a 32-bit x86 program here")
        shutil.rmtree(d, ignore_errors=True)
        sys.exit(77)
    native = subprocess.run([exe], capture_output=True)
    p = subprocess.run([VDSOTRACE, "run", "--keep-live", "-o", os.devnull, "--shim", SHIM, "--", exe], capture_output=True, text=True, env=clean_env())
    check(native.returncode == 3 and p.returncode == 3, f"exit 3 both ({native.returncode}, {p.returncode})")
    lines = [l for l in p.stderr.splitlines() if "32-bit program" in l]
    check(len(lines) == 1 and "cannot be loaded" in lines[0], f"one line says it is 32-bit: {lines}")
    shutil.rmtree(d, ignore_errors=True)


def t_run_cli():
    # run on a file that is not executable: 126 "Permission denied", as a shell says.
    d = tempfile.mkdtemp(prefix="adv-cli-")
    plain = os.path.join(d, "notexec")
    with open(plain, "w") as f:
        f.write("#!/bin/sh\necho hi\n")
    os.chmod(plain, 0o644)
    p = subprocess.run([VDSOTRACE, "run", "--keep-live", "-o", os.devnull, "--shim", SHIM, "--", plain], capture_output=True, text=True,
                       env=clean_env())
    check(p.returncode == 126 and "Permission denied" in p.stderr, f"not executable: {p.returncode} {p.stderr!r}")
    # clean --older-than nan: refused before any work.
    p = subprocess.run([VDSOTRACE, "clean", "--older-than", "nan"], capture_output=True, text=True)
    check(p.returncode != 0 and len(p.stderr.strip().splitlines()) == 1, f"--older-than nan refused: {p.returncode} {p.stderr!r}")
    # --save archives are private, like the segments (argv may hold secrets).
    archive = os.path.join(d, "saved.vdsotrace")
    p = subprocess.run([VDSOTRACE, "run", "--shim", SHIM, "--save", archive, "--json", os.path.join(d, "r.json"),
                        "--", ADVERSARY, "calls", "10"], capture_output=True, env=clean_env())
    check(p.returncode == 0 and os.path.exists(archive), "--save wrote the archive")
    if os.path.exists(archive):
        check(os.stat(archive).st_mode & 0o777 == 0o600, f"archive mode {oct(os.stat(archive).st_mode & 0o777)} == 0o600")
    # run --save moves the recordings into the archive (unless --keep-live): the archive is read.
    r = subprocess.run([VDSOTRACE, "report", "--json", archive], capture_output=True, text=True)
    check(r.returncode == 0 and json.loads(r.stdout or "{}").get("total_calls") == 10,
          f"the archive is readable, 10 calls ({r.returncode} {r.stderr.strip()[:200]})")
    with open(os.path.join(d, "r.json")) as f:
        left = [path for path in recordings(json.load(f)) if os.path.exists(path)]
    check(left == [], f"no live recording left behind ({left})")
    shutil.rmtree(d, ignore_errors=True)


TESTS = {name[2:].replace("_", "-"): fn for name, fn in globals().items() if name.startswith("t_")}

if __name__ == "__main__":
    sys.exit(vdsotrace_test.main(TESTS))
