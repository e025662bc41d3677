# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The WireGuard backend's rows: each Dom0's transport address and public key (schema version 3).

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.

The hub takes one peer per row, so the rows are every Dom0 that hosts an edge of a cluster whose request names
``overlay.backend: wireguard``, whichever cluster a run deploys; a Dom0 that hosts none any more loses its row.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any, Dict, List, Optional

from ansible_collections.cmc.mvc.plugins.module_utils import _request
from ansible_collections.cmc.mvc.plugins.module_utils import _wireguard
from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import HAS_SQLALCHEMY, InputError, natural_key

if HAS_SQLALCHEMY:
    import sqlalchemy as sa

    from ansible_collections.cmc.mvc.plugins.module_utils._mvcdb_schema import (
        T_CLUSTERS, T_EDGES, T_HOSTS, T_WG_PEERS)

DEFAULT_NETWORK = "10.250.0.0/16"


def transport_network(value: Any, field: str = "network") -> ipaddress.IPv4Network:
    """The transport network: IPv4, room for the hub and at least one Dom0."""
    try:
        net = ipaddress.IPv4Network(value)
    except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, TypeError, ValueError) as exc:
        raise InputError(field, "expected an IPv4 network such as %s, got %r (%s)" % (DEFAULT_NETWORK, value, exc))
    if net.prefixlen > 30:
        raise InputError(field, "%s is too small for a hub and its Dom0s (at most /30)" % net)
    return net


def _wireguard_hosts(conn: "sa.Connection", leaving: Optional[str] = None) -> set:
    """Ids of the hosts with an edge of a WireGuard cluster, but cluster ``leaving``."""
    q = sa.select(T_EDGES.c.host_id, T_CLUSTERS.c.name, T_CLUSTERS.c.request_json).join(
        T_CLUSTERS, T_CLUSTERS.c.id == T_EDGES.c.cluster_id)
    return set(r.host_id for r in conn.execute(q)
               if r.name != leaving and _request.overlay_backend(json.loads(r.request_json)) == "wireguard")


def _peers(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Rows (name, transport_ip, public_key) as the hub's peers, by Dom0 name."""
    return [{"name": r["name"], "address": r["transport_ip"], "public_key": r["public_key"]}
            for r in sorted(rows, key=lambda r: natural_key(r["name"]))]


def sync_peers(conn: "sa.Connection", network: Any, peers: Optional[List[Dict[str, Any]]],
               check_mode: bool = False, leaving: Optional[str] = None) -> Dict[str, Any]:
    """Record each given Dom0's public key with a transport address (kept once given), drop the rows of Dom0s
    that host no WireGuard cluster, and return every peer of the hub. Inside the caller's transaction.

    ``leaving``: a cluster being removed, whose edges keep no Dom0 (its rows go after the hub has dropped them, so
    that a removal that fails on the way is re-run whole).

    In check mode a Dom0 whose key is not made yet (empty) is returned with ``public_key`` None and not written.
    Returns {"changed", "hub_address" (with prefix), "network", "peers": [{name, address, public_key}], "before"
    (the peers as they were)}.
    """
    net = transport_network(network)
    hub = net.network_address + 1
    hosts = dict((r.name, r.id) for r in conn.execute(sa.select(T_HOSTS.c.name, T_HOSTS.c.id)))
    given: Dict[int, Dict[str, Any]] = {}
    for i, peer in enumerate(peers or []):
        where = "peers[%d]" % i
        if not isinstance(peer, dict):
            raise InputError(where, "expected a mapping with name and public_key")
        name = peer.get("name")
        if name not in hosts:
            raise InputError(where + ".name", "%r is not a VM container known to the MVC database" % (name,))
        key = _wireguard.check_public_key(peer.get("public_key"), where + ".public_key", check_mode)
        if hosts[name] in given:
            raise InputError(where + ".name", "%s is listed twice" % name)
        given[hosts[name]] = {"name": name, "public_key": key}
    keep = _wireguard_hosts(conn, leaving) | set(given)
    rows = [dict(r) for r in conn.execute(sa.select(T_WG_PEERS, T_HOSTS.c.name).join(
        T_HOSTS, T_HOSTS.c.id == T_WG_PEERS.c.host_id)).mappings()]
    before = _peers(rows)
    changed = False
    for r in rows:
        if r["host_id"] not in keep:
            conn.execute(T_WG_PEERS.delete().where(T_WG_PEERS.c.id == r["id"]))
            changed = True
    rows = [r for r in rows if r["host_id"] in keep]
    by_host = dict((r["host_id"], r) for r in rows)
    # An address outside the network (the network was changed) is given again, as is one that is the hub's.
    used = set(r["transport_ip"] for r in rows if ipaddress.IPv4Address(r["transport_ip"]) in net
               and ipaddress.IPv4Address(r["transport_ip"]) != hub)
    free = (str(ip) for ip in net.hosts() if ip != hub and str(ip) not in used)
    # Every Dom0 that stays: those given (with their key of now) and the others (as stored).
    wanted = dict((h, {"name": r["name"], "public_key": r["public_key"]}) for h, r in by_host.items())
    wanted.update(given)
    for host_id, peer in sorted(wanted.items(), key=lambda kv: natural_key(kv[1]["name"])):
        row = by_host.get(host_id)
        ip = row["transport_ip"] if row and row["transport_ip"] in used else None
        if ip is None:
            ip = next(free, None)
            if ip is None:
                raise InputError("network", "%s has no free transport address left for %s" % (net, peer["name"]))
            used.add(ip)
        key = peer["public_key"]
        if key is None:  # check mode, no key yet: nothing to write
            pass
        elif row is None:
            conn.execute(T_WG_PEERS.insert().values(host_id=host_id, transport_ip=ip, public_key=key))
            changed = True
        elif (row["transport_ip"], row["public_key"]) != (ip, key):
            conn.execute(T_WG_PEERS.update().where(T_WG_PEERS.c.id == row["id"]).values(transport_ip=ip, public_key=key))
            changed = True
        by_host[host_id] = {"name": peer["name"], "transport_ip": ip, "public_key": key}
    return {"changed": changed, "network": str(net), "hub_address": "%s/%d" % (hub, net.prefixlen),
            "peers": _peers(list(by_host.values())), "before": before}
