# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs a role's input cases for the system tests: one check-mode ansible-playbook run against localhost, one
inventory host per case, no containers (tests/system is on sys.path: its conftest)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


CASE_PLAYBOOK = """---
- name: Input to %(role)s
  hosts: all
  connection: local
  gather_facts: false
  tasks:
    - name: The role with this host's values
      block:
%(run)s
        - name: Accepted
          ansible.builtin.debug:
            msg: "%(marker)s {{ inventory_hostname }} ACCEPTED"
      rescue:
        - name: Report
          ansible.builtin.debug:
            msg: "%(marker)s {{ inventory_hostname }} REFUSED {{ ansible_failed_result.msg | to_json }}"
"""


def case_playbook(role, marker, run):
    """A playbook for ``run_cases``: on every case host, the tasks ``run`` (YAML list items indented by 8 spaces,
    which run ``role``), then ``<marker> <case> ACCEPTED``; or ``<marker> <case> REFUSED <error>`` when one failed."""
    return CASE_PLAYBOOK % {"role": role, "marker": marker, "run": run.rstrip("\n")}


def run_cases(d, hosts, playbook):
    """Writes ``hosts`` (case id -> its variables) and ``playbook`` into directory ``d`` and runs the playbook there
    with --check --diff, a fork per case. Returns the CompletedProcess (stdout and stderr as text)."""
    (d / "cases.json").write_text(json.dumps({"all": {"hosts": hosts}}))
    (d / "play.yml").write_text(playbook)
    env = dict(os.environ, ANSIBLE_NOCOLOR="1",
               PATH=os.path.join(TOP, ".venv", "bin") + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(TOP, ".build", "collections"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)  # not discovery: a pyenv shim may answer first
    return subprocess.run(["ansible-playbook", "--check", "--diff", "--forks", str(len(hosts)), "-i",
                           str(d / "cases.json"), str(d / "play.yml")],
                          cwd=d, env=env, capture_output=True, text=True, timeout=600, check=False)


def check_case(stdout, marker, case_id, field):
    """Asserts what the playbook printed for ``case_id`` on its ``<marker> <case> REFUSED|ACCEPTED ...`` line:
    accepted when ``field`` is None, else refused with an error that contains ``field``."""
    m = re.search(r"%s %s (REFUSED|ACCEPTED)(.*)" % (re.escape(marker), re.escape(case_id)), stdout)
    assert m, "case %s did not run:\n%s" % (case_id, stdout[-3000:])
    if field is None:
        assert m.group(1) == "ACCEPTED", "%s was refused: %s" % (case_id, m.group(2))
    else:
        assert m.group(1) == "REFUSED", "%s was accepted" % case_id
        assert field in m.group(2), "%s: the error does not name %r: %s" % (case_id, field, m.group(2))
