# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement of virtual cluster nodes on VM containers: a pure function, no I/O.

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.

Rules:
- a node goes only on a host where it fits in the free vCPUs, memory and disk left after every node
  placed so far (the caller passes capacity with other clusters' nodes already taken off);
- ``spread``: each node goes to the site with the fewest nodes of this cluster so far, then to the host
  of that site with the fewest; ties go to the earlier site/host in order;
- ``pack``: each node goes to the first host, in order, where it fits;
- ``{site: count}``: exactly that many *compute* nodes per site (spread over the site's hosts); the
  frontend is not counted: it goes to ``frontend_site``, else to the first site of the mapping;
- nodes in ``existing`` stay on their host when that host is still allowed and they still fit there,
  so that re-planning a grown or shrunk cluster moves nobody.
"""

from __future__ import annotations

import typing as t

from ansible_collections.cmc.mvc.plugins.module_utils._errors import FieldError

RESOURCES = (("vcpus", "cpus", "vCPUs"), ("memory_mb", "memory_mb", "MB of memory"), ("disk_gb", "disk_gb", "GB of disk"))


class PlacementError(FieldError):
    """The nodes do not fit. ``shortfalls`` is a list of (resource, amount short, sites)."""

    def __init__(self, message: str, shortfalls: list[tuple[str, int, list[str]]] | None = None,
                 field: str = "vcluster") -> None:
        super().__init__(field, message)
        self.shortfalls = shortfalls or []


def _fits(node: t.Mapping[str, t.Any], free: t.Mapping[str, int]) -> bool:
    return node["vcpus"] <= free["cpus"] and node["memory_mb"] <= free["memory_mb"] and node["disk_gb"] <= free["disk_gb"]


def _take(node: t.Mapping[str, t.Any], free: dict[str, int]) -> None:
    for n, h, _d in RESOURCES:
        free[h] -= node[n]


def place(hosts: list[dict[str, t.Any]], nodes: list[dict[str, t.Any]], policy: str | dict[str, int] = "spread",
          sites: list[str] | None = None, existing: dict[str, str] | None = None,
          frontend_site: str | None = None) -> dict[str, str]:
    """Assign each node a host.

    hosts: list of {name, site, cpus, memory_mb, disk_gb} (free capacity), in preference order.
    nodes: list of {name, role ("frontend"|"compute"), vcpus, memory_mb, disk_gb}; the frontend first.
    policy: "spread", "pack" or {site: compute count}.
    sites: allowed sites in order (None: every site of ``hosts``, in order of first appearance).
    existing: {node name: host name} of an earlier plan to keep.
    Returns {node name: host name}. Raises PlacementError saying what is short, by how much, where.
    """
    existing = existing or {}
    if sites is None:
        sites = []
        for h in hosts:
            if h["site"] not in sites:
                sites.append(h["site"])
    allowed = [h for h in hosts if h["site"] in sites]
    allowed.sort(key=lambda h: sites.index(h["site"]))  # stable: keeps host order within a site
    free = dict((h["name"], {"cpus": h["cpus"], "memory_mb": h["memory_mb"], "disk_gb": h["disk_gb"]}) for h in allowed)
    site_of = dict((h["name"], h["site"]) for h in allowed)
    by_site: dict[str, list[dict[str, t.Any]]] = {}
    for h in allowed:
        by_site.setdefault(h["site"], []).append(h)
    quota = dict(policy) if isinstance(policy, dict) else None
    if quota is not None and frontend_site is None:
        frontend_site = next(iter(quota), None) or (sites[0] if sites else None)
    per_site = dict((s, 0) for s in sites)
    per_host = dict((h["name"], 0) for h in allowed)
    result: dict[str, str] = {}

    def allowed_sites(node: t.Mapping[str, t.Any]) -> list[str]:
        if node["role"] == "frontend":
            return [frontend_site] if frontend_site is not None else list(sites)
        if quota is not None:
            return [s for s in quota if quota[s] > 0]
        return list(sites)

    def assign(node: t.Mapping[str, t.Any], host: str) -> None:
        result[node["name"]] = host
        _take(node, free[host])
        per_site[site_of[host]] += 1
        per_host[host] += 1
        if quota is not None and node["role"] != "frontend":
            quota[site_of[host]] -= 1

    # Keep what an earlier plan placed, where it still may and does fit.
    for node in nodes:
        host = existing.get(node["name"])
        if host in free and site_of[host] in allowed_sites(node) and _fits(node, free[host]):
            assign(node, t.cast(str, host))  # a key of free: a host name, not None

    kept = set(result)
    order = dict((s, i) for i, s in enumerate(sites))
    free0 = dict((h, dict(f)) for h, f in free.items())
    quota0 = dict(quota) if quota is not None else None
    for node in nodes:
        if node["name"] in result:
            continue
        where = allowed_sites(node)
        if policy == "pack":
            host = next((h["name"] for h in allowed if h["site"] in where and _fits(node, free[h["name"]])), None)
        else:
            host = None
            if quota is None:
                ranked = sorted(where, key=lambda s: (per_site.get(s, 0), order.get(s, len(order))))
            else:
                ranked = sorted(where, key=lambda s: (-quota.get(s, 0), order.get(s, len(order))))
            for site in ranked:
                in_site = [h["name"] for h in by_site.get(site, ()) if _fits(node, free[h["name"]])]
                if in_site:
                    host = min(enumerate(in_site), key=lambda ih: (per_host[ih[1]], ih[0]))[1]
                    break
        if host is None:
            _fail(node, nodes, kept, allowed, free0, free, where, quota0, frontend_site is not None)
        assign(node, host)
    return result


def _fail(node: dict[str, t.Any], nodes: list[dict[str, t.Any]], kept: set[str], allowed: list[dict[str, t.Any]],
          free0: dict[str, dict[str, int]], free: dict[str, dict[str, int]], where: list[str],
          quota: dict[str, int] | None, frontend_pinned: bool) -> t.NoReturn:
    """Raise PlacementError: the shortfall per resource of all the nodes to place against the free capacity
    they had (``free0``) at the sites they may use; or, when the totals fit, which host is too small."""
    pending = [n for n in nodes if n["name"] not in kept]
    if node["role"] == "frontend" and frontend_pinned:
        pending = [node]
    elif quota is not None:
        # One site's quota failed: report for that site only.
        site = next((s for s in where if not any(h["site"] == s and _fits(node, free[h["name"]]) for h in allowed)),
                    where[0] if where else None)
        where = [site] if site is not None else []
        # site is None only when where is empty; quota.get(None, 0) is then 0.
        pending = [n for n in pending if n["role"] == "compute"][:quota.get(site, 0)]  # type: ignore[arg-type]
    hosts = [h["name"] for h in allowed if h["site"] in where]
    shortfalls: list[tuple[str, int, list[str]]] = []
    parts = []
    for res, hres, desc in RESOURCES:
        need = sum(n[res] for n in pending)
        have = sum(max(free0[h][hres], 0) for h in hosts)
        if need > have:
            shortfalls.append((res, need - have, list(where)))
            parts.append("short of %d %s (need %d, free %d)" % (need - have, desc, need, have))
    sites_txt = ", ".join(where) if where else "(no site)"
    if not hosts:
        raise PlacementError("no VM container at site(s) %s for %s" % (sites_txt, node["name"]), [], "vcluster.placement")
    # The field to change: the per-site count that failed, the frontend's pinned site, else the count of nodes.
    if node["role"] == "frontend" and frontend_pinned:
        field = "vcluster.frontend.site"
    elif quota is not None and where:
        field = "vcluster.placement.%s" % where[0]
    elif any(n["role"] == "compute" for n in pending):
        field = "vcluster.compute.count"
    else:
        field = "vcluster.frontend"
    if parts:
        raise PlacementError("%d node(s) do not fit at site(s) %s: %s" % (len(pending), sites_txt, "; ".join(parts)),
                             shortfalls, field)
    # Enough in total, but no single host has room for this node.
    parts = []
    for res, hres, desc in RESOURCES:
        best = max(free[h][hres] for h in hosts)
        if node[res] > best:
            shortfalls.append((res, node[res] - best, list(where)))
            parts.append("%d %s more than the roomiest host has (needs %d, largest free %d)"
                         % (node[res] - best, desc, node[res], best))
    if not parts:
        parts.append("no single host has all of %d vCPUs, %d MB and %d GB free" % (
            node["vcpus"], node["memory_mb"], node["disk_gb"]))
    # Too big for every host: the size to change is the node's own.
    field = "vcluster.%s.%s" % (node["role"], shortfalls[-1][0]) if shortfalls else "vcluster.%s" % node["role"]
    raise PlacementError("%s does not fit on any host at site(s) %s: %s" % (node["name"], sites_txt, "; ".join(parts)),
                         shortfalls, field)
