# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import random

import netaddr
import pytest

from ansible_collections.cmc.mvc.plugins.module_utils import _addressing as addr


@pytest.mark.parametrize("value, message", [
    ("10.200.1.0", "CIDR form"),
    ("10.200.1.5/24", "host bits set"),
    ("10.200.300.0/24", "not a valid IPv4 CIDR"),
    ("10.200.1.0/31", "too small"),
    (None, "CIDR form"),
])
def test_parse_subnet_refuses_bad_input_naming_the_field(value, message):
    with pytest.raises(addr.AddressingError) as err:
        addr.parse_subnet(value, "overlay.subnet")
    assert err.value.field == "overlay.subnet"
    assert str(err.value).startswith("overlay.subnet: ")
    assert message in str(err.value)


def test_parse_subnet_accepts_a_network():
    assert str(addr.parse_subnet("10.200.1.0/24")) == "10.200.1.0/24"


@pytest.mark.parametrize("count, prefix", [(1, 24), (2, 24), (254, 24), (255, 23), (1000, 22)])
def test_prefix_for_hosts(count, prefix):
    assert addr.prefix_for_hosts(count) == prefix


def test_prefix_for_hosts_small_minimum():
    assert addr.prefix_for_hosts(2, minimum=30) == 30
    assert addr.prefix_for_hosts(3, minimum=30) == 29


def test_allocate_subnet_skips_used_and_unaligned():
    used = ["10.200.0.0/24", "10.200.1.128/25", "10.200.3.0/24"]
    got = addr.allocate_subnet("10.200.0.0/16", 24, used)
    assert str(got) == "10.200.2.0/24"
    got = addr.allocate_subnet("10.200.0.0/16", 23, used)
    assert str(got) == "10.200.4.0/23"


def test_allocate_subnet_never_overlaps_property():
    rng = random.Random(7)
    used = []
    for _round in range(60):
        prefix = rng.choice([22, 23, 24, 25, 26])
        net = addr.allocate_subnet("10.200.0.0/16", prefix, used)
        assert net in netaddr.IPNetwork("10.200.0.0/16")
        assert addr.overlapping(net, [netaddr.IPNetwork(u) for u in used]) == []
        used.append(str(net))


def test_allocate_subnet_full_pool():
    with pytest.raises(addr.AddressingError) as err:
        addr.allocate_subnet("10.200.0.0/23", 24, ["10.200.0.0/24", "10.200.1.0/24"])
    assert "no free /24" in str(err.value)
    assert err.value.field == "overlay.pool"


def test_host_address_bounds():
    net = netaddr.IPNetwork("10.9.0.0/29")
    assert [str(addr.host_address(net, i)) for i in range(6)] == ["10.9.0.%d" % i for i in range(1, 7)]
    with pytest.raises(addr.AddressingError):
        addr.host_address(net, 6)


def test_normalize_mac():
    assert addr.normalize_mac("00-16-3E-0A-0B-0C") == "00:16:3e:0a:0b:0c"
    with pytest.raises(addr.AddressingError) as err:
        addr.normalize_mac("52:54:00:00:00:01", field="nodes[0].mac")
    assert "outside the Xen OUI" in str(err.value)
    assert err.value.field == "nodes[0].mac"
    with pytest.raises(addr.AddressingError):
        addr.normalize_mac("not-a-mac")


def test_random_xen_mac_is_unique_and_in_oui():
    rng = random.Random(1)
    seen = set()
    for _round in range(500):
        mac = addr.random_xen_mac(seen, rng=rng)
        assert addr.normalize_mac(mac) == mac
        assert int(mac.split(":")[3], 16) < 0x80
        assert mac not in seen
        seen.add(mac)
