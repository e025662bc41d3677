# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing the MVC database besides allocation: a cluster's child rows, node status, and unregistering.

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.

Every function here runs inside the caller's writing transaction (``Database.run``), which holds the lock.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

from ansible_collections.cmc.mvc.plugins.module_utils import _request
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_read import (
    Plan, Row, cluster_row, comparable, edge_rows, make_plan, node_rows)
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import HAS_SQLALCHEMY, InputError, _now

if HAS_SQLALCHEMY:
    import sqlalchemy as sa

    from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import (
        T_ADDRESSES, T_CLUSTERS, T_EDGES, T_NODES, T_SUBNETS)


def cluster_status(statuses: Iterable[str]) -> str:
    """A cluster is failed if any node is, deployed when all are, else planned."""
    found = set(statuses)
    return "failed" if "failed" in found else ("deployed" if found == {"deployed"} else "planned")


def sync_children(conn: "sa.Connection", cid: int, old_nodes: List[Row], new_nodes: List[Row], old_edges: List[Row],
                  new_edges: List[Row]) -> None:
    """Make the cluster's node, edge and address rows those of ``new_nodes`` and ``new_edges``, row by row."""
    cols = ("role", "idx", "host_id", "vcpus", "memory_mb", "disk_gb", "mac", "overlay_ip", "status")
    new_by_name = dict((n["name"], n) for n in new_nodes)
    old_by_name = dict((n["name"], n) for n in old_nodes)
    gone = [o["id"] for o in old_nodes if o["name"] not in new_by_name]
    if gone:
        conn.execute(T_NODES.delete().where(T_NODES.c.id.in_(gone)))
    for n in new_nodes:
        o = old_by_name.get(n["name"])
        if o is None:
            continue
        vals = dict((k, n[k]) for k in cols if o[k] != n[k])
        if vals:
            conn.execute(T_NODES.update().where(T_NODES.c.id == o["id"]).values(**vals))
    fresh = [dict((k, n[k]) for k in cols + ("name",)) for n in new_nodes if n["name"] not in old_by_name]
    if fresh:
        conn.execute(T_NODES.insert(), [dict(f, cluster_id=cid) for f in fresh])
    new_edge = dict((e["dom0"], e) for e in new_edges)
    old_edge = dict((e["dom0"], e) for e in old_edges)
    gone = [e["id"] for d, e in old_edge.items() if d not in new_edge]
    if gone:
        conn.execute(T_EDGES.delete().where(T_EDGES.c.id.in_(gone)))
    fresh = [{"cluster_id": cid, "host_id": e["host_id"], "overlay_ip": e["overlay_ip"]}
             for d, e in new_edge.items() if d not in old_edge]
    if fresh:
        conn.execute(T_EDGES.insert(), fresh)
    old_ips = set(n["overlay_ip"] for n in old_nodes) | set(e["overlay_ip"] for e in old_edges)
    new_ips = set(n["overlay_ip"] for n in new_nodes) | set(e["overlay_ip"] for e in new_edges)
    if old_ips - new_ips:
        conn.execute(T_ADDRESSES.delete().where(T_ADDRESSES.c.cluster_id == cid,
                                                T_ADDRESSES.c.ip.in_(sorted(old_ips - new_ips))))
    if new_ips - old_ips:
        conn.execute(T_ADDRESSES.insert(), [{"cluster_id": cid, "ip": ip} for ip in sorted(new_ips - old_ips)])


def unregister(conn: "sa.Connection", name: Any) -> Optional[Plan]:
    """Remove cluster ``name`` and free its subnet, addresses, MACs and capacity. Returns its last plan or None."""
    _request.validate_name(name)
    old = cluster_row(conn, name)
    if old is None:
        return None
    plan = make_plan(old, node_rows(conn, [old["id"]]), edge_rows(conn, old["id"]))
    # Children first: not every server enforces ON DELETE CASCADE the same way.
    for table in (T_NODES, T_EDGES, T_ADDRESSES, T_SUBNETS):
        conn.execute(table.delete().where(table.c.cluster_id == old["id"]))
    conn.execute(T_CLUSTERS.delete().where(T_CLUSTERS.c.id == old["id"]))
    return plan


def mark_deployed(conn: "sa.Connection", name: Any, nodes: Optional[List[str]] = None, field: str = "nodes",
                  missing_ok: bool = False) -> Optional[Dict[str, Any]]:
    """Mark ``nodes`` (all of them when None) of the registered cluster ``name`` deployed; nothing else.

    Neither the request nor the VM containers are read again: no node moves and no allocation changes. The
    cluster's status follows its nodes'. Returns {"changed", "plan", "before", "after"} as register() does, or
    None for a cluster that is not registered when ``missing_ok``.
    """
    _request.validate_name(name)
    old = cluster_row(conn, name)
    if old is None:
        if missing_ok:
            return None
        raise InputError("request.name", "cluster %s is not registered; register it first (state=present)" % name)
    old_nodes = node_rows(conn, [old["id"]])
    old_edges = edge_rows(conn, old["id"])
    names = set(n["name"] for n in old_nodes)
    for i, node in enumerate(nodes or []):
        if node not in names:
            raise InputError("%s[%d]" % (field, i), "%r is no node of cluster %s" % (node, name))
    marked = set(names if nodes is None else nodes)
    new_nodes = [dict(n, status="deployed") if n["name"] in marked else n for n in old_nodes]
    status = cluster_status(n["status"] for n in new_nodes)
    before = make_plan(old, old_nodes, old_edges)
    after = make_plan(dict(old, status=status), new_nodes, old_edges)
    changed = comparable(before) != comparable(after)
    todo = sorted(n["id"] for n in old_nodes if n["name"] in marked and n["status"] != "deployed")
    if todo:
        conn.execute(T_NODES.update().where(T_NODES.c.id.in_(todo)).values(status="deployed"))
    if status != old["status"]:
        conn.execute(T_CLUSTERS.update().where(T_CLUSTERS.c.id == old["id"]).values(status=status, updated_at=_now()))
    return {"changed": changed, "plan": after, "before": comparable(before), "after": comparable(after)}
