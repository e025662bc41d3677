# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs one Molecule scenario of extensions/ for the system tests (tests/system is on sys.path: its conftest)."""
from __future__ import annotations

import os
import re
import subprocess
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXTENSIONS = os.path.join(TOP, "extensions")
STEPS = ("create", "prepare", "converge", "idempotence", "verify", "side_effect")


def run_scenario(scenario, env, log, show):
    """``molecule test -s scenario`` with its output in ``log``; prints its time and the lines matching ``show``,
    asserts that it passed and ran every step of STEPS. Returns the log's text without colours."""
    env = dict(env, PATH=os.path.join(TOP, ".venv", "bin") + os.pathsep + env.get("PATH", ""))
    t0 = time.monotonic()
    with open(log, "w") as f:
        proc = subprocess.run(["molecule", "test", "-s", scenario], cwd=EXTENSIONS, env=env,
                              stdout=f, stderr=subprocess.STDOUT, timeout=900, check=False)
    text = re.sub(r"\x1b\[[0-9;]*m", "", log.read_text())
    print("molecule test -s %s: rc=%d in %.0fs" % (scenario, proc.returncode, time.monotonic() - t0))
    for line in text.splitlines():
        if re.search(show, line):
            print(line.strip(" │"))
    assert proc.returncode == 0, "molecule failed; log tail:\n" + "\n".join(text.splitlines()[-80:])
    for step in STEPS:
        assert re.search(r"%s ➜ %s: Executed: Successful" % (scenario, step), text), step
    return text
