# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cmc.mvc.plugins.filter.status import mvc_node_status, mvc_topology_dot

PLAN = {
    "cluster": {"name": "lab1"},
    "nodes": [
        {"name": "lab1-frontend", "role": "frontend", "site": "s1", "dom0": "vmc.s1", "overlay_ip": "10.200.0.1", "status": "deployed"},
        {"name": "lab1-compute-0", "role": "compute", "site": "s2", "dom0": "vmc.s2", "overlay_ip": "10.200.0.2", "status": "deployed"},
    ],
    "edges": [{"dom0": "vmc.s1", "overlay_ip": "10.200.0.254"}, {"dom0": "vmc.s2", "overlay_ip": "10.200.0.253"}],
}
RUNNING = {"state": "running"}


def test_rows_join_domain_edge_and_reachability():
    live = {
        "vmc.s1": {"domains": {"lab1-frontend": RUNNING}, "edges": [{"cluster": "lab1", "running": True}],
                   "reached": ["10.200.0.1", "10.200.0.2"]},
        "vmc.s2": {"domains": {}, "edges": [{"cluster": "lab1", "running": False}], "reached": ["10.200.0.1"]},
    }
    rows = mvc_node_status([PLAN], live)
    front, compute = rows
    assert front["domain"] == "running" and front["edge_up"] and front["reached_from"] == ["vmc.s1", "vmc.s2"]
    assert compute["domain"] == "not running" and not compute["edge_up"]
    assert compute["reachable"] and compute["reached_from"] == ["vmc.s1"]
    assert compute["checked_from"] == ["vmc.s1", "vmc.s2"]


def test_an_unreachable_dom0_is_reported_not_guessed():
    rows = mvc_node_status([PLAN], {"vmc.s1": {"domains": {"lab1-frontend": RUNNING}, "edges": [], "reached": []}})
    assert rows[1]["domain"].startswith("unknown") and not rows[1]["reachable"]
    assert rows[1]["checked_from"] == ["vmc.s1"]


def test_dot_draws_sites_containers_domains_and_overlay():
    live = {"vmc.s1": {"domains": {"lab1-frontend": RUNNING}, "edges": [{"cluster": "lab1", "running": True}],
                       "reached": ["10.200.0.1"]}}
    dot = mvc_topology_dot(mvc_node_status([PLAN], live), "198.51.100.2:7654")
    assert dot.startswith("digraph mvc {") and dot.rstrip().endswith("}")
    assert 'label="site s1"' in dot and 'label="site s2"' in dot
    assert '"dom0:vmc.s1" -> "vm:lab1-frontend"' in dot
    assert '"vm:lab1-frontend" [shape=box, style=rounded, color=darkgreen' in dot
    assert '"vm:lab1-compute-0" [shape=box, style=rounded, color=red3' in dot
    assert '"dom0:vmc.s1" -> "overlay:lab1" [dir=both, style=dashed, color=blue, label="edge up"]' in dot
    assert '"dom0:vmc.s2" -> "overlay:lab1" [dir=both, style=dashed, color=red3, label="edge down"]' in dot
    assert '"supernode" [shape=diamond' in dot


def test_bad_input_is_an_error():
    with pytest.raises(AnsibleFilterError):
        mvc_node_status({}, {})
    with pytest.raises(AnsibleFilterError):
        mvc_topology_dot("x")


SINFO_22 = {"nodes": [{"name": "lab1-compute-0", "state": "idle", "state_flags": ["DRAIN"], "reason": "munge: no credential"}]}
SINFO_23 = {"sinfo": [{"node": {"state": ["IDLE"]}, "nodes": {"nodes": ["lab1-compute-0"]}, "reason": {"description": ""}}]}
LIVE = {"vmc.s1": {"domains": {"lab1-frontend": RUNNING}, "edges": [{"cluster": "lab1", "running": True}],
                   "reached": ["10.200.0.1", "10.200.0.2"]},
        "vmc.s2": {"domains": {"lab1-compute-0": RUNNING}, "edges": [{"cluster": "lab1", "running": True}],
                   "reached": ["10.200.0.1", "10.200.0.2"]}}


def test_slurm_state_and_reason_of_each_compute_node():
    rows = mvc_node_status([PLAN], LIVE, {"lab1": SINFO_22})
    assert rows[0]["slurm"] is None  # the frontend runs no slurmd
    assert rows[1]["slurm"] == "idle+drain" and rows[1]["slurm_reason"] == "munge: no credential"
    rows = mvc_node_status([PLAN], LIVE, {"lab1": SINFO_23})
    assert rows[1]["slurm"] == "idle" and rows[1]["slurm_reason"] == ""


def test_slurm_unknown_when_the_frontend_did_not_answer_and_absent_without_slurm():
    assert mvc_node_status([PLAN], LIVE, {"lab1": None})[1]["slurm"] == "unknown (frontend unreachable)"
    assert mvc_node_status([PLAN], LIVE, {"lab1": {"nodes": []}})[1]["slurm"] == "not in slurm"
    assert mvc_node_status([PLAN], LIVE)[1]["slurm"] is None
    # The plan says Slurm, but its frontend was not asked (it answered no ping).
    with_slurm = dict(PLAN, cluster={"name": "lab1", "services": {"scheduler": "slurm"}})
    assert mvc_node_status([with_slurm], LIVE, {})[1]["slurm"] == "unknown (frontend unreachable)"
    assert mvc_node_status([with_slurm], LIVE)[0]["slurm"] is None  # the frontend runs no slurmd


def test_dot_shows_a_drained_node_apart_from_an_idle_one():
    drained = mvc_topology_dot(mvc_node_status([PLAN], LIVE, {"lab1": SINFO_22}))
    assert '"vm:lab1-compute-0" [shape=box, style=rounded, color=darkorange' in drained
    assert "slurm idle+drain (munge: no credential)" in drained
    idle = mvc_topology_dot(mvc_node_status([PLAN], LIVE, {"lab1": SINFO_23}))
    assert '"vm:lab1-compute-0" [shape=box, style=rounded, color=darkgreen' in idle and "slurm idle" in idle


def test_bad_sinfo_is_an_error():
    with pytest.raises(AnsibleFilterError, match="sinfo --json"):
        mvc_node_status([PLAN], LIVE, {"lab1": "not json"})
    with pytest.raises(AnsibleFilterError):
        mvc_node_status([PLAN], LIVE, ["lab1"])
