"""The one harness of the Python end-to-end tests (tests/e2e_*/test_*.py).

Meson puts this folder on PYTHONPATH (tests/meson.build: `py_test_env`). A test file imports
what it needs and keeps only its own cases:

    from vdsotrace_test import ENV, VDSOTRACE, SHIM, check, run_traced, main
    ...
    if __name__ == "__main__":
        sys.exit(main(globals()))        # runs t_NAME(tmp) for `test_x.py NAME`

Exit statuses are meson's: 0 pass, 1 a check failed, 77 skipped (raise Skip("why")).
Every recording a test makes is removed: those named in the JSON reports right away (or, with
keep=True, when the test ends), and the sessions named through unique_session() at the end.
Nobody else's recordings are touched.
"""
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import uuid

ENV = os.environ
# The two paths every suite gets from meson; tests started with arguments pass them to main().
VDSOTRACE = ENV.get("VDSOTRACE", "")
SHIM = ENV.get("SHIM", "")

failures = []
KEPT_RECORDINGS = []
SESSIONS = set()  # named sessions this test made, cleaned at the end


class Skip(Exception):
    """Raised by a test that cannot run here; main() prints the reason and exits 77."""


def skip(why):
    """Skips the whole test at once (exit 77), saying why."""
    print(f"SKIP: {why}")
    sys.exit(77)


def need(path, what):
    """`path` (e.g. from shutil.which), or Skip saying that `what` is not installed."""
    if not path:
        raise Skip(f"{what} is not installed")
    return path


def check(cond, what, detail=""):
    """Records a failed expectation (the test goes on, and fails at the end)."""
    text = f"{what}: {detail}" if detail else what
    print(("ok:   " if cond else "FAIL: ") + text)
    if not cond:
        failures.append(text)
    return cond


def status_of(returncode):
    """A shell's view of an exit status: 128+N for a signal."""
    return 128 - returncode if returncode < 0 else returncode


def environment(env=None, unset=()):
    """os.environ with `unset` removed and `env` added."""
    e = {k: v for k, v in ENV.items() if k not in unset}
    e.update(env or {})
    return e


def run(cmd, env=None, timeout=300, cwd=None, unset=(), stdin=None, text=True, timeout_status=None):
    """Runs cmd in its own process group (a hung program is killed with everything it started)
    and returns the CompletedProcess. On timeout it kills the group, then raises TimeoutExpired,
    or, given timeout_status, returns that as the status with what the group wrote until then."""
    p = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=text,
                         env=environment(env, unset), cwd=cwd, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        if timeout_status is None:
            raise
        return subprocess.CompletedProcess(cmd, timeout_status, out, err)
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def recordings(report):
    """The recording files a JSON report names."""
    return [p["recording"] for p in (report or {}).get("processes", []) if p.get("recording")]


def remove_recordings(report):
    for path in recordings(report):
        for f in (path, path + ".perf-map"):
            try:
                os.unlink(f)
            except OSError:
                pass


def keep_until_exit(paths):
    """Recordings a test still reads after its run; main() removes them at the end."""
    KEPT_RECORDINGS.extend(paths)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def run_traced(args, tmp, extra=(), env=None, timeout=100, keep=False, unset=(), cwd=None):
    """`vdsotrace run --shim SHIM --keep-live -o /dev/null --json tmp/report.json --text
    tmp/report.txt [extra] -- args`: the session stays in /dev/shm for the test to read (and no
    recording file is written, unless extra names one with -o or --save). Returns (completed
    process, JSON report or None). Its recordings are removed at once, or at the end of the test
    with keep=True."""
    report = os.path.join(tmp, "report.json")
    cmd = [VDSOTRACE, "run", "--shim", SHIM, "--keep-live", "--json", report, "--text", os.path.join(tmp, "report.txt")]
    if not {"-o", "--output", "--save"} & set(extra):
        cmd += ["-o", os.devnull]
    p = run(cmd + list(extra) + ["--"] + list(args), env, timeout, cwd=cwd, unset=unset)
    data = None
    if os.path.exists(report):
        data = read_json(report)
        if keep:
            keep_until_exit(recordings(data))
        else:
            remove_recordings(data)
    return p, data


def unique_session(tag):
    """A session name nobody else uses; its recordings are removed (`vdsotrace clean`) at the end."""
    name = f"{tag}{os.getpid()}{uuid.uuid4().hex[:6]}"
    SESSIONS.add(name)
    return name


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cleanup():
    """Removes what the test made: kept recordings and named sessions. Called by main()."""
    for path in KEPT_RECORDINGS:
        for f in (path, path + ".perf-map"):
            try:
                os.unlink(f)
            except OSError:
                pass
    KEPT_RECORDINGS.clear()
    for s in sorted(SESSIONS):
        subprocess.run([VDSOTRACE, "clean", s], capture_output=True)
    SESSIONS.clear()


def verdict():
    """0 when every check held, else 1 (after saying how many failed)."""
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("ok")
    return 0


def main(tests, argv=None, tmp_prefix="vdsotrace-test-"):
    """Runs the one test named by argv[1] (sys.argv by default). `tests` maps names to functions, or
    is a module's globals(), whose t_NAME functions are its tests. A test taking an argument gets
    a fresh temporary directory. Returns the exit status."""
    argv = sys.argv if argv is None else argv
    if "__name__" in tests:
        tests = {n[2:]: f for n, f in tests.items() if n.startswith("t_") and callable(f)}
    name = argv[1] if len(argv) > 1 else ""
    if name not in tests:
        print(f"unknown test {name!r}; one of: {', '.join(sorted(tests))}")
        return 2
    fn = tests[name]
    with tempfile.TemporaryDirectory(prefix=tmp_prefix) as tmp:
        try:
            fn(tmp) if inspect.signature(fn).parameters else fn()
        except Skip as why:
            print(f"SKIP: {why}")
            return 77
        finally:
            cleanup()
    return verdict()
