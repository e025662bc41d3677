# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared system-test fixtures.

``lab``: the multi-site Xen lab (tests/lab/mvc-lab) with 2 sites, brought up on first use in the session and
taken down at its end (also when tests fail). ``up`` is idempotent, so every test that asks for ``lab`` gets a
lab that is up, even after a test took it down. With ``MVC_LAB_KEEP=1`` a lab that is already up is reused and
left up at the end (for iterating on later issues' tests).
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MVC_LAB = os.path.join(TOP, "tests", "lab", "mvc-lab")


class Lab:
    sites = 2

    def __init__(self):
        self.keep = os.environ.get("MVC_LAB_KEEP") == "1"
        self.started_here = False
        self.last_up_output = ""

    def cli(self, *args, check=True, timeout=1800):
        p = subprocess.run([MVC_LAB] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           check=False, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("mvc-lab %s failed (%d):\n%s" % (" ".join(args), p.returncode, p.stdout[-6000:]))
        return p

    def status(self):
        p = self.cli("status", "--json", check=False)
        return json.loads(p.stdout)

    def up(self):
        st = self.status()
        if st.get("up") and len(st["sites"]) == self.sites:
            return st
        self.last_up_output = self.cli("up", "--sites", str(self.sites)).stdout
        print(self.last_up_output)
        self.started_here = True
        st = self.status()
        assert st["up"], st
        return st

    def down(self):
        return self.cli("down", timeout=300)

    def ssh_argv(self, host):
        """The argv of ``mvc-lab ssh host``, ready for a command."""
        return [MVC_LAB, "ssh", host]

    def ssh(self, host, command, check=True, timeout=300):
        p = subprocess.run(self.ssh_argv(host) + [command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           check=False, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("ssh %s %r failed (%d): %s%s" % (host, command, p.returncode, p.stdout, p.stderr))
        return p

    def vm_containers(self, st):
        return [(site, vm) for site in st["sites"] for vm in site["vms"]]


@pytest.fixture(scope="session")
def lab_session():
    if os.geteuid() != 0:  # the system stage runs as root; say so plainly instead of skipping
        raise RuntimeError("the lab needs root (network namespaces, sshd, tap devices)")
    lab = Lab()
    try:
        yield lab
    finally:
        if lab.started_here and not lab.keep:
            lab.down()


@pytest.fixture
def lab(lab_session):  # pylint: disable=redefined-outer-name
    """The status (``mvc-lab status --json``) of a lab that is up; the Lab helper is ``lab['helper']``."""
    st = lab_session.up()
    st["helper"] = lab_session
    return st
