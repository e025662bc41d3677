# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registering a virtual cluster in the MVC database: allocation, in named steps.

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.

register() runs inside the caller's transaction, which holds the write lock (``_mvcdb_engine``). Its steps,
in the order they run (the first bad input fails, before anything is committed):
validate the request and the stored key -> store and check the VM containers -> read the cluster as it is ->
keep or fix its MTU -> choose the subnet -> place the nodes -> give them MACs, addresses and statuses -> give each
Dom0 an edge address -> check the MTU of the wireguard clusters sharing its Dom0s -> write the cluster and its
children (``_mvcdb_write``).
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Dict, List, Optional, Set, Tuple, cast

from ansible_collections.cmc.mvc.plugins.module_utils import _addressing as addr
from ansible_collections.cmc.mvc.plugins.module_utils import _placement
from ansible_collections.cmc.mvc.plugins.module_utils import _request
from ansible_collections.cmc.mvc.plugins.module_utils import _secrets
from ansible_collections.cmc.mvc.plugins.module_utils._errors import check_int
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_keys import munge_key_of, seal_key, stored_key
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_read import (
    Row, cluster_row, comparable, edge_rows, host_rows, make_plan, node_rows)
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import (
    COMMUNITY_MAX, DEFAULT_POOL, DEFAULT_PREFIX, HAS_SQLALCHEMY, MTU_RANGE, NODE_STATUSES, InputError, _now,
    natural_key)
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_write import cluster_status, sync_children

if HAS_SQLALCHEMY:
    import sqlalchemy as sa

    from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import (
        T_CLUSTERS, T_EDGES, T_HOSTS, T_NODES, T_SITES, T_SUBNETS)

SIZES = ("vcpus", "memory_mb", "disk_gb")


# ---------------------------------------------------------------------------------------------------
# Input besides the request


def normalize_containers(containers: Optional[List[Any]], field: str = "vm_containers",
                         vcpus_per_cpu: Any = 1) -> Optional[List[Row]]:
    """VM containers from Rocks inventory hostvars -> [{name, site, rocks_name, private_ip, cpus, memory_mb, disk_gb}].

    ``cpus`` is the vCPUs that domains may have there: free CPUs times ``vcpus_per_cpu``."""
    if containers is None:
        return None
    if isinstance(vcpus_per_cpu, bool) or not isinstance(vcpus_per_cpu, int) or vcpus_per_cpu < 1:
        raise InputError("vcpus_per_cpu", "must be a whole number of at least 1, got %r" % (vcpus_per_cpu,))
    if not isinstance(containers, list):
        raise InputError(field, "must be a list of hostvars of VM containers")
    out = []
    seen = set()
    for i, hv in enumerate(containers):
        where = "%s[%d]" % (field, i)
        if not isinstance(hv, dict):
            raise InputError(where, "must be a mapping (hostvars of one VM container)")
        name = hv.get("inventory_hostname") or hv.get("name")
        if not isinstance(name, str) or not name:
            raise InputError(where, "has no inventory_hostname (or name)")
        where = "%s[%d] (%s)" % (field, i, name)
        if name in seen:
            raise InputError(where, "appears twice")
        seen.add(name)
        if hv.get("mvc_appliance") not in (None, "vm-container"):
            raise InputError(where + ".mvc_appliance", "is %r, not a VM container" % hv["mvc_appliance"])
        site = hv.get("mvc_site")
        if not isinstance(site, str) or not _request.SITE_RE.fullmatch(site):
            raise InputError(where + ".mvc_site", "must be a site name, got %r" % (site,))
        free = hv.get("mvc_free")
        if not isinstance(free, dict):
            raise InputError(where + ".mvc_free", "missing: give the hostvars of a VM container from cmc.mvc.rocks")
        item = {"name": name, "site": site, "rocks_name": hv.get("mvc_rocks_name"),
                "private_ip": hv.get("mvc_private_ip")}
        for key, attr in (("cpus", "cpus"), ("memory_mb", "memory_mb"), ("disk_gb", "disk_gb")):
            value = free.get(attr)
            if isinstance(value, str) and value.lstrip("-").isdigit():
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool):
                hint = {"memory_mb": "mvc_memory_mb", "disk_gb": "mvc_disk_gb", "cpus": "the CPUs column"}[key]
                raise InputError("%s.mvc_free.%s" % (where, attr), "unknown (%r); set the Rocks host attribute %s"
                                 % (value, hint))
            item[key] = value * vcpus_per_cpu if key == "cpus" else value
        out.append(item)
    return out


def community_for(name: str, taken: Set[str]) -> str:
    """N2N community for cluster ``name``: the name itself when it fits in 16 characters and is free."""
    if len(name) <= COMMUNITY_MAX and name not in taken:
        return name
    for _i in range(100):
        cand = "%s-%s" % (name[:COMMUNITY_MAX - 5], secrets.token_hex(2))
        if cand not in taken:
            return cand
    raise InputError("vcluster.name", "no free N2N community found")


def node_name(cluster: str, role: str, idx: int) -> str:
    return "%s-frontend" % cluster if role == "frontend" else "%s-compute-%d" % (cluster, idx)


# ---------------------------------------------------------------------------------------------------
# The steps of register()


def _insert(conn: "sa.Connection", statement: Any) -> int:
    """Run an INSERT of one row; its primary key (always there for one row)."""
    return int(cast(Any, conn.execute(statement).inserted_primary_key)[0])


def _upsert_hosts(conn: "sa.Connection", containers: List[Row]) -> bool:
    """Store the VM containers and their free capacity; returns True when a row changed."""
    changed = False
    sites = dict((r.name, r.id) for r in conn.execute(sa.select(T_SITES.c.name, T_SITES.c.id)))
    current = dict((h["name"], h) for h in host_rows(conn))
    for c in containers:
        if c["site"] not in sites:
            sites[c["site"]] = _insert(conn, T_SITES.insert().values(name=c["site"]))
            changed = True
        values = {"site_id": sites[c["site"]], "rocks_name": c["rocks_name"], "private_ip": c["private_ip"],
                  "cpus": c["cpus"], "memory_mb": c["memory_mb"], "disk_gb": c["disk_gb"]}
        old = current.get(c["name"])
        if old is None:
            conn.execute(T_HOSTS.insert().values(name=c["name"], **values))
            changed = True
        elif any(old[k] != v for k, v in values.items()):
            conn.execute(T_HOSTS.update().where(T_HOSTS.c.id == old["id"]).values(**values))
            changed = True
    return changed


def _known_hosts(conn: "sa.Connection", req: Row, containers: Optional[List[Row]]) -> Tuple[bool, List[Row], List[str]]:
    """Store the VM containers given (if any); check that some are known and that the request's sites are."""
    hosts_changed = _upsert_hosts(conn, containers) if containers else False
    hosts = host_rows(conn)
    if not hosts:
        raise InputError("vm_containers", "no VM container is known yet: give the hostvars of the cmc.mvc.rocks "
                                          "group vm_containers")
    known_sites = sorted(set(h["site"] for h in hosts))
    _request.check_sites(req, known_sites)
    return hosts_changed, hosts, known_sites


def _existing(conn: "sa.Connection", req: Row) -> Tuple[Optional[Row], List[Row], List[Row]]:
    """The cluster as registered (row, nodes, edges), or (None, [], []); another owner cannot take it over."""
    old = cluster_row(conn, req["name"])
    if old is None:
        return None, [], []
    if old["owner"] != req["owner"]:
        raise _request.RequestError("vcluster.name", "cluster %s already exists, owned by %s" % (req["name"], old["owner"]))
    was = _request.overlay_backend(json.loads(old["request_json"]))
    if was != _request.overlay_backend(req):
        raise _request.RequestError("vcluster.overlay.backend", "cluster %s runs over %s; remove it (destroy_mvc) to "
                                    "change its overlay backend" % (req["name"], was))
    return old, node_rows(conn, [old["id"]]), edge_rows(conn, old["id"])


def _cluster_mtu(req: Row, old: Optional[Row], old_nodes: List[Row], given: Optional[int]) -> Optional[int]:
    """The MTU the cluster keeps; None when none is known.

    ``given`` is the largest the caller's underlay carries. Until one of its nodes is deployed, a cluster takes it on
    every run (a deploy stopped by a path too small for it is re-run with a smaller one). From then on the cluster
    keeps the MTU its guests' NICs were installed with, and a path that no longer carries it fails here, before
    anything is written."""
    kept = old.get("mtu") if old else None
    if kept is None or not any(n["status"] == "deployed" for n in old_nodes):
        return given if given is not None else kept
    if given is not None and given < kept:
        raise InputError("mtu", "%d is smaller than the MTU %d of cluster %s, which its guests' NICs were installed "
                                "with: the path between its sites must carry %d (deploy_mvc derives this option from "
                                "mvc_underlay_mtu), or the cluster must be destroyed and deployed again to take a "
                                "smaller one" % (given, kept, req["name"], kept))
    return int(kept)


def _check_shared_wireguard(conn: "sa.Connection", req: Row, old: Optional[Row], new_edges: List[Row],
                            mtu: Optional[int]) -> None:
    """A wireguard cluster's run sizes the one WireGuard interface of each of its Dom0s for ``mtu``: another
    wireguard cluster there with a larger MTU would have its larger frames dropped. Fails naming ``mtu``."""
    if mtu is None or _request.overlay_backend(req) != "wireguard" or not new_edges:
        return
    rows = conn.execute(sa.select(T_CLUSTERS.c.name, T_CLUSTERS.c.mtu, T_CLUSTERS.c.request_json,
                                  T_HOSTS.c.name.label("dom0")).join(
        T_EDGES, T_EDGES.c.cluster_id == T_CLUSTERS.c.id).join(T_HOSTS, T_HOSTS.c.id == T_EDGES.c.host_id).where(
        T_EDGES.c.host_id.in_([e["host_id"] for e in new_edges]), T_CLUSTERS.c.mtu > mtu,
        T_CLUSTERS.c.id != (old["id"] if old else -1))).mappings().all()
    for r in sorted(rows, key=lambda r: (r["name"], natural_key(r["dom0"]))):
        if _request.overlay_backend(json.loads(r["request_json"])) == "wireguard":
            raise InputError("mtu", "%d is smaller than the MTU %d of cluster %s, which shares the WireGuard interface "
                                    "of %s with cluster %s: sized for %d, that interface would drop %s's larger "
                                    "frames. The path between the sites must carry %d (deploy_mvc derives this "
                                    "option from mvc_underlay_mtu), or cluster %s must be removed first"
                                    % (mtu, r["mtu"], r["name"], r["dom0"], req["name"], mtu, r["name"],
                                       r["mtu"], r["name"]))


def _used_subnets(conn: "sa.Connection", exclude_cluster_id: Optional[int] = None) -> List[Any]:
    q = sa.select(T_SUBNETS.c.subnet, T_SUBNETS.c.cluster_id)
    return [addr.netaddr.IPNetwork(r.subnet) for r in conn.execute(q) if r.cluster_id != exclude_cluster_id]


def _choose_subnet(conn: "sa.Connection", req: Row, old: Optional[Row], pool: str, prefix: int, needed: int,
                   at_most: int) -> Any:
    """The cluster's subnet: its registered one, the request's, or a free pool block sized for ``at_most``."""
    field = "vcluster.overlay.subnet"
    if old is not None:
        net = addr.parse_subnet(old["subnet"])
        if req["overlay"]["subnet"] is not None and addr.parse_subnet(req["overlay"]["subnet"], field) != net:
            raise _request.RequestError(field, "cluster %s is registered with %s; remove it (state=absent) to change "
                                               "its subnet" % (req["name"], net))
        if addr.usable_hosts(net) < needed:
            raise _request.RequestError("vcluster.compute.count", "subnet %s holds %d addresses; the cluster needs %d"
                                        % (net, addr.usable_hosts(net), needed))
        return net
    used = _used_subnets(conn)
    if req["overlay"]["subnet"] is not None:
        net = addr.parse_subnet(req["overlay"]["subnet"], field)
        clash = addr.overlapping(net, used)
        if clash:
            raise _request.RequestError(field, "%s overlaps %s, already allocated" % (net, ", ".join(map(str, clash))))
    else:
        net = addr.allocate_subnet(pool, min(prefix, addr.prefix_for_hosts(at_most, minimum=32)), used, "overlay_pool")
    if addr.usable_hosts(net) < needed:
        raise _request.RequestError(field, "%s holds %d addresses; the cluster needs at least %d (its nodes and an "
                                           "N2N edge)" % (net, addr.usable_hosts(net), needed))
    return net


def _capacity(conn: "sa.Connection", hosts: List[Row], cluster_id: Optional[int]) -> List[Row]:
    """Free capacity per host after the nodes of every other cluster."""
    used: Dict[int, Tuple[int, int, int]] = {}
    q = sa.select(T_NODES.c.host_id, sa.func.sum(T_NODES.c.vcpus), sa.func.sum(T_NODES.c.memory_mb),
                  sa.func.sum(T_NODES.c.disk_gb)).group_by(T_NODES.c.host_id)
    if cluster_id is not None:
        q = q.where(T_NODES.c.cluster_id != cluster_id)
    for host_id, cpus, mem, disk in conn.execute(q):
        used[host_id] = (int(cpus or 0), int(mem or 0), int(disk or 0))
    out = []
    for h in hosts:
        u = used.get(h["id"], (0, 0, 0))
        out.append({"name": h["name"], "site": h["site"], "cpus": h["cpus"] - u[0],
                    "memory_mb": h["memory_mb"] - u[1], "disk_gb": h["disk_gb"] - u[2]})
    return out


def _wanted_nodes(req: Row) -> List[Row]:
    """The nodes the request asks for (name, role, idx, sizes), frontend first."""
    wanted = [dict(name=node_name(req["name"], "frontend", 0), role="frontend", idx=0,
                   **dict((k, req["frontend"][k]) for k in SIZES))]
    wanted += [dict(name=node_name(req["name"], "compute", i), role="compute", idx=i,
                    **dict((k, req["compute"][k]) for k in SIZES)) for i in range(req["compute"]["count"])]
    return wanted


def _assign_nodes(conn: "sa.Connection", req: Row, net: Any, wanted: List[Row], assignment: Dict[str, str],
                  hosts: List[Row], old_nodes: List[Row], node_status: Optional[Dict[str, str]]) -> List[Row]:
    """Each wanted node at its Dom0, with its MAC (kept, else new and unique), overlay IP and status.

    A node that is new, moved or resized goes back to ``planned``; ``node_status`` overrides that."""
    host_by_name = dict((h["name"], h) for h in hosts)
    old_by_name = dict((n["name"], n) for n in old_nodes)
    node_status = node_status or {}
    unknown = sorted(set(node_status) - set(n["name"] for n in wanted))
    if unknown:
        raise InputError("node_status." + unknown[0], "no such node in cluster %s" % req["name"])
    taken_macs = set(r[0] for r in conn.execute(sa.select(T_NODES.c.mac)))
    new_nodes = []
    for n in wanted:
        o = old_by_name.get(n["name"])
        dom0 = assignment[n["name"]]
        moved = o is None or o["dom0"] != dom0 or any(o[k] != n[k] for k in SIZES)
        mac = o["mac"] if o else addr.random_xen_mac(taken_macs)
        taken_macs.add(mac)
        status = o["status"] if o is not None and not moved else "planned"
        status = node_status.get(n["name"], status)
        if status not in NODE_STATUSES:
            raise InputError("node_status." + n["name"], "must be one of %s" % ", ".join(NODE_STATUSES))
        ip = str(addr.host_address(net, 0 if n["role"] == "frontend" else 1 + n["idx"]))
        new_nodes.append(dict(n, dom0=dom0, site=host_by_name[dom0]["site"], host_id=host_by_name[dom0]["id"],
                              mac=mac, overlay_ip=ip, status=status))
    return new_nodes


def _assign_edges(req: Row, net: Any, new_nodes: List[Row], old_edges: List[Row], hosts: List[Row]) -> List[Row]:
    """One N2N edge per Dom0 of the nodes: each keeps its address; new Dom0s take the highest free ones."""
    host_by_name = dict((h["name"], h) for h in hosts)
    dom0s = sorted(set(n["dom0"] for n in new_nodes), key=natural_key)
    if len(new_nodes) + len(dom0s) > addr.usable_hosts(net):
        raise _request.RequestError(
            "vcluster.overlay.subnet" if req["overlay"]["subnet"] else "vcluster.compute.count",
            "%s holds %d addresses; the cluster needs %d (%d nodes and %d N2N edges, one per Dom0)"
            % (net, addr.usable_hosts(net), len(new_nodes) + len(dom0s), len(new_nodes), len(dom0s)))
    node_ips = set(n["overlay_ip"] for n in new_nodes)
    # An edge keeps its address unless a node (numbered from the bottom) now needs it.
    old_edge_ip = dict((e["dom0"], e["overlay_ip"]) for e in old_edges
                       if e["dom0"] in dom0s and e["overlay_ip"] not in node_ips)
    edge_ips = set(old_edge_ip.values())
    new_edges = []
    top = addr.usable_hosts(net) - 1
    for d in dom0s:
        ip = old_edge_ip.get(d)
        while ip is None:
            cand = str(addr.host_address(net, top))
            top -= 1
            if cand not in edge_ips and cand not in node_ips:
                ip = cand
                edge_ips.add(ip)
        new_edges.append({"dom0": d, "site": host_by_name[d]["site"], "host_id": host_by_name[d]["id"], "overlay_ip": ip})
    return new_edges


def _write(conn: "sa.Connection", req: Row, net: Any, old: Optional[Row], clear_key: Optional[str],
           munge: Tuple[Optional[str], bool], cipher: Optional[_secrets.Cipher], new_nodes: List[Row],
           new_edges: List[Row], old_nodes: List[Row], old_edges: List[Row], hosts_changed: bool,
           return_key: bool, mtu: Optional[int]) -> Dict[str, Any]:
    """Insert a new cluster (with its community, keys and subnet) or update the registered one, and its children.

    ``munge`` is munge_key_of()'s (clear munge key, whether it is new).

    Writes only when something changed; returns {"changed", "plan", "before", "after"}."""
    before = make_plan(old, old_nodes, old_edges) if old else None
    cstatus = cluster_status(n["status"] for n in new_nodes)
    now = _now()
    request_json = _request.canonical_json(req)
    if old is None:
        taken = set(r[0] for r in conn.execute(sa.select(T_CLUSTERS.c.community)))
        clear_key = secrets.token_urlsafe(24)
        cid = _insert(conn, T_CLUSTERS.insert().values(
            name=req["name"], owner=req["owner"], community=community_for(req["name"], taken),
            n2n_key=seal_key(cipher, req["name"], clear_key),
            munge_key=seal_key(cipher, req["name"], str(munge[0]), "munge_key"),
            request_json=request_json, request_digest=_request.digest(req), status=cstatus, created_at=now,
            updated_at=now, mtu=mtu))
        conn.execute(T_SUBNETS.insert().values(cluster_id=cid, subnet=str(net.cidr), first_ip=net.first, last_ip=net.last))
    else:
        cid = old["id"]
    cluster = cluster_row(conn, req["name"]) or {}  # just inserted, or ``old``
    cluster_vals = {"request_json": request_json, "request_digest": _request.digest(req), "status": cstatus,
                    "mtu": mtu}
    # A key stored in clear is re-written encrypted once an encryption_key is given.
    key_vals = {}
    if old is not None and cipher is not None and not _secrets.is_encrypted(old["n2n_key"]):
        # stored_key() decrypted or read it: the cluster exists.
        key_vals["n2n_key"] = seal_key(cipher, req["name"], str(clear_key))
    clear_munge, new_munge = munge
    if old is not None and clear_munge is not None and (
            new_munge or (cipher is not None and not _secrets.is_encrypted(old["munge_key"]))):
        # A cluster registered before munge keys were kept gets one now, made once.
        key_vals["munge_key"] = seal_key(cipher, req["name"], clear_munge, "munge_key")
    after_cluster = dict(cluster, n2n_key=clear_key, munge_key=clear_munge, **cluster_vals)
    after = make_plan(after_cluster, new_nodes, new_edges, with_key=return_key)
    changed = hosts_changed or bool(key_vals) or comparable(before) != comparable(after) or (
        old is not None and old["request_digest"] != cluster_vals["request_digest"])
    if old is not None and changed:
        if key_vals and conn.dialect.name == "sqlite":
            # Zero the freed cell of the clear key, rather than leave it in the file's free space.
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
        if key_vals or any(old[k] != v for k, v in cluster_vals.items()):
            conn.execute(T_CLUSTERS.update().where(T_CLUSTERS.c.id == cid).values(
                updated_at=now, **cluster_vals, **key_vals))
        sync_children(conn, cid, old_nodes, new_nodes, old_edges, new_edges)
    elif old is None:
        sync_children(conn, cid, [], new_nodes, [], new_edges)
    return {"changed": bool(changed), "plan": after, "before": comparable(before), "after": comparable(after)}


def register(conn: "sa.Connection", request: Any, containers: Optional[List[Row]] = None, pool: str = DEFAULT_POOL,
             prefix: int = DEFAULT_PREFIX, node_status: Optional[Dict[str, str]] = None, return_key: bool = False,
             cipher: Optional[_secrets.Cipher] = None, mtu: Any = None) -> Dict[str, Any]:
    """Validate, allocate, place and register ``request`` on ``conn`` (inside the caller's transaction).

    Returns {"changed", "plan", "before", "after"}; before/after never hold the key. Raises a FieldError
    (RequestError, InputError, PlacementError or AddressingError) before the caller commits anything.

    With ``cipher`` (key_cipher()), new N2N and munge keys are stored encrypted and clear ones of this cluster
    are re-written encrypted; without it, new keys are stored in clear. A missing or wrong ``cipher`` fails
    before anything is written. A cluster that has no munge key (registered before schema version 2) gets one.

    ``mtu`` is the largest cluster MTU the underlay carries: a cluster takes it until one of its nodes is
    deployed (or when it has none, registered before schema version 4), then keeps its own and fails when ``mtu``
    is smaller.
    """
    # A Request has been checked already (the module's path); a plain dict has not (library callers, tests).
    req = request if isinstance(request, _request.Request) else _request.validate(request)
    clear_key = stored_key(conn, req["name"], cipher, return_key)
    munge = munge_key_of(conn, req["name"], cipher, return_key)
    hosts_changed, hosts, known_sites = _known_hosts(conn, req, containers)
    old, old_nodes, old_edges = _existing(conn, req)
    given_mtu = None if mtu is None else check_int(mtu, "mtu", MTU_RANGE[0], MTU_RANGE[1], "an MTU in bytes")
    cluster_mtu = _cluster_mtu(req, old, old_nodes, given_mtu)
    count = req["compute"]["count"]
    sites = req["sites"] or known_sites
    allowed_hosts = [h for h in hosts if h["site"] in sites]
    # Every node, plus one edge per Dom0 used (at least one; at most one per node and one per host).
    net = _choose_subnet(conn, req, old, pool, prefix, count + 2, count + 1 + min(count + 1, len(allowed_hosts)))
    wanted = _wanted_nodes(req)
    existing = dict((n["name"], n["dom0"]) for n in old_nodes)
    assignment = _placement.place(_capacity(conn, hosts, old["id"] if old else None), wanted, req["placement"], sites,
                                  existing, req["frontend"]["site"])
    new_nodes = _assign_nodes(conn, req, net, wanted, assignment, hosts, old_nodes, node_status)
    new_edges = _assign_edges(req, net, new_nodes, old_edges, hosts)
    _check_shared_wireguard(conn, req, old, new_edges, given_mtu)
    return _write(conn, req, net, old, clear_key, munge, cipher, new_nodes, new_edges, old_nodes, old_edges,
                  hosts_changed, return_key, cluster_mtu)
