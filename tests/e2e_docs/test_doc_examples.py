#!/usr/bin/env python3
"""Runs every example command README.md and docs/ show, so that they stay true.

usage: test_doc_examples.py SOURCE_ROOT BUILD_ROOT [PAGE.md ...]

The convention (docs/tests.md, "Examples in the docs"):
- Examples are the lines of ```sh blocks that begin with `$ ` (the prompt is not part of the
  command) or with `vdsotrace `. A line ending in `\\` goes on with the next one. Other lines
  (output shown after a command, `.ci/...` scripts) are not run.
- The commands of one block run in order in one bash, in a fresh directory, so `cd`, variables
  and background jobs (`$!`) carry from one line to the next, as in a terminal.
- Each must exit 0, or N where the line ends with the comment `# exit N`.
- `# needs: PROGRAM ...` on a line of its own applies to the block's next command: where a
  PROGRAM is not on PATH, that command and the rest of the block are skipped, saying why.
- `<!-- not run: REASON -->` on the line before a block's fence shows it without running it (a
  service that runs until stopped, a path of the reader's machine); the test prints the reason.
- `vdsotrace` and `vdsotrace-demo` are the ones just built (BUILD_ROOT/tools is first on PATH).

Everything runs in a private mount namespace with its own empty /dev/shm, so `clean --all`, `ls`
and `report` without argument see only the examples' recordings, which vanish with it. Exit 0
when every example ran as documented, 1 otherwise, 77 when no private /dev/shm can be had.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

PRIVATE = "VDSOTRACE_DOCS_PRIVATE_SHM"


def private_shm():
    """Re-runs this script in a new mount namespace with a tmpfs on /dev/shm (as root, or as a
    user in a user namespace); returns its exit status, or None when neither is allowed."""
    if os.environ.get(PRIVATE) or not shutil.which("unshare"):
        return None
    inner = "mount -t tmpfs -o size=512m vdsotrace-docs /dev/shm && exec \"$@\""
    env = dict(os.environ, **{PRIVATE: "1"})
    for flags in (["-m"], ["-r", "-m"]) if os.geteuid() == 0 else (["-r", "-m"],):
        probe = subprocess.run(["unshare", *flags, "sh", "-c", "mount -t tmpfs x /dev/shm"], capture_output=True)
        if probe.returncode == 0:
            cmd = ["unshare", *flags, "sh", "-c", inner, "sh", sys.executable] + sys.argv
            return subprocess.run(cmd, env=env).returncode
    return None


def examples(path):
    """[(first line number, [(line number, command, expected status, needs)])] per ```sh block, and
    [(line number, reason)] of the blocks marked not to run."""
    blocks, not_run, block, needs, pending, previous = [], [], None, [], None, ""
    with open(path) as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines, 1):
        stripped = line.strip()
        if block is None:
            if stripped == "```sh":
                block = (n, [])
                m = re.match(r"<!--\s*not run:\s*(.*?)\s*-->$", previous)
                if m:
                    not_run.append((n, m.group(1)))
                    block = (n, None)
            if stripped:
                previous = stripped
            continue
        if block[1] is None:  # a block shown, not run
            if stripped.startswith("```"):
                block = None
            continue
        if stripped.startswith("```"):
            blocks.append(block)
            block, needs, pending = None, [], None
            continue
        if pending is not None:  # a continued command
            pending[1] += "\n" + line
            if not line.endswith("\\"):
                block[1].append(tuple(pending))
                pending = None
            continue
        m = re.match(r"#\s*needs:\s*(.+)$", stripped)
        if m:
            needs = m.group(1).split()
            continue
        if stripped.startswith("$ "):
            command = stripped[2:]
        elif stripped.startswith("vdsotrace "):
            command = stripped
        else:
            continue
        status = re.search(r"#\s*exit\s+(\d+)\s*$", command)
        entry = [n, command, int(status.group(1)) if status else 0, needs]
        needs = []
        if command.endswith("\\"):
            pending = entry
        else:
            block[1].append(tuple(entry))
    return [b for b in blocks if b[1]], not_run


def run_block(page, first, commands, build, failures):
    """Runs one block's commands in one bash; returns how many ran."""
    work = tempfile.mkdtemp(prefix="vdsotrace-docs-")
    status_file = os.path.join(work, ".status")
    script = ["exec 3>" + status_file]
    ran = 0
    for n, command, expected, needs in commands:
        missing = [p for p in needs if not shutil.which(p)]
        if missing:
            print(f"skip {page}:{n} and the rest of its block: needs {', '.join(missing)}: {command}")
            break
        # Each command's status goes to fd 3 with its line number; its output to the log.
        script.append(f"{command}\necho {n} $? >&3")
        ran += 1
    env = dict(os.environ, PATH=os.path.join(build, "tools") + os.pathsep + os.environ["PATH"])
    env = {k: v for k, v in env.items() if k != "LD_PRELOAD" and (not k.startswith("VDSOTRACE_") or k == PRIVATE)}
    p = subprocess.run(["bash", "-c", "\n".join(script) + "\nwait"], cwd=work, env=env, capture_output=True,
                       text=True, timeout=300)
    statuses = {}
    if os.path.exists(status_file):
        for line in open(status_file):
            n, s = line.split()
            statuses[int(n)] = int(s)
    for n, command, expected, needs in commands[:ran]:
        got = statuses.get(n)
        ok = got == expected
        print(f"{'ok  ' if ok else 'FAIL'} {page}:{n}: exit {got} (documented {expected}): {command}")
        if not ok:
            failures.append(f"{page}:{n}")
    if any(statuses.get(c[0]) != c[2] for c in commands[:ran]):
        print(f"--- output of the block at {page}:{first}:\n{p.stdout[-3000:]}\n--- stderr:\n{p.stderr[-3000:]}")
    shutil.rmtree(work, ignore_errors=True)
    return ran


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    status = private_shm()
    if status is not None:
        return status
    if not os.environ.get(PRIVATE):
        print("SKIP: no private /dev/shm (needs root or unprivileged user namespaces for `unshare`)")
        return 77
    source, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    pages = sys.argv[3:] or [os.path.join(source, "README.md")] + sorted(
        glob.glob(os.path.join(source, "docs", "**", "*.md"), recursive=True))
    failures, total = [], 0
    for path in pages:
        page = os.path.relpath(path, source)
        blocks, not_run = examples(path)
        for first, commands in blocks:
            total += run_block(page, first, commands, build, failures)
        for n, reason in not_run:
            print(f"not run {page}:{n}: {reason}")
    print(f"{total} example(s) run, {len(failures)} not as documented")
    if total == 0:
        print("FAIL: no example found")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
