#!/usr/bin/env python3
"""check_includes.py's rules, each shown on a small tree made for it: the include-graph test over
the real tree can only fail once someone breaks a rule, so this says that it would.

  test_check_includes.py rules
"""
import os
import subprocess
import sys

from vdsotrace_test import check, main

CHECKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'check_includes.py')

# (file, the file it includes, what check_includes.py must say; None: nothing).
CASES = [
    ('tools/report/report_model.cpp', 'tools/render/report_output.h',
     'the report model includes a renderer (tools/render/ reads tools/report/, not back)'),
    ('tools/render/report_text.cpp', 'tools/report/report_model.h', None),
    ('tools/report/report_model.cpp', 'tools/machine/gather_machine_facts.h',
     'the report model includes a machine probe (commands gather the facts and pass them in)'),
    ('tools/commands/cmd_report.cpp', 'tools/machine/gather_machine_facts.h', None),
    ('tools/render/stack_export.h', 'tools/commands/commands.h', 'a part below the commands includes tools/commands/'),
    ('tools/cli/main.cpp', 'tools/commands/commands.h', None),
    ('tools/commands/cmd_report.cpp', 'tracer/engine/recorder.h',
     'includes an engine header (only tracer/format/ and tracer/common/ are shared)'),
    ('tools/commands/cmd_run.cpp', 'tracer/common/process_info.h', None),
    ('tracer/format/segment_format.h', 'tracer/common/text_util.h', 'tracer/format/ includes outside the format'),
    ('shim/entry.cpp', 'tools/render/report_output.h', 'the writer side includes tools/'),
]


def make_tree(root, including, included):
    for path in (including, included):
        os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
    with open(os.path.join(root, included), 'w') as f:
        f.write('#pragma once\n')
    with open(os.path.join(root, including), 'w') as f:
        f.write(f'// one include\n#include "{included}"\n')


def t_rules(tmp):
    for number, (including, included, why) in enumerate(CASES):
        root = os.path.join(tmp, str(number))
        make_tree(root, including, included)
        r = subprocess.run([sys.executable, CHECKER, root], capture_output=True, text=True)
        if why is None:
            check(r.returncode == 0 and r.stdout == '1 includes checked, 0 problems\n',
                  f'{including} may include {included}', f'exit {r.returncode}, {r.stdout!r}')
        else:
            expected = f'{including}:2: "{included}": {why}\n1 includes checked, 1 problems\n'
            check(r.returncode == 1 and r.stdout == expected,
                  f'{including} may not include {included}', f'exit {r.returncode}, {r.stdout!r}')


if __name__ == '__main__':
    sys.exit(main(globals()))
