#!/usr/bin/env python3
"""`vdsotrace export` against Debian's real Prometheus and node_exporter, on loopback only.

redis-server runs traced the way a systemd drop-in runs a service (Environment=LD_PRELOAD=... and
VDSOTRACE_SESSION=...: under systemd-run when systemd is running, else with the same environment by
hand, as the `redis` user when there is one), loaded by redis-benchmark; a second program,
clock_loop, runs under `vdsotrace run --route clock_gettime=syscall` with known counts. The
exporter refreshes node_exporter's textfile directory every half second and Prometheus scrapes
every second. Then, with the load stopped (redis-server SIGSTOPped, clock_loop idle):
- Prometheus's per-process totals equal `vdsotrace report --json` exactly;
- rate(vdsotrace_calls_total[...]) saw redis-server's calls per second during the load;
- clock_loop's routed calls are the kernel-entry series, with its exact counts;
- no counter went backwards (textfile read during the load; Prometheus's resets());
- `promtool check metrics` accepts the exposition;
- a process that exits disappears from the next export.
Everything it starts it stops, also on failure. Usage: test_prometheus.py VDSOTRACE SHIM CLOCK_LOOP
"""
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from vdsotrace_test import free_port, skip

VDSOTRACE, SHIM, CLOCK_LOOP = sys.argv[1:4]
MONO_CALLS, CPU_CALLS = 5000, 300
SERIES = re.compile(r'^(\w+)\{(.*)\} (\S+)$')


def tool(*names):
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    return None


PROMETHEUS = tool("prometheus")
NODE_EXPORTER = tool("prometheus-node-exporter", "node_exporter")
PROMTOOL = tool("promtool")
REDIS_SERVER = tool("redis-server")
REDIS_BENCHMARK = tool("redis-benchmark")
for name, path in [("prometheus", PROMETHEUS), ("prometheus-node-exporter", NODE_EXPORTER),
                   ("promtool", PROMTOOL), ("redis-server", REDIS_SERVER),
                   ("redis-benchmark (redis-tools)", REDIS_BENCHMARK)]:
    if not path:
        skip(f"{name} is not installed (.ci/packages lists it; run .ci/setup)")


def wait_for(what, check, timeout=30.0, step=0.2):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = check()
            if last:
                return last
        except Exception as e:  # not up yet
            last = e
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def http_get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def systemd_running():
    if not shutil.which("systemd-run") or not shutil.which("systemctl"):
        return False
    r = subprocess.run(["systemctl", "is-system-running"], capture_output=True, text=True)
    return r.stdout.strip() in ("running", "degraded")


def parse_exposition(text):
    """{(name, labels-text): value} of the samples in an exposition."""
    out = {}
    for line in text.splitlines():
        m = SERIES.match(line)
        if m:
            out[(m.group(1), m.group(2))] = float(m.group(3))
    return out


def labels_of(labels_text):
    return dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels_text))


class Started:
    """Processes and units this test started, stopped in reverse order whatever happens."""

    def __init__(self):
        self.procs = []
        self.units = []
        self.stopped = []

    def popen(self, name, args, **kw):
        p = subprocess.Popen(args, **kw)
        self.procs.append((name, p))
        return p

    def stop_all(self):
        for unit in reversed(self.units):
            subprocess.run(["systemctl", "kill", "--signal=SIGCONT", unit], capture_output=True)
            subprocess.run(["systemctl", "stop", unit], capture_output=True)
        for name, p in reversed(self.procs):
            if p.stdin:
                try:
                    p.stdin.close()  # clock_loop ends at the end of its input
                except OSError:
                    pass
            if p.poll() is not None:
                continue
            try:
                os.kill(p.pid, signal.SIGCONT)
                p.terminate()
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            except ProcessLookupError:
                pass


def main():
    tmp = tempfile.mkdtemp(prefix="vdsotrace-export-e2e-")
    os.chmod(tmp, 0o755)
    textdir = os.path.join(tmp, "textfile")
    os.mkdir(textdir)
    os.chmod(textdir, 0o755)
    prom_file = os.path.join(textdir, "vdsotrace.prom")
    redis_session = f"i17redis{os.getpid()}"
    started = Started()
    sessions_to_clean = [redis_session]
    run_as_redis = os.geteuid() == 0 and pwd_entry("redis") is not None
    try:
        # 1. redis-server, traced as a service would be by the drop-in.
        redis_port = free_port()
        env = dict(os.environ, LD_PRELOAD=SHIM, VDSOTRACE_SESSION=redis_session)
        redis_args = [REDIS_SERVER, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                      "--appendonly", "no", "--dir", tmp, "--daemonize", "no", "--protected-mode", "no",
                      "--loglevel", "warning"]
        if systemd_running():
            unit = f"vdsotrace-e2e-redis-{os.getpid()}"
            subprocess.run(["systemd-run", f"--unit={unit}", f"--property=Environment=LD_PRELOAD={SHIM}",
                            f"--property=Environment=VDSOTRACE_SESSION={redis_session}",
                            "--property=PrivateDevices=no", "--"] + redis_args, check=True)
            started.units.append(unit)
            redis_pid = wait_for("redis-server's MainPID", lambda: int(subprocess.run(
                ["systemctl", "show", "-p", "MainPID", "--value", unit],
                capture_output=True, text=True).stdout.strip() or 0))
            how = "systemd-run"
        else:
            kw = {}
            if run_as_redis:
                pw = pwd_entry("redis")
                kw["preexec_fn"] = lambda: (os.setgid(pw.pw_gid), os.setgroups([]), os.setuid(pw.pw_uid))
            redis = started.popen("redis-server", redis_args, env=env, stdout=subprocess.DEVNULL, **kw)
            redis_pid = redis.pid
            how = "the drop-in's environment by hand" + (" as user redis" if run_as_redis else "")
        print(f"redis-server pid {redis_pid} on 127.0.0.1:{redis_port}, traced with {how}")
        wait_for("redis-server", lambda: socket.create_connection(("127.0.0.1", redis_port), timeout=1).close() or True)

        # 2. The second program: known counts, clock_gettime forced to the system call.
        loop = started.popen("clock_loop", [VDSOTRACE, "run", "--keep-live", "-o", os.devnull, "--route", "clock_gettime=syscall", "--",
                                            CLOCK_LOOP, str(MONO_CALLS), str(CPU_CALLS)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        loop_pid = int(loop.stdout.readline().split()[1])
        loop_file = wait_for("clock_loop's recording", lambda: recording_of(loop_pid))
        loop_session = loop_file.split("-")[-3]
        sessions_to_clean.append(loop_session)

        # 3. The exporter, node_exporter and Prometheus.
        # This test's sessions only: other tests' traced processes on a shared machine would make
        # the file (and node_exporter's parsing of it) as large as they please.
        exporter = started.popen("exporter", [VDSOTRACE, "export", "--all-users", "--callers", "3",
                                              "--session", redis_session, "--session", loop_session,
                                              "--textfile", textdir, "--interval", "0.5"],
                                 stderr=subprocess.PIPE, text=True)
        wait_for("the first textfile", lambda: os.path.exists(prom_file))
        ne_port, prom_port = free_port(), free_port()
        started.popen("node_exporter", [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{ne_port}",
                                        "--collector.disable-defaults", "--collector.textfile",
                                        f"--collector.textfile.directory={textdir}"],
                      stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "node_exporter.log"), "w"))
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    f"scrape_configs:\n  - job_name: node\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{ne_port}']\n")
        started.popen("prometheus", [PROMETHEUS, f"--config.file={config}",
                                     f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
                                     f"--web.listen-address=127.0.0.1:{prom_port}"],
                      stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "prometheus.log"), "w"))
        api = f"http://127.0.0.1:{prom_port}/api/v1"

        def query(q, at=None):
            params = {"query": q}
            if at is not None:
                params["time"] = f"{at:.3f}"
            r = json.loads(http_get(f"{api}/query?{urllib.parse.urlencode(params)}"))
            assert r["status"] == "success", r
            return r["data"]["result"]

        wait_for("Prometheus to scrape the exporter",
                 lambda: query(f'vdsotrace_calls_total{{pid="{redis_pid}"}}'), timeout=90, step=0.5)

        # clock_loop's second round of routed calls, now that Prometheus has seen its first.
        wait_for("clock_loop's first round in Prometheus",
                 lambda: query(f'vdsotrace_calls_total{{pid="{loop_pid}",clock="CLOCK_MONOTONIC"}}'))
        loop.stdin.write("again\n")
        loop.stdin.flush()
        assert loop.stdout.readline().strip() == "done"

        # 4. Load, reading the textfile meanwhile: no series may go backwards.
        load_start = time.time()
        bench = subprocess.run([REDIS_BENCHMARK, "-h", "127.0.0.1", "-p", str(redis_port), "-n", "20000",
                                "-c", "4", "-t", "set,get", "-q"], capture_output=True, text=True, timeout=120)
        assert bench.returncode == 0, bench.stderr
        before = {}
        for _ in range(4):
            now = parse_exposition(open(prom_file).read())
            counters = {k: v for k, v in now.items() if k[0].endswith("_total")
                        and labels_of(k[1])["session"] in (redis_session, loop_session)}
            for k, v in counters.items():
                assert v >= before.get(k, 0), f"{k} went from {before[k]} to {v}"
            before.update(counters)
            time.sleep(0.3)

        # 5. Stop the load: redis-server frozen, clock_loop waiting on its input.
        if started.units:
            subprocess.run(["systemctl", "kill", "--signal=SIGSTOP", started.units[0]], check=True)
        else:
            os.kill(redis_pid, signal.SIGSTOP)
        time.sleep(0.2)
        redis_files = recordings_of_session(redis_session)
        assert len(redis_files) == 1, f"redis-server (no saves, so no forks) left {redis_files}"
        want = {}
        for path in (redis_files[0], loop_file):
            rep = json.loads(subprocess.run([VDSOTRACE, "report", "--json", "--allow-other-users", path],
                                            capture_output=True, text=True, check=True).stdout)
            for p in rep["processes"]:
                want[str(p["pid"])] = p["calls"]
        assert want.get(str(redis_pid), 0) > 20000, f"redis-server made too few calls: {want}"

        seen = {}

        def totals():
            got = {r["metric"]["pid"]: int(float(r["value"][1])) for r in query(
                f'sum by (pid) (vdsotrace_calls_total{{session=~"{redis_session}|{loop_session}"}})')}
            seen["prometheus"] = got
            seen["textfile"] = {}
            for (name, labels), v in parse_exposition(open(prom_file).read()).items():
                pid = labels_of(labels)["pid"] if name == "vdsotrace_calls_total" else None
                if pid in want:
                    seen["textfile"][pid] = seen["textfile"].get(pid, 0) + int(v)
            return got if got == want else None
        try:
            wait_for(f"Prometheus's per-process totals to equal report --json {want}", totals, timeout=30, step=0.5)
        except AssertionError:
            print(f"last seen: {seen}", file=sys.stderr)
            raise
        print(f"per-process totals, Prometheus = report --json: {want}")

        # Rates over a window that holds the whole load (the final values are scraped by now).
        window = f"{int(time.time() - load_start) + 5}s"
        ours = f'session=~"{redis_session}|{loop_session}"'
        rates = query(f'sum by (pid) (rate(vdsotrace_calls_total{{session="{redis_session}"}}[{window}]))')
        redis_rate = float(rates[0]["value"][1]) if rates else 0
        assert redis_rate > 0, f"no rate for redis-server over the load: {rates}"
        print(f"redis-server under redis-benchmark: {redis_rate:,.0f} clock calls/s (rate over {window})")
        resets = query(f'sum(resets(vdsotrace_calls_total{{{ours}}}[5m]))')
        assert float(resets[0]["value"][1]) == 0, f"counter resets: {resets}"

        # 6. The forced fallback is the kernel-entry series, with clock_loop's exact counts.
        kernel = {(r["metric"]["clock"], r["metric"]["reason"]): int(float(r["value"][1])) for r in query(
            f'vdsotrace_kernel_calls_total{{pid="{loop_pid}",function="clock_gettime"}}')}
        assert kernel == {("CLOCK_MONOTONIC", "route"): 2 * MONO_CALLS,
                          ("CLOCK_PROCESS_CPUTIME_ID", "route"): 2 * CPU_CALLS}, kernel
        calls = query(f'vdsotrace_calls_total{{pid="{loop_pid}",function="clock_gettime",clock="CLOCK_MONOTONIC"}}')
        assert int(float(calls[0]["value"][1])) == 2 * MONO_CALLS, calls
        routed = query(f'vdsotrace_kernel_calls_total{{pid="{redis_pid}",reason="route"}}')
        assert routed == [], f"redis-server was not routed, yet: {routed}"
        # The README's queries: hosts whose clock calls enter the kernel; top processes by calls/s.
        hosts = query(f'sum by (instance) (rate(vdsotrace_kernel_calls_total{{{ours}}}[{window}])) > 0')
        assert [h["metric"]["instance"] for h in hosts] == [f"127.0.0.1:{ne_port}"], hosts
        # (Other tests' traced processes on this machine are in the export too: ours only.)
        top = query(f'topk(10, sum by (instance, exe, pid) (rate(vdsotrace_calls_total{{{ours}}}[{window}])))')
        assert top and top[0]["metric"]["pid"] == str(redis_pid), top
        print("top processes by clock calls/s: " +
              ", ".join(f"{t['metric']['exe']} ({t['metric']['pid']}) {float(t['value'][1]):,.0f}/s" for t in top))

        # 7. Bounded callers, and promtool's verdict on the exposition.
        text = open(prom_file).read()
        callers = [k for k in parse_exposition(text) if k[0] == "vdsotrace_caller_calls_total"
                   and labels_of(k[1])["pid"] == str(redis_pid)]
        assert 1 <= len(callers) <= 3, callers
        sessions = {labels_of(k[1])["session"] for k in parse_exposition(text) if "session=" in k[1]}
        assert sessions == {redis_session, loop_session}, f"--session let through {sessions}"
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True)
        assert check.returncode == 0, f"promtool check metrics: {check.stdout}{check.stderr}"

        # 8. A process that exits disappears from the next export.
        loop.stdin.close()
        assert loop.wait(timeout=30) == 0
        wait_for("clock_loop to leave the export", lambda: f'pid="{loop_pid}"' not in open(prom_file).read(), timeout=10)
        assert f'pid="{redis_pid}"' in open(prom_file).read()
        exporter.send_signal(signal.SIGTERM)
        assert exporter.wait(timeout=10) == 0, exporter.stderr.read()

        # 9. export --clean-older-than removes ended recordings, never a live one. Run as the
        # redis user, whose recordings only this test makes on a shared machine.
        if run_as_redis and not started.units:
            pw = pwd_entry("redis")
            as_redis = lambda: (os.setgid(pw.pw_gid), os.setgroups([]), os.setuid(pw.pw_uid))
            ended_session = f"i17ended{os.getpid()}"
            sessions_to_clean.append(ended_session)
            subprocess.run([CLOCK_LOOP, "10", "0"], env=dict(env, VDSOTRACE_SESSION=ended_session),
                           input="", capture_output=True, text=True, check=True, preexec_fn=as_redis)
            assert len(recordings_of_session(ended_session)) == 1
            clean = subprocess.run([VDSOTRACE, "export", "--clean-older-than", "0s"], capture_output=True,
                                   text=True, preexec_fn=as_redis)
            assert clean.returncode == 0, clean.stderr
            assert recordings_of_session(ended_session) == [], "the ended recording is still there"
            assert recordings_of_session(redis_session) == redis_files, "a live recording was removed"
            assert clean.stderr.strip() == "vdsotrace: removed 1 ended recording(s) older than 0s", clean.stderr
        print("PASS")
        return 0
    finally:
        started.stop_all()
        for s in sessions_to_clean:
            for path in recordings_of_session(s):
                os.unlink(path)
        shutil.rmtree(tmp, ignore_errors=True)


def pwd_entry(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def recording_of(pid):
    for name in os.listdir("/dev/shm"):
        parts = name.split("-")
        if name.startswith("vdsotrace-") and len(parts) == 5 and parts[3] == str(pid):
            return os.path.join("/dev/shm", name)
    return None


def recordings_of_session(session):
    return sorted(os.path.join("/dev/shm", n) for n in os.listdir("/dev/shm")
                  if n.startswith("vdsotrace-") and len(n.split("-")) == 5 and n.split("-")[2] == session)


if __name__ == "__main__":
    sys.exit(main())
