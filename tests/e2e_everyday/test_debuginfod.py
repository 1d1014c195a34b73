#!/usr/bin/env python3
"""Debug information fetched through debuginfod (issue 14, item 5), offline: a local `debuginfod`
on loopback serves the split debug file of a stripped test program.

  test_debuginfod.py VDSOTRACE LIBVDSOTRACE

The symbolizer (elfutils libdwfl, dwfl_standard_find_debuginfo) asks elfutils' debuginfod client
when DEBUGINFOD_URLS is set and no debug information is on disk. Without it the caller is
unnamed and says why; with it, named with file:line. Skips (77) without debuginfod, gcc or objcopy.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from vdsotrace_test import check, failures  # the Python suites' one harness (tests/support)

VDSOTRACE, SHIM = (os.path.abspath(a) for a in sys.argv[1:3])
SESSION = f"dbgd{os.getpid()}"
PROGRAM = r"""
#include <time.h>
__attribute__((noinline)) void tick(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); }
int main(void) { for (int i = 0; i < 7; ++i) tick(); return 0; }
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def report(env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEBUGINFOD_")}
    env.update(env_extra)
    p = subprocess.run([VDSOTRACE, "report", "--json", SESSION], capture_output=True, text=True, env=env, timeout=120)
    return json.loads(p.stdout)["callers"] if p.returncode == 0 else p.stderr


def main():
    for tool in ("debuginfod", "gcc", "objcopy", "strip"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed: skipped")
            return 77
    tmp = tempfile.mkdtemp(prefix="vdsotrace-debuginfod-")
    server = None
    try:
        src, prog, served = os.path.join(tmp, "prog.c"), os.path.join(tmp, "prog"), os.path.join(tmp, "served")
        os.mkdir(served)
        open(src, "w").write(PROGRAM.lstrip())
        subprocess.run(["gcc", "-g", "-O1", "-Wl,--build-id", src, "-o", prog], check=True)
        subprocess.run(["objcopy", "--only-keep-debug", prog, os.path.join(served, "prog.debug")], check=True)
        subprocess.run(["strip", "--strip-debug", "--strip-unneeded", prog], check=True)
        build_id = subprocess.run(["readelf", "-n", prog], capture_output=True, text=True).stdout.split("Build ID: ")[1].split()[0]
        port = free_port()
        server = subprocess.Popen(["debuginfod", "-F", served, "-p", str(port), "-d", os.path.join(tmp, "db.sqlite")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:  # until it has scanned the folder
            try:
                if urllib.request.urlopen(f"{url}/buildid/{build_id}/debuginfo", timeout=5).status == 200:
                    break
            except Exception:
                pass
            if time.time() > deadline:
                print("debuginfod did not serve the debug file within 60 s: skipped")
                return 77
            time.sleep(0.5)

        p = subprocess.run([VDSOTRACE, "run", "--shim", SHIM, "--session", SESSION, "--keep-live", "-o", os.devnull,
                            "--", prog], capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if not k.startswith("DEBUGINFOD_")})
        check(p.returncode == 0, "the stripped program ran", p.stderr)
        without = report({})
        check(isinstance(without, list) and [(c["symbol"], c.get("unnamed_because"), c["calls"]) for c in without] ==
              [("", "no symbols in the module", 7)], "stripped, no DEBUGINFOD_URLS: unnamed, and why", str(without))
        # Without a server to ask, the debuginfod client (libcurl and its TLS stack, 10 to 25 ms) is
        # not even loaded: the loader's trace of the report names no libdebuginfod.
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEBUGINFOD_")}
        traced = subprocess.run([VDSOTRACE, "report", "--json", SESSION], capture_output=True, text=True,
                                env=dict(env, LD_DEBUG="files"), timeout=120)
        check(traced.returncode == 0 and "libdebuginfod" not in traced.stderr,
              "no DEBUGINFOD_URLS: libdebuginfod not loaded", traced.stderr[-2000:])
        named = report({"DEBUGINFOD_URLS": url, "DEBUGINFOD_CACHE_PATH": os.path.join(tmp, "cache")})
        got = [(c["symbol"], os.path.basename(c.get("file", "")), c.get("line"), c["calls"])
               for c in named] if isinstance(named, list) else named
        check(got == [("tick", "prog.c", 2, 7)], "DEBUGINFOD_URLS: named with file:line from the local server",
              str(got))
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        for f in os.listdir("/dev/shm"):
            if f"-{SESSION}-" in f:
                os.unlink(os.path.join("/dev/shm", f))
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


sys.exit(main())
