# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Overlay subnets, addresses and Xen MACs for virtual clusters.

Note that this module util is PRIVATE to the collection. It can have breaking changes at any time.
"""

from __future__ import annotations

import secrets
import traceback
import typing as t

if t.TYPE_CHECKING:
    import random
NETADDR_IMPORT_ERROR: str | None
try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the caller through missing_required_lib
    HAS_NETADDR = False
    NETADDR_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_NETADDR = True
    NETADDR_IMPORT_ERROR = None

from ansible_collections.cmc.mvc.plugins.module_utils._errors import FieldError

XEN_OUI = "00:16:3e"
# Xen's OUI leaves 24 bits; the top bit is kept clear so that MACs made by hand
# (xen-tools, Rocks' own 00:16:3e:7f:..) are less likely to collide with ours.
_XEN_NIC_SPACE = 1 << 23


# Bad addressing input; ``field`` names the request field at fault.
AddressingError = FieldError


def parse_subnet(value: t.Any, field: str = "overlay.subnet") -> netaddr.IPNetwork:
    """Return the IPv4 network written as CIDR in ``value``; the address must be the network address."""
    if not isinstance(value, str) or "/" not in value:
        raise AddressingError(field, "expected an IPv4 network in CIDR form such as 10.200.1.0/24, got %r" % (value,))
    try:
        net = netaddr.IPNetwork(value, version=4)
    except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
        raise AddressingError(field, "%r is not a valid IPv4 CIDR (%s)" % (value, exc))
    if net.ip != net.network:
        raise AddressingError(field, "%r has host bits set; the network is %s" % (value, net.cidr))
    if net.prefixlen > 30:
        raise AddressingError(field, "%s is too small for a cluster (at most /30)" % net)
    return net


def usable_hosts(net: netaddr.IPNetwork) -> int:
    """Number of addresses in ``net`` that nodes can take (network and broadcast excluded)."""
    return max(net.size - 2, 0)


def prefix_for_hosts(count: int, minimum: int = 24) -> int:
    """Longest prefix (smallest subnet) that holds ``count`` hosts, and never smaller than ``/minimum``."""
    if count < 1:
        raise AddressingError("count", "must be at least 1, got %r" % (count,))
    prefix = 30
    while prefix > 0 and (1 << (32 - prefix)) - 2 < count:
        prefix -= 1
    return min(prefix, minimum)


def overlapping(net: netaddr.IPNetwork, others: t.Iterable[netaddr.IPNetwork]) -> list[netaddr.IPNetwork]:
    """The networks in ``others`` that share an address with ``net``."""
    return [o for o in others if net.first <= o.last and o.first <= net.last]


def allocate_subnet(pool: t.Any, prefixlen: int, used: t.Iterable[t.Any], field: str = "overlay.pool") -> netaddr.IPNetwork:
    """First subnet of ``/prefixlen`` inside ``pool`` that overlaps none of ``used``."""
    pool_net = parse_subnet(pool, field)
    if prefixlen < pool_net.prefixlen:
        raise AddressingError(field, "pool %s cannot hold a /%d" % (pool_net, prefixlen))
    taken = sorted((netaddr.IPNetwork(str(u)) for u in used), key=lambda n: n.first)
    step = 1 << (32 - prefixlen)
    candidate = pool_net.first
    for other in taken:
        if other.last < candidate:
            continue
        if other.first >= candidate + step:
            break
        # Skip past this used network, realigned to the subnet size.
        candidate = ((other.last + 1 + step - 1) // step) * step
    if candidate + step - 1 > pool_net.last:
        raise AddressingError(field, "pool %s has no free /%d left" % (pool_net, prefixlen))
    return netaddr.IPNetwork("%s/%d" % (netaddr.IPAddress(candidate), prefixlen))


def host_address(net: netaddr.IPNetwork, index: int) -> netaddr.IPAddress:
    """The ``index``-th usable host address of ``net`` (0 is the first after the network address)."""
    if not 0 <= index < usable_hosts(net):
        raise AddressingError("overlay.subnet", "%s has no host number %d (it holds %d)" % (net, index + 1, usable_hosts(net)))
    return netaddr.IPAddress(net.first + 1 + index)


def normalize_mac(value: t.Any, field: str = "mac") -> str:
    """Lower-case colon form of a MAC; it must carry the Xen OUI 00:16:3e."""
    try:
        mac = netaddr.EUI(value, version=48, dialect=netaddr.mac_unix_expanded)
    except (netaddr.AddrFormatError, TypeError, ValueError):
        raise AddressingError(field, "%r is not a MAC address" % (value,))
    text = str(mac).lower()
    if not text.startswith(XEN_OUI + ":"):
        raise AddressingError(field, "%s is outside the Xen OUI %s" % (text, XEN_OUI))
    return text


def random_xen_mac(taken: t.Iterable[str] = (), rng: random.Random | None = None) -> str:
    """A random unicast MAC under the Xen OUI that is not in ``taken``."""
    rng = rng or secrets.SystemRandom()
    taken = set(taken)
    for _attempt in range(1000):
        nic = rng.randrange(_XEN_NIC_SPACE)
        mac = "%s:%02x:%02x:%02x" % (XEN_OUI, nic >> 16, (nic >> 8) & 0xFF, nic & 0xFF)
        if mac not in taken:
            return mac
    raise AddressingError("mac", "no free MAC found under %s after 1000 tries" % XEN_OUI)
