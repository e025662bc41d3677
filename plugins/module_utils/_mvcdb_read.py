# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the MVC database: rows of hosts, clusters, nodes and edges, and the plan they make.

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.

Nothing here writes; vcluster_info and the vcluster inventory plugin use only this (and ``_mvcdb_keys.read_key``,
``read_munge_key``). The columns read here are named, so a database not yet migrated is read as well.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Optional

from ansible_collections.cmc.mvc.plugins.module_utils import _addressing as addr
from ansible_collections.cmc.mvc.plugins.module_utils import _n2n
from ansible_collections.cmc.mvc.plugins.module_utils import _request
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import HAS_SQLALCHEMY, has_column, natural_key

if HAS_SQLALCHEMY:
    import sqlalchemy as sa

    from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import (
        T_CLUSTERS, T_EDGES, T_HOSTS, T_NODES, T_SITES, T_SUBNETS)

Row = Dict[str, Any]
Plan = Dict[str, Any]


def host_rows(conn: "sa.Connection") -> List[Row]:
    rows = conn.execute(sa.select(T_HOSTS, T_SITES.c.name.label("site")).join(
        T_SITES, T_SITES.c.id == T_HOSTS.c.site_id)).mappings().all()
    return sorted((dict(r) for r in rows), key=lambda h: (h["site"], natural_key(h["name"])))


def cluster_row(conn: "sa.Connection", name: str) -> Optional[Row]:
    row = conn.execute(sa.select(T_CLUSTERS, T_SUBNETS.c.subnet).join(
        T_SUBNETS, T_SUBNETS.c.cluster_id == T_CLUSTERS.c.id, isouter=True).where(
        T_CLUSTERS.c.name == name)).mappings().first()
    return dict(row) if row else None


def node_rows(conn: "sa.Connection", cluster_ids: Optional[List[int]] = None) -> List[Row]:
    q = sa.select(T_NODES, T_HOSTS.c.name.label("dom0"), T_SITES.c.name.label("site")).join(
        T_HOSTS, T_HOSTS.c.id == T_NODES.c.host_id).join(T_SITES, T_SITES.c.id == T_HOSTS.c.site_id)
    if cluster_ids is not None:
        q = q.where(T_NODES.c.cluster_id.in_(cluster_ids))
    return [dict(r) for r in conn.execute(q).mappings()]


def edge_rows(conn: "sa.Connection", cluster_id: int) -> List[Row]:
    q = sa.select(T_EDGES, T_HOSTS.c.name.label("dom0"), T_SITES.c.name.label("site")).join(
        T_HOSTS, T_HOSTS.c.id == T_EDGES.c.host_id).join(T_SITES, T_SITES.c.id == T_HOSTS.c.site_id).where(
        T_EDGES.c.cluster_id == cluster_id)
    return [dict(r) for r in conn.execute(q).mappings()]


def make_plan(cluster: Row, nodes: List[Row], edges: List[Row], with_key: bool = False) -> Plan:
    """The plan as returned to playbooks (the keys only when asked for)."""
    req = json.loads(cluster["request_json"])
    net = addr.parse_subnet(cluster["subnet"])
    out: Plan = {
        "cluster": {
            "name": cluster["name"], "owner": cluster["owner"], "subnet": str(net.cidr),
            "netmask": str(net.netmask), "prefix": net.prefixlen, "community": cluster["community"],
            "bridge": _n2n.ifname("mvc-", cluster["name"]), "status": cluster["status"], "os": req["os"],
            "packages": req["packages"], "users": req["users"], "placement": req["placement"],
            "services": _request.services(req),
            # The WireGuard backend's VXLAN network identifier: the cluster's row id, unique in the database.
            "overlay": _request.overlay_backend(req), "vni": cluster.get("id"),
            # Kept from the end of the cluster's first deploy (its guests' NICs have it); None until a deploy gives one.
            "mtu": cluster.get("mtu"),
            "sites": sorted(set(n["site"] for n in nodes)), "request_digest": cluster["request_digest"],
        },
        "nodes": [dict([(k, n[k]) for k in ("name", "role", "site", "dom0", "mac", "overlay_ip", "vcpus",
                                            "memory_mb", "disk_gb", "status")], index=n["idx"],
                       overlay_prefix=net.prefixlen)
                  for n in sorted(nodes, key=lambda n: (n["role"] != "frontend", n["idx"]))],
        "edges": [{"dom0": e["dom0"], "site": e["site"], "overlay_ip": e["overlay_ip"], "overlay_prefix": net.prefixlen}
                  for e in sorted(edges, key=lambda e: natural_key(e["dom0"]))],
    }
    if with_key:
        out["n2n_key"] = cluster["n2n_key"]
        out["munge_key"] = cluster.get("munge_key")
    return out


def read_clusters(conn: "sa.Connection", names: Optional[Iterable[str]] = None) -> List[Plan]:
    """Every registered cluster's plan (never a key), for the inventory plugin."""
    columns = [T_CLUSTERS.c.id, T_CLUSTERS.c.name, T_CLUSTERS.c.owner, T_CLUSTERS.c.community,
               T_CLUSTERS.c.request_json, T_CLUSTERS.c.request_digest, T_CLUSTERS.c.status, T_SUBNETS.c.subnet]
    if has_column(conn, T_CLUSTERS, "mtu"):  # schema version 4
        columns.append(T_CLUSTERS.c.mtu)
    q = sa.select(*columns).join(T_SUBNETS, T_SUBNETS.c.cluster_id == T_CLUSTERS.c.id)
    if names:
        q = q.where(T_CLUSTERS.c.name.in_(list(names)))
    clusters = [dict(r, n2n_key=None) for r in conn.execute(q.order_by(T_CLUSTERS.c.name)).mappings()]
    nodes = node_rows(conn, [c["id"] for c in clusters]) if clusters else []
    out = []
    for c in clusters:
        p = make_plan(c, [n for n in nodes if n["cluster_id"] == c["id"]], edge_rows(conn, c["id"]))
        out.append(p)
    return out


def comparable(plan: Optional[Plan]) -> Plan:
    """What a change is judged on (and what diff shows): the plan without digest noise."""
    if plan is None:
        return {}
    return {"cluster": dict((k, v) for k, v in plan["cluster"].items() if k != "request_digest"),
            "nodes": plan["nodes"], "edges": plan["edges"]}


def removed_parts(before: Optional[Plan], after: Optional[Plan]) -> Dict[str, List[Row]]:
    """What a change takes away from the hosts: nodes gone or moved (at their old Dom0), and edges gone.

    ``before`` and ``after`` are plans (or empty). A deploy destroys these before it builds the new plan.
    """
    before = before or {}
    after_nodes = dict((n["name"], n) for n in (after or {}).get("nodes", []))
    after_edges = set(e["dom0"] for e in (after or {}).get("edges", []))
    nodes = [n for n in before.get("nodes", [])
             if n["name"] not in after_nodes or after_nodes[n["name"]]["dom0"] != n["dom0"]]
    edges = [e for e in before.get("edges", []) if e["dom0"] not in after_edges]
    return {"nodes": nodes, "edges": edges}
