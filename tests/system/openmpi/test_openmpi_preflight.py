# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input to the cmc.mvc.openmpi role is refused by its argument spec or preflight, naming the field, before any
change; good input passes: one check-mode ansible-playbook run against localhost, one inventory host per case, no
containers (the role on real nodes is tested by the slurm_cluster Molecule scenario)."""
from __future__ import annotations

import ipaddress
import re
import subprocess

import pytest

from role_input import case_playbook, check_case, run_cases  # pylint: disable=import-error  # tests/system is on sys.path

NO_NETWORK = object()


def absent_network():
    """A /24 that holds none of this machine's IPv4 addresses (the lab gives it some in the TEST-NET ranges)."""
    here = [ipaddress.ip_address(a) for a in
            re.findall(r"inet ([0-9.]+)/", subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True,
                                                          text=True, check=True).stdout)]
    for third in range(256):
        net = ipaddress.ip_network("10.254.%d.0/24" % third)
        if not any(a in net for a in here):
            return str(net)
    raise AssertionError("every 10.254.x.0/24 holds an address of this machine")


ABSENT = absent_network()

# (case id, role variables, text that the error must contain; None: accepted)
CASES = [
    ("good-loopback", {"openmpi_network": "127.0.0.0/8", "openmpi_mca_extra": {"btl_tcp_links": 2, "pml": None}},
     None),
    ("missing", {"openmpi_network": NO_NETWORK}, "openmpi_network"),
    ("no-prefix", {"openmpi_network": "10.0.77.0"}, "openmpi_network"),
    ("interface-name", {"openmpi_network": "eth0"}, "openmpi_network"),
    ("host-bits", {"openmpi_network": "127.0.0.1/8"}, "openmpi_network"),
    ("too-wide", {"openmpi_network": "0.0.0.0/0"}, "openmpi_network"),
    ("octet", {"openmpi_network": "300.0.0.0/8"}, "openmpi_network"),
    ("prefix-33", {"openmpi_network": "10.0.77.0/33"}, "openmpi_network"),
    ("not-on-this-host", {"openmpi_network": ABSENT}, "openmpi_network: %s holds no address" % ABSENT),
    ("extra-name", {"openmpi_mca_extra": {"Bad-Name": 1}}, "openmpi_mca_extra: 'Bad-Name'"),
    ("extra-newline", {"openmpi_mca_extra": {"btl": "tcp\nbtl_tcp_if_include = 0.0.0.0/0"}}, "openmpi_mca_extra.btl"),
    ("extra-list", {"openmpi_mca_extra": {"btl": ["self", "tcp"]}}, "openmpi_mca_extra.btl"),
    ("extra-empty", {"openmpi_mca_extra": {"btl": " "}}, "openmpi_mca_extra.btl"),
]

PLAYBOOK = case_playbook("cmc.mvc.openmpi", "MVC_OPENMPI_CASE", """
        - name: Run the role
          ansible.builtin.include_role:
            name: cmc.mvc.openmpi
          vars:
            openmpi_install_packages: false
            openmpi_mca_params_file: "{{ params_file }}"
""")


def host_vars(case, d):
    out = {"params_file": str(d / ("%s.conf" % case[0])), "openmpi_network": "127.0.0.0/8"}
    out.update(case[1])
    if out["openmpi_network"] is NO_NETWORK:
        del out["openmpi_network"]
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("openmpi-preflight")
    return run_cases(d, {c[0]: host_vars(c, d) for c in CASES}, PLAYBOOK), d


def test_run_succeeds_and_writes_nothing(run):
    p, d = run
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    recap = dict(re.findall(r"^(\S+)\s*: ok=\d+\s+changed=(\d+) ", p.stdout, re.M))
    assert sorted(recap) == sorted(c[0] for c in CASES), p.stdout[-2000:]
    # Check mode: the good case reports the file it would write; a refused case stops before any task that changes.
    assert {k: v for k, v in recap.items() if v != "0"} == {"good-loopback": "1"}, recap
    assert list(d.glob("*.conf")) == []


def test_good_case_file(run):
    """The diff of the good case: both includes on its network, the extra parameter added, the removed one gone."""
    text = run[0].stdout
    for line in ("+btl = self,vader,tcp", "+btl_tcp_if_include = 127.0.0.0/8", "+oob_tcp_if_include = 127.0.0.0/8",
                 "+btl_tcp_links = 2"):
        assert line in text.splitlines(), line
    assert not re.search(r"^\+pml\b", text, re.M), "pml is written despite its null value"


@pytest.mark.parametrize("case_id,field", [(c[0], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_refused_naming_the_field(run, case_id, field):
    check_case(run[0].stdout, "MVC_OPENMPI_CASE", case_id, field)
