# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters mvc_node_status and mvc_topology_dot: live state of registered clusters, and its picture."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError


def _text(value: t.Any) -> str:
    # Slurm 23.02 and later write some strings as objects ({"description": ...}) or lists.
    if isinstance(value, dict):
        value = value.get("description") or value.get("name") or ""
    if isinstance(value, list):
        return "+".join(str(v) for v in value)
    return "" if value is None else str(value)


def slurm_nodes(sinfo: t.Any) -> dict[str, dict[str, str]]:
    """Node name -> ``{state, reason}`` from the output of ``sinfo --json`` (Slurm 22.05's flat ``nodes`` list, or
    the ``sinfo`` rows of 23.02 and later). ``state`` is the base state and its flags, lower case, joined by ``+``
    (``idle``, ``idle+drain``, ``down+not_responding``)."""
    if not isinstance(sinfo, dict):
        raise AnsibleFilterError("mvc_node_status: slurm: expected the parsed output of sinfo --json, got %s"
                                 % type(sinfo).__name__)
    out: dict[str, dict[str, str]] = {}
    for node in sinfo.get("nodes") or []:
        state = node.get("state")
        parts = [p.lower() for p in (state if isinstance(state, list) else [state]) if p]
        parts += [f.lower() for f in node.get("state_flags") or [] if f.lower() not in parts]
        out[str(node["name"])] = {"state": "+".join(parts) or "unknown", "reason": _text(node.get("reason"))}
    for row in sinfo.get("sinfo") or []:
        parts = [p.lower() for p in (row.get("node") or {}).get("state") or []]
        for name in (row.get("nodes") or {}).get("nodes") or []:
            out[str(name)] = {"state": "+".join(parts) or "unknown", "reason": _text(row.get("reason"))}
    return out


def mvc_node_status(clusters: t.Any, live: t.Any, slurm: t.Any = None) -> list[dict[str, t.Any]]:
    """One row per registered node: its domain's state on its Dom0, its cluster's edge there, reachability, and
    its state in the cluster's Slurm.

    ``live`` maps each Dom0 to ``{domains: xl_info.domains, edges: n2n_info.edges, reached: [overlay IPs that
    answered a ping from it]}``; a Dom0 missing from it was unreachable. ``slurm`` maps the name of each cluster
    with Slurm to the parsed output of ``sinfo --json`` on its frontend, or to None when that did not answer; a
    cluster whose plan has ``services.scheduler: slurm`` and is missing from it was not reached.
    """
    if not isinstance(clusters, list) or not isinstance(live, dict) or not isinstance(slurm or {}, dict):
        raise AnsibleFilterError("mvc_node_status: expected a list of cluster plans, a mapping of Dom0 states and "
                                 "a mapping of clusters to sinfo output")
    rows = []
    for plan in clusters:
        name = plan["cluster"]["name"]
        # A cluster whose plan says Slurm but that is missing from ``slurm``: its frontend was not reached.
        in_slurm = name in (slurm or {}) or (plan["cluster"].get("services") or {}).get("scheduler") == "slurm"
        states = slurm_nodes(slurm[name]) if (slurm or {}).get(name) is not None else None
        for node in plan["nodes"]:
            dom0 = live.get(node["dom0"])
            if dom0 is None:
                domain, edge_up = "unknown (Dom0 unreachable)", False
            else:
                domain = (dom0.get("domains") or {}).get(node["name"], {}).get("state", "not running")
                edge_up = any(e.get("cluster") == name and e.get("running") for e in dom0.get("edges") or [])
            checked = sorted(h for h, state in live.items()
                             if any(e["dom0"] == h for e in plan["edges"]))
            reached = sorted(h for h in checked if node["overlay_ip"] in (live[h].get("reached") or []))
            rows.append(dict(cluster=name, name=node["name"], role=node["role"], site=node["site"],
                             dom0=node["dom0"], overlay_ip=node["overlay_ip"], status=node.get("status"),
                             domain=domain, edge_up=edge_up, reachable=bool(reached), reached_from=reached,
                             checked_from=checked, **_slurm_row(node, in_slurm, states)))
    return rows


def _slurm_row(node: t.Mapping[str, t.Any], in_slurm: bool, states: dict[str, dict[str, str]] | None) -> dict[str, t.Any]:
    if not in_slurm or node["role"] != "compute":
        return {"slurm": None, "slurm_reason": ""}
    if states is None:
        return {"slurm": "unknown (frontend unreachable)", "slurm_reason": ""}
    got = states.get(node["name"], {"state": "not in slurm", "reason": ""})
    return {"slurm": got["state"], "slurm_reason": got["reason"]}


def _slurm_ok(row: t.Mapping[str, t.Any]) -> bool:
    state = row.get("slurm")
    return state is None or (state.split("+")[0] in ("idle", "mixed", "allocated", "completing")
                             and not any(f in state.split("+") for f in ("drain", "not_responding")))


def _q(text: t.Any) -> str:
    return '"%s"' % str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def mvc_topology_dot(rows: t.Any, supernode: str | None = None) -> str:
    """Graphviz source: sites, then VM containers (Dom0s), then domains; the overlay as dashed edges."""
    if not isinstance(rows, list):
        raise AnsibleFilterError("mvc_topology_dot: expected the rows of mvc_node_status")
    out = ["digraph mvc {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];',
           '  edge [fontname="Helvetica", fontsize=9];']
    sites: dict[str, dict[str, list[dict[str, t.Any]]]] = {}
    for row in rows:
        sites.setdefault(row["site"], {}).setdefault(row["dom0"], []).append(row)
    for i, (site, dom0s) in enumerate(sorted(sites.items())):
        out.append("  subgraph cluster_site_%d {" % i)
        out.append("    label=%s; style=rounded; color=gray40;" % _q("site " + site))
        for dom0, nodes in sorted(dom0s.items()):
            out.append("    %s [shape=box3d, label=%s];" % (_q("dom0:" + dom0), _q(dom0 + "\nVM container")))
            for row in nodes:
                color = "darkgreen" if row["domain"] == "running" and row["reachable"] else "red3"
                label = "%s\n%s %s\n%s" % (row["name"], row["role"], row["overlay_ip"], row["domain"])
                if row.get("slurm") is not None:
                    label += "\nslurm " + row["slurm"] + (" (%s)" % row["slurm_reason"] if row["slurm_reason"] else "")
                    if color == "darkgreen" and not _slurm_ok(row):
                        color = "darkorange"
                out.append("    %s [shape=box, style=rounded, color=%s, label=%s];" % (_q("vm:" + row["name"]), color, _q(label)))
                out.append("    %s -> %s [arrowhead=none];" % (_q("dom0:" + dom0), _q("vm:" + row["name"])))
        out.append("  }")
    clusters = sorted(set(r["cluster"] for r in rows))
    for cluster in clusters:
        overlay = _q("overlay:" + cluster)
        out.append("  %s [shape=ellipse, style=dashed, label=%s];" % (overlay, _q("N2N overlay " + cluster)))
        cluster_dom0s = sorted(set(r["dom0"] for r in rows if r["cluster"] == cluster))
        for dom0 in cluster_dom0s:
            up = any(r["edge_up"] for r in rows if r["cluster"] == cluster and r["dom0"] == dom0)
            out.append("  %s -> %s [dir=both, style=dashed, color=%s, label=%s];"
                       % (_q("dom0:" + dom0), overlay, "blue" if up else "red3", _q("edge up" if up else "edge down")))
        if supernode:
            out.append("  %s -> %s [style=dotted, arrowhead=none];" % (overlay, _q("supernode")))
    if supernode:
        out.append("  %s [shape=diamond, label=%s];" % (_q("supernode"), _q("supernode\n" + supernode)))
    out.append("}")
    return "\n".join(out) + "\n"


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"mvc_node_status": mvc_node_status, "mvc_topology_dot": mvc_topology_dot}
