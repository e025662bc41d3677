# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the Molecule scenario extensions/molecule/xen_lab on the lab (issue 7): bad input refused with nothing
half-made, two domains at two NAT sites (converge, idempotence), ping across the overlay, SSH as alice with her
key, the requested package, and a destroy that leaves nothing. Prints how long each step took.

The lab comes from the session fixture ``lab``; this file sorts before test_lab.py, whose last test takes the
lab down."""
from __future__ import annotations

import os
import re
import secrets
import subprocess
import time

from lab_ansible import MITOGEN, ansible_env  # pylint: disable=import-error  # tests/system/lab is on sys.path

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
EXTENSIONS = os.path.join(TOP, "extensions")
STEPS = ("destroy", "syntax", "create", "prepare", "converge", "idempotence", "verify")
# Only the log lines: at its end Molecule repeats every step without the level.
STEP_LINE = re.compile(r"^(?:INFO|WARNING|ERROR|CRITICAL)\s+xen_lab ➜ (\w+): (Executing|Executed: (\w+))")


def test_xen_lab_scenario(lab, tmp_path):
    assert lab["up"]
    key = secrets.token_urlsafe(18)
    log = tmp_path / "molecule.log"
    times, started, results = {}, {}, []
    t0 = time.monotonic()
    with open(log, "w") as f:
        # tools/env.sh: the venv and this collection on the paths, as for every other stage.
        proc = subprocess.Popen(["bash", "-c", '. "$1/tools/env.sh" && exec molecule test -s xen_lab', "bash", TOP],
                                cwd=EXTENSIONS, env=dict(ansible_env(mitogen=MITOGEN), MVC_XEN_LAB_N2N_KEY=key),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            for line in proc.stdout:
                f.write(line)
                m = STEP_LINE.search(re.sub(r"\x1b\[[0-9;]*m", "", line))
                if m and m.group(2) == "Executing":
                    started[m.group(1)] = time.monotonic()
                elif m:
                    step = m.group(1)
                    times.setdefault(step, []).append(time.monotonic() - started.get(step, t0))
                    results.append((step, m.group(3)))
            proc.wait(timeout=3600)
        finally:
            if proc.poll() is None:
                proc.kill()  # our own child, by its PID
                proc.wait()
    elapsed = time.monotonic() - t0
    text = re.sub(r"\x1b\[[0-9;]*m", "", log.read_text())
    print("molecule test -s xen_lab: rc=%d in %.0f s" % (proc.returncode, elapsed))
    for step, secs in times.items():
        print("  %-12s %s" % (step, " + ".join("%.0f s" % s for s in secs)))
    assert proc.returncode == 0, "molecule failed; log tail:\n" + "\n".join(text.splitlines()[-120:])
    for step in STEPS:
        assert (step, "Successful") in results, "step %s did not succeed: %s" % (step, results)
    assert [r for r in results if r[0] == "destroy"] == [("destroy", "Successful")] * 2, results
    # The scenario's checks ran: every bad input was refused, alice got through, nothing was left.
    for task in ("The error names the variable and its value", "Assert what alice saw", "Nothing is left",
                 "Nothing of molx-bad exists"):
        assert "TASK [%s]" % task in text, task
    assert len(re.findall(r"TASK \[The error names the variable and its value\]", text)) == 5
    assert key not in text, "the overlay key appears in the Molecule log"
