"""What the benchmark scripts of tests/bench share (imported from the scripts' own folder)."""
import os
import subprocess


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
