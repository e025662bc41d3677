# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input to the cmc.mvc.chrony role is refused by its argument spec or preflight, naming the field, before any
change; good input passes: one check-mode ansible-playbook run against localhost, one inventory host per case, no
containers (the role on real nodes is tested by the slurm_cluster Molecule scenario and on the lab)."""
from __future__ import annotations

import re

import pytest

from role_input import case_playbook, check_case, run_cases  # pylint: disable=import-error  # tests/system is on sys.path

MISSING = object()
GOOD = {"chrony_server": "fe", "chrony_network": "10.0.77.0/24", "chrony_server_addr": "10.0.77.1"}

# (case id, entry point, role variables, text that the error must contain; None: accepted). The accepted cases run
# the preflight only: the rest would ask this machine's systemd for a chrony unit.
CASES = [
    ("good-server", "preflight", {"chrony_node_name": "fe", "chrony_upstream": ["ntp.example.org", "192.0.2.123"]}, None),
    ("good-client", "preflight", {"chrony_node_name": "c0", "chrony_local_stratum": 15, "chrony_wait_timeout": 0}, None),
    ("missing-server", "main", {"chrony_server": MISSING}, "chrony_server"),
    ("missing-network", "main", {"chrony_network": MISSING}, "chrony_network"),
    ("empty-server", "main", {"chrony_server": " "}, "chrony_server: empty"),
    ("network-no-prefix", "main", {"chrony_network": "10.0.77.0"}, "chrony_network"),
    ("network-octet", "main", {"chrony_network": "10.0.777.0/24"}, "chrony_network"),
    ("network-prefix-33", "main", {"chrony_network": "10.0.77.0/33"}, "chrony_network"),
    ("stratum-0", "main", {"chrony_local_stratum": 0}, "chrony_local_stratum: 0"),
    ("stratum-16", "main", {"chrony_local_stratum": 16}, "chrony_local_stratum: 16"),
    ("wait-negative", "main", {"chrony_wait_timeout": -1}, "chrony_wait_timeout: -1"),
    ("upstream-two-words", "main", {"chrony_upstream": ["pool.example.org iburst"]}, "chrony_upstream[0]"),
    ("client-addr", "main", {"chrony_node_name": "c0", "chrony_server_addr": "10.0.77.1; rm -rf /"},
     "chrony_server_addr"),
    ("control-clock-word", "main", {"chrony_control_clock": "sometimes"}, "chrony_control_clock"),
]

# Two includes: one include_role with a per-host tasks_from runs the first host's entry point for all.
PLAYBOOK = case_playbook("cmc.mvc.chrony", "MVC_CHRONY_CASE", """
        - name: Run the role's preflight
          ansible.builtin.include_role:
            name: cmc.mvc.chrony
            tasks_from: preflight
          when: entry == 'preflight'
        - name: Run the role
          ansible.builtin.include_role:
            name: cmc.mvc.chrony
          vars:
            chrony_install_packages: false
          when: entry == 'main'
""")


def host_vars(case):
    out = dict(GOOD, chrony_node_name="fe", entry=case[1])
    out.update(case[2])
    return dict((k, v) for k, v in out.items() if v is not MISSING)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("chrony-preflight"), {c[0]: host_vars(c) for c in CASES}, PLAYBOOK)


def test_run_succeeds_and_changes_nothing(run):
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    recap = dict(re.findall(r"^(\S+)\s*: ok=\d+\s+changed=(\d+) ", run.stdout, re.M))
    assert sorted(recap) == sorted(c[0] for c in CASES), run.stdout[-2000:]
    assert set(recap.values()) == {"0"}, recap


@pytest.mark.parametrize("case_id,field", [(c[0], c[3]) for c in CASES], ids=[c[0] for c in CASES])
def test_refused_naming_the_field(run, case_id, field):
    check_case(run.stdout, "MVC_CHRONY_CASE", case_id, field)
