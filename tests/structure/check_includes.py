#!/usr/bin/env python3
"""The include graph keeps the parts apart (docs/how-it-works.md, "Where things are").

Reads every C, C++ and assembly source under shim/, tracer/, tools/ and tests/ and fails, naming
file and line, when:
  - an `#include "..."` is not a path from the repository root to a file that exists there (or
    to a header the build generates);
  - a file outside the engine (tracer/engine/, tracer/wrappers/, tracer/python/), the shim and
    the tests includes an engine header: the engine is reached through tracer/format/ (the
    segment layout) and tracer/common/ only;
  - tools/ includes anything from tracer/ but tracer/format/ and tracer/common/;
  - shim/ or tracer/ includes tools/; tracer/format/ includes anything but tracer/format/;
    tracer/common/ anything but tracer/format/ and tracer/common/;
  - tools/report/ (the report model, data) includes tools/render/ (what writes it out) or
    tools/machine/ (what probes the reading machine: the command gathers, the model is handed);
  - a part of tools/ below the commands includes tools/commands/ (only tools/cli/ and the
    commands, tools/commands/ and export's tools/export/, do).
Usage: check_includes.py [REPOSITORY_ROOT]   (default: two folders up from this script)
"""
import os
import re
import sys

# Written into the build tree at the same path (meson puts the build root on the include path too).
GENERATED = {'tools/config.h', 'tools/pprof/profile.pb.h', 'tools/static_inject/trampoline_blob.h'}
ENGINE = ('tracer/engine/', 'tracer/wrappers/', 'tracer/python/')
SOURCE = re.compile(r'\.(c|cc|cpp|h|hpp|S)$')
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def rules_broken(path, target):
    """Why `path` may not include `target` (both relative to the root), or None."""
    if target.startswith(ENGINE) and not path.startswith(ENGINE + ('shim/', 'tests/')):
        return 'includes an engine header (only tracer/format/ and tracer/common/ are shared)'
    if path.startswith('tools/') and target.startswith('tracer/') and \
            not target.startswith(('tracer/format/', 'tracer/common/')):
        return 'tools/ includes tracer/ beyond tracer/format/ and tracer/common/'
    if path.startswith(('shim/', 'tracer/')) and target.startswith('tools/'):
        return 'the writer side includes tools/'
    if path.startswith('tracer/format/') and not target.startswith('tracer/format/'):
        return 'tracer/format/ includes outside the format'
    if path.startswith('tracer/common/') and not target.startswith(('tracer/format/', 'tracer/common/')):
        return 'tracer/common/ includes beyond tracer/format/ and tracer/common/'
    if path.startswith('tools/report/') and target.startswith('tools/render/'):
        return 'the report model includes a renderer (tools/render/ reads tools/report/, not back)'
    if path.startswith('tools/report/') and target.startswith('tools/machine/'):
        return 'the report model includes a machine probe (commands gather the facts and pass them in)'
    if path.startswith('tools/') and target.startswith('tools/commands/') and \
            not path.startswith(('tools/cli/', 'tools/commands/', 'tools/export/')):
        return 'a part below the commands includes tools/commands/'
    return None


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), '..', '..'))
    problems = []
    checked = 0
    for part in ('shim', 'tracer', 'tools', 'tests'):
        for folder, _, names in os.walk(os.path.join(root, part)):
            for name in sorted(names):
                if not SOURCE.search(name):
                    continue
                full = os.path.join(folder, name)
                path = os.path.relpath(full, root)
                with open(full, encoding='utf-8', errors='replace') as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        checked += 1
                        target = m.group(1)
                        if target not in GENERATED and not os.path.isfile(os.path.join(root, target)):
                            problems.append(f'{path}:{number}: "{target}" is not a path from the '
                                            'repository root')
                            continue
                        why = rules_broken(path, target)
                        if why:
                            problems.append(f'{path}:{number}: "{target}": {why}')
    for p in problems:
        print(p)
    if checked == 0:
        print('no include found: wrong root?', root)
        return 1
    print(f'{checked} includes checked, {len(problems)} problems')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
