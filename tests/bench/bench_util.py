"""What the benchmark scripts of tests/bench share (imported from the scripts' own folder)."""
import json
import os
import subprocess
import tempfile


def per_call(cmd, env=None):
    """Runs cmd and returns the last number it printed on stdout (ns per call)."""
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    return float(out.strip().splitlines()[-1])


def remove_session(session):
    """Deletes this user's recordings of `session` from /dev/shm (the benchmark's own, by name)."""
    prefix = f"vdsotrace-{os.getuid()}-{session}-"
    for name in os.listdir("/dev/shm"):
        if name.startswith(prefix):
            try:
                os.unlink(os.path.join("/dev/shm", name))
            except OSError:
                pass


def google_benchmark(bench, env, reps, quick):
    """Runs the Google Benchmark program `bench` with `reps` repetitions (shorter ones when
    `quick`), aggregates only; returns its JSON results."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([bench, f"--benchmark_repetitions={reps}", "--benchmark_report_aggregates_only=true",
                        "--benchmark_min_time=0.05" if quick else "--benchmark_min_time=0.2",
                        f"--benchmark_out={out.name}", "--benchmark_out_format=json"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        with open(out.name) as f:
            return json.load(f)
