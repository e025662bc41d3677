# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the Molecule scenario extensions/molecule/n2n_overlay (NAT topology and idempotence, isolation and wrong
key, supernode recovery, removal) and checks that the N2N keys never show in ``ps`` or in the Molecule log."""
from __future__ import annotations

import os
import re
import secrets
import subprocess
import threading

from molecule_scenario import run_scenario  # pylint: disable=import-error  # tests/system is on sys.path


if os.geteuid() != 0:  # podman, network namespaces: the system stage runs as root; say so instead of skipping
    raise RuntimeError("tests/system/n2n needs root (podman, network namespaces)")


class PsWatcher(threading.Thread):
    """Samples every process's command line on the host (containers included) while the scenario runs."""

    def __init__(self, secrets_):
        super().__init__(daemon=True)
        self.secrets = secrets_
        self.stop = threading.Event()
        self.samples = 0
        self.edge_seen = 0
        self.hits = []

    def run(self):
        while not self.stop.is_set():
            out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
            self.samples += 1
            self.edge_seen += out.count("/usr/sbin/edge ")
            for line in out.splitlines():
                if any(s in line for s in self.secrets):
                    self.hits.append(line.split()[0])  # the PID only: never print the key
            self.stop.wait(0.5)


def test_n2n_overlay_scenario(tmp_path):
    # C1, C2: the v1 clusters that run; V2, V3: the edge role renders v2 and v3 clusters in check mode (prepare.yml).
    keys = {"MVC_N2N_TEST_KEY_%s" % k: secrets.token_urlsafe(18) for k in ("C1", "C2", "V2", "V3")}
    env = dict(os.environ, **keys)
    # -vvv: module arguments, results and loop items are all in the log, where no key may show.
    env["ANSIBLE_VERBOSITY"] = "3"
    log = tmp_path / "molecule.log"
    watcher = PsWatcher(list(keys.values()))
    watcher.start()
    try:
        text = run_scenario("n2n_overlay", env, log,
                            r"built localhost/cmc-mvc-containers|is cached|topology up in|MVC_N2N_RECOVERY_SECONDS")
    finally:
        watcher.stop.set()
        watcher.join()
    recovery = [float(x) for x in re.findall(r"MVC_N2N_RECOVERY_SECONDS=([0-9.]+)", text)]
    assert len(recovery) == 2, "no recovery time in the log"
    print("N2N v1 recovery after a supernode restart: %.1f s (worst of %s)" % (max(recovery), recovery))
    # Key hygiene: the scenario's own keys are in neither the process list nor the log.
    assert watcher.samples > 10 and watcher.edge_seen > 0, "the ps watcher never saw an edge"
    assert watcher.hits == [], "a key was visible in ps for PIDs %s" % sorted(set(watcher.hits))
    assert "render-v3" in text, "the v2/v3 rendering (render_v2_v3.yml) did not run"
    assert "ESTABLISH" in text or "<mvcn2n-" in text, "the Molecule log is not at -vvv"
    print("Molecule log at -vvv: %d bytes" % len(text))
    leaks = {name: text.count(key) for name, key in keys.items()}  # counts only: never print a key
    print("key occurrences in the Molecule log: %s" % leaks)
    assert not any(leaks.values()), "keys appear in the Molecule log: %s" % leaks
