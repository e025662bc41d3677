# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks and renders the WireGuard hub and the WireGuard + VXLAN edges (roles wireguard_hub, wireguard_edge).

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.

MTU arithmetic (what the roles and the docs page state):

- WireGuard adds 60 bytes on an IPv4 underlay (20 IPv4 + 8 UDP + 32 WireGuard data header and tag) and 80 on an
  IPv6 underlay (40 IPv6 header), so the WireGuard MTU is ``underlay - 60`` or ``underlay - 80`` (wg-quick
  always takes 80: 1420 on a 1500 path).
- VXLAN over the IPv4 transport addresses adds 50 (20 IPv4 + 8 UDP + 8 VXLAN + 14 inner Ethernet), so the
  cluster's VXLAN device, bridge and guest NICs get ``underlay - 60 - 50`` (1390) or ``underlay - 80 - 50`` (1370).
  The kernel refuses a VXLAN MTU above its lower device's MTU - 50, the same bound.

The private key is never an input here: each host makes its own, and only public keys are rendered.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import typing as t

from ansible_collections.cmc.mvc.plugins.module_utils._errors import FieldError, check_int
from ansible_collections.cmc.mvc.plugins.module_utils._n2n import check_address, ifname

WireGuardError = FieldError

WG_OVERHEAD = {"ipv4": 60, "ipv6": 80}
VXLAN_OVERHEAD = 50
MIN_CLUSTER_MTU = 1280  # the IPv6 minimum, so that guests can run IPv6 on the cluster network
MAX_VNI = 2 ** 24 - 1
IMPLEMENTATIONS = ("kernel", "userspace")
VXLAN_PREFIX = "vx-"
BRIDGE_PREFIX = "mvc-"
CONFIG_DIR = "/etc/wireguard/mvc"
_CLUSTER_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_PEER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def check_port(value: t.Any, field: str) -> int:
    return check_int(value, field, 1, 65535, "a UDP port")


def check_vni(value: t.Any, field: str) -> int:
    return check_int(value, field, 1, MAX_VNI, "a VXLAN network identifier")


def check_ifname(value: t.Any, field: str) -> str:
    if not isinstance(value, str) or not _IFNAME_RE.fullmatch(value):
        raise WireGuardError(field, "%r is not a usable interface name (1-15 of [A-Za-z0-9_.-])" % (value,))
    return value


def check_implementation(value: t.Any, field: str) -> str:
    if value not in IMPLEMENTATIONS:
        raise WireGuardError(field, "expected kernel or userspace, got %r" % (value,))
    return str(value)


def check_public_key(value: t.Any, field: str, check_mode: bool = False) -> str | None:
    """A WireGuard public key: base64 of 32 bytes (44 characters). In check mode an empty key is accepted, as a
    key made on the first real run is not known yet; it renders as None."""
    if check_mode and value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) != 44 or not value.endswith("="):
        raise WireGuardError(field, "expected a WireGuard public key (base64 of 32 bytes, 44 characters), got %r"
                             % (value,))
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise WireGuardError(field, "%r is not base64" % (value,))
    if len(raw) != 32:
        raise WireGuardError(field, "%r does not decode to 32 bytes" % (value,))
    return value


def check_transport(value: t.Any, field: str) -> ipaddress.IPv4Interface:
    """The transport address with its prefix (``10.250.0.1/24``), IPv4: VXLAN runs over it. The same rules as an
    N2N edge's address."""
    return check_address(value, field, example="10.250.0.1/24")


def check_host_address(value: t.Any, field: str, network: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
    """A plain IPv4 address (a peer's transport address) that must lie in ``network``."""
    try:
        ip = ipaddress.IPv4Address(value.split("/", maxsplit=1)[0] if isinstance(value, str) else value)
    except (ipaddress.AddressValueError, ValueError):
        raise WireGuardError(field, "expected an IPv4 transport address such as 10.250.0.2, got %r" % (value,))
    if isinstance(value, str) and "/" in value and value.split("/")[1] != "32":
        raise WireGuardError(field, "a peer's transport address is one host (/32), got %r" % (value,))
    if ip not in network or ip in (network.network_address, network.broadcast_address):
        raise WireGuardError(field, "%s is not a host address of the transport network %s" % (ip, network))
    return ip


def check_endpoint(value: t.Any, field: str) -> tuple[str, int, str | None]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` -> (host, port, family of a literal address or None for a name)."""
    if not isinstance(value, str):
        raise WireGuardError(field, "expected HOST:PORT, got %r" % (value,))
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)", value) or re.fullmatch(r"([^:\[\]]+):(\d+)", value)
    if not m:
        raise WireGuardError(field, "expected HOST:PORT or [IPv6]:PORT, got %r" % (value,))
    host, port = m.group(1), check_port(m.group(2), field)
    try:
        family: str | None = "ipv%d" % ipaddress.ip_address(host).version
    except ValueError:
        if not _HOST_RE.fullmatch(host):
            raise WireGuardError(field, "bad host %r" % (host,))
        family = None
    return host, port, family


def mtus(underlay_mtu: t.Any, family: t.Any, field: str) -> tuple[int, int]:
    """(WireGuard MTU, cluster MTU) for an underlay path MTU and family; fails naming ``field``_mtu/_family."""
    if family not in WG_OVERHEAD:
        raise WireGuardError(field + "_family", "expected ipv4 or ipv6, got %r" % (family,))
    floor = MIN_CLUSTER_MTU + WG_OVERHEAD[family] + VXLAN_OVERHEAD
    mtu = check_int(underlay_mtu, field + "_mtu", 576, 65535, "an MTU in bytes")
    if mtu < floor:
        raise WireGuardError(field + "_mtu", "%d is too small: the cluster MTU would be %d - %d - %d = %d, below %d"
                             % (mtu, mtu, WG_OVERHEAD[family], VXLAN_OVERHEAD,
                                mtu - WG_OVERHEAD[family] - VXLAN_OVERHEAD, MIN_CLUSTER_MTU))
    wg = mtu - WG_OVERHEAD[family]
    return wg, wg - VXLAN_OVERHEAD


def config_text(comment: str, interface: dict[str, t.Any], peers: list[dict[str, t.Any]]) -> str:
    """``wg setconf`` format. Never a PrivateKey: the unit sets it from the host's own key file."""
    lines = ["# " + comment, "[Interface]"]
    lines += ["%s = %s" % kv for kv in interface.items() if kv[1] is not None]
    for peer in peers:
        lines += ["", "# " + peer["name"], "[Peer]"]
        if peer["public_key"] is None:
            lines.append("# PublicKey: not known yet (check mode)")
        fields = (("PublicKey", "public_key"), ("Endpoint", "endpoint"), ("AllowedIPs", "allowed_ips"),
                  ("PersistentKeepalive", "keepalive"))
        lines += ["%s = %s" % (k, peer[k2]) for k, k2 in fields if peer.get(k2) is not None]
    return "\n".join(lines) + "\n"


def env_text(env: t.Mapping[str, t.Any]) -> str:
    for k, v in env.items():
        if any(c in str(v) for c in "\"'\\\n$`"):
            raise WireGuardError(k, "unexpected character in %r" % (v,))
    return "".join('%s="%s"\n' % (k, v) for k, v in env.items())


def render_hub(p: t.Mapping[str, t.Any], check_mode: bool = False) -> dict[str, t.Any]:
    """Hub settings from the role's variables (keys without the ``wireguard_hub_`` prefix)."""
    v = "wireguard_hub_"
    interface = check_ifname(p.get("interface"), v + "interface")
    port = check_port(p.get("port"), v + "port")
    if p.get("state") == "absent":
        p = dict(p, address="10.255.255.254/30", underlay_mtu=1500, underlay_family="ipv6", peers=[])
    address = check_transport(p.get("address"), v + "address")
    implementation = check_implementation(p.get("implementation"), v + "implementation")
    wg_mtu, cluster_mtu = mtus(p.get("underlay_mtu"), p.get("underlay_family"), v + "underlay")
    peers_in = p.get("peers") or []
    if not isinstance(peers_in, list):
        raise WireGuardError(v + "peers", "expected a list of peers")
    peers, seen = [], {}  # type: list[dict[str, t.Any]], dict[tuple[str, str], str]
    for i, peer in enumerate(peers_in):
        where = "%speers[%d]" % (v, i)
        if not isinstance(peer, dict):
            raise WireGuardError(where, "expected a mapping with name, public_key, address")
        name = peer.get("name")
        if not isinstance(name, str) or not _PEER_NAME_RE.fullmatch(name):
            raise WireGuardError(where + ".name", "expected a name of [A-Za-z0-9_.-], got %r" % (name,))
        key = check_public_key(peer.get("public_key"), where + ".public_key", check_mode)
        ip = check_host_address(peer.get("address"), where + ".address", address.network)
        if ip == address.ip:
            raise WireGuardError(where + ".address", "%s is the hub's own address (wireguard_hub_address)" % ip)
        for kind, value in (("name", name), ("address", str(ip)), ("public_key", key)):
            if value is None:
                continue
            if (kind, value) in seen:
                raise WireGuardError("%s.%s" % (where, kind), "%r is already used by %s" % (value, seen[kind, value]))
            seen[kind, value] = where
        peers.append({"name": name, "public_key": key, "allowed_ips": "%s/32" % ip})
    return {
        "interface": interface, "port": port, "address": str(address), "implementation": implementation,
        "mtu": wg_mtu, "cluster_mtu": cluster_mtu, "forward": True,
        "config": config_text("cmc.mvc WireGuard hub %s: one peer per site Dom0, each its /32 transport address"
                              % interface, {"ListenPort": port}, peers),
        "peers": [q["name"] for q in peers],
    }


def render_edge(p: t.Mapping[str, t.Any], host: str = "localhost", check_mode: bool = False) -> dict[str, t.Any]:
    """Edge settings from the role's variables (keys without the ``wireguard_edge_`` prefix)."""
    v = "wireguard_edge_"
    interface = check_ifname(p.get("interface"), v + "interface")
    if p.get("state") == "absent":
        # Removal needs names only: the other settings may be gone from the inventory already.
        p = dict(p, address="10.255.255.254/30", underlay_mtu=1500, underlay_family="ipv6", keepalive=25,
                 hub_endpoint="absent.invalid:51820", hub_public_key=None,
                 implementation=p.get("implementation") or "kernel", vxlan_port=p.get("vxlan_port") or 4789)
        check_mode = True
    address = check_transport(p.get("address"), v + "address")
    implementation = check_implementation(p.get("implementation"), v + "implementation")
    wg_mtu, max_mtu = mtus(p.get("underlay_mtu"), p.get("underlay_family"), v + "underlay")
    family = check_endpoint(p.get("hub_endpoint"), v + "hub_endpoint")[2]
    if family == "ipv6" and p.get("underlay_family") == "ipv4":
        raise WireGuardError(v + "underlay_family", "ipv4, but wireguard_edge_hub_endpoint is an IPv6 address")
    hub_key = check_public_key(p.get("hub_public_key"), v + "hub_public_key", check_mode)
    keepalive = check_int(p.get("keepalive"), v + "keepalive", 1, 65535, "seconds between keepalives")
    vxlan_port = check_port(p.get("vxlan_port"), v + "vxlan_port")
    all_absent = p.get("state") == "absent"
    clusters_in = p.get("clusters") or []
    if not isinstance(clusters_in, list):
        raise WireGuardError(v + "clusters", "expected a list of clusters")
    clusters, seen = [], {}  # type: list[dict[str, t.Any]], dict[tuple[str, t.Any], str]
    for i, c in enumerate(clusters_in):
        where = "%sclusters[%d]" % (v, i)
        if not isinstance(c, dict):
            raise WireGuardError(where, "expected a mapping")
        name = c.get("name")
        if not isinstance(name, str) or not _CLUSTER_RE.fullmatch(name):
            raise WireGuardError(where + ".name", "expected [a-z][a-z0-9-]{0,30}, got %r" % (name,))
        state = "absent" if all_absent else c.get("state", "present")
        if state not in ("present", "absent"):
            raise WireGuardError(where + ".state", "expected present or absent, got %r" % (state,))
        vxlan = check_ifname(c.get("vxlan") or ifname(VXLAN_PREFIX, name), where + ".vxlan")
        bridge = check_ifname(c.get("bridge") or ifname(BRIDGE_PREFIX, name), where + ".bridge")
        out: dict[str, t.Any] = {"name": name, "state": state, "vxlan": vxlan, "bridge": bridge,
                                 "env_path": "%s/vxlan-%s.env" % (CONFIG_DIR, name)}
        keys: list[tuple[str, t.Any]] = [("name", name), ("vxlan", vxlan), ("bridge", bridge)]
        if state == "present":
            vni = check_vni(c.get("vni"), where + ".vni")
            mtu = max_mtu if c.get("mtu") in (None, "") else check_int(
                c.get("mtu"), where + ".mtu", MIN_CLUSTER_MTU, max_mtu,
                "an MTU between the IPv6 minimum and the underlay's MTU - %d - %d"
                % (WG_OVERHEAD[str(p.get("underlay_family"))], VXLAN_OVERHEAD))
            peers = c.get("peers") or []
            if not isinstance(peers, list):
                raise WireGuardError(where + ".peers", "expected a list of transport addresses")
            dst: list[str] = []
            for j, peer in enumerate(peers):
                ip = check_host_address(peer, "%s.peers[%d]" % (where, j), address.network)
                if ip == address.ip:
                    raise WireGuardError("%s.peers[%d]" % (where, j),
                                         "%s is this host's own transport address (wireguard_edge_address)" % ip)
                if str(ip) in dst:
                    raise WireGuardError("%s.peers[%d]" % (where, j), "%s is listed twice" % ip)
                dst.append(str(ip))
            cluster_address = c.get("address") or ""
            if cluster_address:
                check_transport(cluster_address, where + ".address")
            keys.append(("vni", vni))
            out.update(vni=vni, mtu=mtu, peers=dst, address=cluster_address)
            out["env"] = env_text({
                "MVC_WG_IF": interface, "MVC_VXLAN": vxlan, "MVC_BRIDGE": bridge, "MVC_VNI": vni,
                "MVC_LOCAL": str(address.ip), "MVC_VXLAN_PORT": vxlan_port, "MVC_MTU": mtu,
                "MVC_PEERS": " ".join(dst), "MVC_ADDRESS": cluster_address})
        for kind, value in keys:
            if (kind, value) in seen:
                raise WireGuardError("%s.%s" % (where, kind), "%r is already used by %s; clusters on one host never "
                                     "share a %s" % (value, seen[kind, value], kind))
            seen[kind, value] = where
        clusters.append(out)
    hub = {"name": "hub", "public_key": hub_key, "endpoint": p.get("hub_endpoint"),
           "allowed_ips": str(address.network), "keepalive": keepalive}
    return {
        "interface": interface, "address": str(address), "implementation": implementation, "mtu": wg_mtu,
        "cluster_mtu": max_mtu, "forward": False,
        "config": config_text("cmc.mvc WireGuard edge %s of %s: the hub only (hub and spoke)" % (interface, host),
                              {}, [hub]),
        "clusters": clusters,
    }
