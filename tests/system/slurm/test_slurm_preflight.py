# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input to the cmc.mvc.slurm role is refused by its argument spec or preflight, naming the field, before any
change: one check-mode ansible-playbook run against localhost, no containers. The key never shows in the output."""
from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))

NODES = [
    {"name": "fe", "addr": "10.9.0.1", "memory_mb": 256, "site": "a", "compute": False},
    {"name": "c0", "addr": "10.9.0.2", "memory_mb": 256, "site": "a"},
    {"name": "c1", "addr": "10.9.0.3", "memory_mb": 256, "site": "b-2"},
]


def nodes(index, **patch):
    out = [dict(n) for n in NODES]
    out[index].update(patch)
    return out


# (case id, variables over the good ones, text that the error must contain)
CASES = [
    ("key-short", {"slurm_munge_key": base64.b64encode(b"x" * 31).decode()}, "slurm_munge_key"),
    ("key-not-base64", {"slurm_munge_key": "not base64 at all!"}, "slurm_munge_key"),
    ("key-empty", {"slurm_munge_key": ""}, "slurm_munge_key"),
    ("no-compute", {"slurm_nodes": nodes(1, compute=False)[:2]}, "compute: true"),
    ("controller-unknown", {"slurm_controller": "head"}, "slurm_controller"),
    ("controller-hostname", {"slurm_node_name": "fe"}, "slurm_controller"),
    ("node-name-unknown", {"slurm_node_name": "c9"}, "slurm_node_name"),
    ("duplicate-name", {"slurm_nodes": nodes(2, name="c0")}, "unique; used more than once: c0"),
    ("duplicate-addr", {"slurm_nodes": nodes(2, addr="10.9.0.2")}, "used more than once: 10.9.0.2"),
    ("site-all", {"slurm_nodes": nodes(1, site="all")}, "slurm_nodes[1].site"),
    ("site-space", {"slurm_nodes": nodes(2, site="site b")}, "slurm_nodes[2].site"),
    ("memory-low", {"slurm_nodes": nodes(2, memory_mb=96)},
     "slurm_nodes[2].memory_mb: 96 is below slurm_min_memory_mb"),
    ("cpus-zero", {"slurm_nodes": nodes(1, cpus=0)}, "slurm_nodes[1].cpus"),
    ("bad-node-name", {"slurm_nodes": nodes(1, name="c 0")}, "slurm_nodes[1].name"),
    ("addr-missing", {"slurm_nodes": [{k: v for k, v in n.items() if k != "addr"} for n in NODES]}, "addr"),
    ("cluster-name", {"slurm_cluster_name": "Bad Name"}, "slurm_cluster_name"),
]

# One inventory host per case, all on localhost, so that the cases run side by side (forks) in one play.
PLAYBOOK = """---
- name: Bad input to cmc.mvc.slurm
  hosts: all
  connection: local
  gather_facts: false
  vars_files: [good.yml]
  tasks:
    - name: The role with this host's bad value
      block:
        - name: Run the role
          ansible.builtin.include_role:
            name: cmc.mvc.slurm
          vars:
            slurm_cluster_name: "{{ case.slurm_cluster_name | default(good.slurm_cluster_name) }}"
            slurm_controller: "{{ case.slurm_controller | default(good.slurm_controller) }}"
            slurm_nodes: "{{ case.slurm_nodes | default(good.slurm_nodes) }}"
            slurm_node_name: "{{ case.slurm_node_name | default(good.slurm_node_name) }}"
            slurm_munge_key: "{{ case.slurm_munge_key if 'slurm_munge_key' in case else good_key }}"
        - name: Not reached
          ansible.builtin.fail:
            msg: "MVC_SLURM_CASE {{ inventory_hostname }} ACCEPTED"
      rescue:
        - name: Report
          ansible.builtin.debug:
            msg: "MVC_SLURM_CASE {{ inventory_hostname }} REFUSED {{ ansible_failed_result.msg | to_json }}"
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("slurm-preflight")
    key = base64.b64encode(secrets.token_bytes(64)).decode()
    good = {"good_key": key, "good": {"slurm_cluster_name": "t1", "slurm_controller": "fe", "slurm_nodes": NODES,
                                      "slurm_node_name": "c0"}}
    (d / "good.yml").write_text(json.dumps(good))
    os.chmod(d / "good.yml", 0o600)
    (d / "cases.json").write_text(json.dumps({"all": {"hosts": {c[0]: {"case": c[1]} for c in CASES}}}))
    (d / "play.yml").write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_VERBOSITY="3", ANSIBLE_NOCOLOR="1",
               PATH=os.path.join(TOP, ".venv", "bin") + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(TOP, ".build", "collections"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)  # not discovery: a pyenv shim may answer first
    p = subprocess.run(["ansible-playbook", "--check", "--forks", str(len(CASES)), "-i", str(d / "cases.json"),
                        str(d / "play.yml")], cwd=d, env=env,
                       capture_output=True, text=True, timeout=600, check=False)
    return p, key


def test_run_succeeds_and_changes_nothing(run):
    p = run[0]
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    recap = re.findall(r"^(\S+)\s*: ok=\d+\s+changed=(\d+) .*failed=(\d+)", p.stdout, re.M)
    assert sorted(r[0] for r in recap) == sorted(c[0] for c in CASES), p.stdout[-2000:]
    assert all(r[1] == "0" and r[2] == "0" for r in recap), p.stdout[-2000:]


def test_key_never_in_output(run):
    p, key = run
    assert "ESTABLISH LOCAL CONNECTION" in p.stdout or "EXEC /bin/sh" in p.stdout, "the run is not at -vvv"
    assert (p.stdout + p.stderr).count(key) == 0, "the munge key appears in the output"


@pytest.mark.parametrize("case_id,field", [(c[0], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_refused_naming_the_field(run, case_id, field):
    p = run[0]
    m = re.search(r"MVC_SLURM_CASE %s (REFUSED|ACCEPTED)(.*)" % re.escape(case_id), p.stdout)
    assert m, "case %s did not run:\n%s" % (case_id, p.stdout[-3000:])
    assert m.group(1) == "REFUSED", "%s was accepted" % case_id
    assert field in m.group(2), "%s: the error does not name %r: %s" % (case_id, field, m.group(2))
