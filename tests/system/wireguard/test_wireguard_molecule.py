# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the Molecule scenario extensions/molecule/wireguard_overlay (WireGuard hub and VXLAN edges across two NATs:
idempotence, isolation between clusters, a wrong key refused, recovery after a hub restart, removal) under mitogen,
and checks that no host's private key ever shows in the -vvv log, while its public key does."""
from __future__ import annotations

import os
import re
import subprocess
import threading

import ansible_mitogen
from molecule_scenario import run_scenario  # pylint: disable=import-error  # tests/system is on sys.path


if os.geteuid() != 0:  # podman, network namespaces: the system stage runs as root; say so instead of skipping
    raise RuntimeError("tests/system/wireguard needs root (podman, network namespaces)")

HOSTS = ("mvcwg-sn", "mvcwg-a1", "mvcwg-a2", "mvcwg-b1", "mvcwg-b2")
KEY = "/etc/wireguard/mvc/wg-mvc.key"


class KeyCollector(threading.Thread):
    """Reads each container's private and public key once they exist (made by converge, removed by side_effect),
    into memory only, so that the log can be searched for them afterwards. Nothing of a key is ever printed."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.keys = {}  # host -> (private, public)
        # Containers left by an earlier run hold other keys: only those that this run's create makes count.
        self.old = {host: self.container_id(host) for host in HOSTS}

    @staticmethod
    def container_id(host):
        proc = subprocess.run(["podman", "inspect", "-f", "{{.Id}}", host], capture_output=True, text=True, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def run(self):
        while not self.stop.is_set() and len(self.keys) < len(HOSTS):
            for host in HOSTS:
                if host in self.keys or self.container_id(host) in (None, self.old[host]):
                    continue
                proc = subprocess.run(["podman", "exec", host, "sh", "-c", "cat %s && wg pubkey < %s" % (KEY, KEY)],
                                      capture_output=True, text=True, check=False)
                lines = proc.stdout.split()
                if proc.returncode == 0 and len(lines) == 2:
                    self.keys[host] = (lines[0], lines[1])
            self.stop.wait(2)


def test_wireguard_overlay_scenario(tmp_path):
    env = dict(os.environ)
    # -vvv: module arguments, results and loop items are all in the log, where no private key may show.
    env["ANSIBLE_VERBOSITY"] = "3"
    # mitogen (docs/mitogen.md): one warm interpreter per container; the inventory then takes its podman connection.
    env["ANSIBLE_STRATEGY_PLUGINS"] = os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins", "strategy")
    env["ANSIBLE_STRATEGY"] = "mitogen_linear"
    log = tmp_path / "molecule.log"
    print("log: %s" % log)
    collector = KeyCollector()
    collector.start()
    try:
        text = run_scenario("wireguard_overlay", env, log,
                            r"built localhost/cmc-mvc-containers|is cached|topology up in|MVC_WG_RECOVERY_SECONDS")
    finally:
        collector.stop.set()
        collector.join()
    recovery = [float(x) for x in re.findall(r"MVC_WG_RECOVERY_SECONDS=([0-9.]+)", text)]
    assert len(recovery) == 2, "no recovery time in the log"
    print("WireGuard recovery after a hub restart: %.1f s (worst of %s)" % (max(recovery), recovery))
    assert "module_args" in text, "the Molecule log is not at -vvv"
    print("Molecule log at -vvv: %d bytes" % len(text))
    assert sorted(collector.keys) == sorted(HOSTS), "keys read from %s only" % sorted(collector.keys)
    # Counts only: never print a key.
    private = {host: text.count(keys[0]) for host, keys in collector.keys.items()}
    public = {host: text.count(keys[1]) for host, keys in collector.keys.items()}
    print("private key occurrences in the log: %s; public key occurrences: %s" % (private, public))
    assert not any(private.values()), "private keys appear in the Molecule log: %s" % private
    # The public keys travel through the play (facts, peers files): the log holds them, so the search above works.
    assert all(public[h] > 0 for h in ("mvcwg-sn", "mvcwg-a1", "mvcwg-b1", "mvcwg-b2")), public
