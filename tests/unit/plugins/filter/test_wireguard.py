# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import base64

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cmc.mvc.plugins.filter.wireguard import wireguard_edge, wireguard_hub

K1 = base64.b64encode(bytes(range(32))).decode()
K2 = base64.b64encode(bytes(range(1, 33))).decode()
K3 = base64.b64encode(bytes(range(2, 34))).decode()

HUB = {"interface": "wg-mvc", "port": 51820, "address": "10.250.0.1/24", "implementation": "kernel",
       "underlay_mtu": 1500, "underlay_family": "ipv6",
       "peers": [{"name": "a1", "public_key": K1, "address": "10.250.0.11"},
                 {"name": "b1", "public_key": K2, "address": "10.250.0.21"}]}
EDGE = {"interface": "wg-mvc", "address": "10.250.0.11/24", "implementation": "userspace", "underlay_mtu": 1500,
        "underlay_family": "ipv4", "hub_endpoint": "198.51.100.10:51820", "hub_public_key": K3, "keepalive": 25,
        "vxlan_port": 4789, "state": "present",
        "clusters": [{"name": "c1", "vni": 101, "peers": ["10.250.0.21", "10.250.0.12"], "address": "10.200.1.1/24"},
                     {"name": "isolation-cluster-2", "vni": 102, "peers": ["10.250.0.22"]}]}


def fails(fn, *args, **kw):
    with pytest.raises(AnsibleFilterError) as err:
        fn(*args, **kw)
    return str(err.value)


def test_hub_renders_one_peer_per_dom0_with_its_32_and_no_private_key():
    out = wireguard_hub(HUB)
    assert out["mtu"] == 1420 and out["cluster_mtu"] == 1370 and out["forward"]
    assert "ListenPort = 51820" in out["config"]
    assert "PublicKey = %s\nAllowedIPs = 10.250.0.11/32" % K1 in out["config"]
    assert "AllowedIPs = 10.250.0.21/32" in out["config"]
    assert "PrivateKey" not in out["config"] and "Endpoint" not in out["config"]


@pytest.mark.parametrize("patch, field", [
    ({"port": 0}, "wireguard_hub_port"),
    ({"address": "10.250.0.0/24"}, "wireguard_hub_address"),
    ({"address": "10.250.0.1"}, "wireguard_hub_address"),
    ({"implementation": "boringtun"}, "wireguard_hub_implementation"),
    ({"underlay_family": "ipx"}, "wireguard_hub_underlay_family"),
    ({"underlay_mtu": 1400}, "wireguard_hub_underlay_mtu"),
    ({"interface": "a-name-far-too-long"}, "wireguard_hub_interface"),
])
def test_hub_errors_name_the_variable(patch, field):
    assert fails(wireguard_hub, dict(HUB, **patch)).startswith(field + ": ")


@pytest.mark.parametrize("peer, field", [
    ({"name": "a1"}, "wireguard_hub_peers[1].name"),
    ({"address": "10.250.0.11"}, "wireguard_hub_peers[1].address"),
    ({"address": "10.250.0.1"}, "wireguard_hub_peers[1].address"),
    ({"address": "10.251.0.5"}, "wireguard_hub_peers[1].address"),
    ({"address": "10.250.0.21/24"}, "wireguard_hub_peers[1].address"),
    ({"public_key": K1}, "wireguard_hub_peers[1].public_key"),
    ({"public_key": "not-a-key"}, "wireguard_hub_peers[1].public_key"),
    ({"public_key": base64.b64encode(b"x" * 31).decode() + "="}, "wireguard_hub_peers[1].public_key"),
    ({"public_key": ""}, "wireguard_hub_peers[1].public_key"),
])
def test_hub_peers_are_checked_and_unique(peer, field):
    bad = dict(HUB, peers=[HUB["peers"][0], dict(HUB["peers"][1], **peer)])
    assert fails(wireguard_hub, bad).startswith(field + ": ")


def test_check_mode_accepts_a_key_not_made_yet():
    bad = dict(HUB, peers=[dict(HUB["peers"][0], public_key="")])
    assert "not known yet" in wireguard_hub(bad, check_mode=True)["config"]
    assert "PublicKey =" not in wireguard_edge(dict(EDGE, hub_public_key=None), check_mode=True)["config"]
    assert fails(wireguard_edge, dict(EDGE, hub_public_key="")).startswith("wireguard_edge_hub_public_key: ")


def test_edge_dials_the_hub_with_keepalive_and_routes_the_transport_network():
    out = wireguard_edge(EDGE, host="a1")
    assert out["mtu"] == 1440 and out["cluster_mtu"] == 1390
    assert ("PublicKey = %s\nEndpoint = 198.51.100.10:51820\nAllowedIPs = 10.250.0.0/24\nPersistentKeepalive = 25"
            % K3) in out["config"]
    assert "PrivateKey" not in out["config"] and "ListenPort" not in out["config"]


def test_edge_clusters_get_their_vni_bridge_and_fdb_peers():
    c1, c2 = wireguard_edge(EDGE)["clusters"]
    assert (c1["vxlan"], c1["bridge"], c1["vni"], c1["mtu"]) == ("vx-c1", "mvc-c1", 101, 1390)
    assert 'MVC_PEERS="10.250.0.21 10.250.0.12"\n' in c1["env"]
    assert 'MVC_LOCAL="10.250.0.11"\n' in c1["env"] and 'MVC_ADDRESS="10.200.1.1/24"\n' in c1["env"]
    # Long names are shortened like the n2n edge's (same bridge for the same cluster).
    assert (c2["vxlan"], c2["bridge"]) == ("vx-isolati-daf6", "mvc-isolat-daf6")
    assert c2["env_path"] == "/etc/wireguard/mvc/vxlan-isolation-cluster-2.env"


@pytest.mark.parametrize("family, mtu, wg, cluster", [("ipv4", 1500, 1440, 1390), ("ipv6", 1500, 1420, 1370),
                                                      ("ipv4", 1492, 1432, 1382), ("ipv6", 1410, 1330, 1280)])
def test_mtu_is_underlay_minus_wireguard_minus_vxlan(family, mtu, wg, cluster):
    out = wireguard_edge(dict(EDGE, underlay_family=family, underlay_mtu=mtu))
    assert (out["mtu"], out["cluster_mtu"], out["clusters"][0]["mtu"]) == (wg, cluster, cluster)


@pytest.mark.parametrize("patch, field", [
    ({"underlay_mtu": 1389}, "wireguard_edge_underlay_mtu"),
    ({"underlay_mtu": "big"}, "wireguard_edge_underlay_mtu"),
    ({"hub_endpoint": "198.51.100.10"}, "wireguard_edge_hub_endpoint"),
    ({"hub_endpoint": "198.51.100.10:70000"}, "wireguard_edge_hub_endpoint"),
    ({"hub_endpoint": "[2001:db8::1]:51820"}, "wireguard_edge_underlay_family"),
    ({"keepalive": 0}, "wireguard_edge_keepalive"),
    ({"vxlan_port": "x"}, "wireguard_edge_vxlan_port"),
    ({"address": "10.250.0.255/24"}, "wireguard_edge_address"),
])
def test_edge_errors_name_the_variable(patch, field):
    assert fails(wireguard_edge, dict(EDGE, **patch)).startswith(field + ": ")


@pytest.mark.parametrize("patch, field", [
    ({"vni": 0}, "wireguard_edge_clusters[1].vni"),
    ({"vni": 2 ** 24}, "wireguard_edge_clusters[1].vni"),
    ({"vni": 101}, "wireguard_edge_clusters[1].vni"),
    ({"vni": True}, "wireguard_edge_clusters[1].vni"),
    ({"name": "c1"}, "wireguard_edge_clusters[1].name"),
    ({"name": "Bad_Name"}, "wireguard_edge_clusters[1].name"),
    ({"bridge": "mvc-c1"}, "wireguard_edge_clusters[1].bridge"),
    ({"vxlan": "vx-c1"}, "wireguard_edge_clusters[1].vxlan"),
    ({"mtu": 1200}, "wireguard_edge_clusters[1].mtu"),
    ({"mtu": 1391}, "wireguard_edge_clusters[1].mtu"),
    ({"peers": ["10.250.0.11"]}, "wireguard_edge_clusters[1].peers[0]"),
    ({"peers": ["10.250.0.22", "10.250.0.22"]}, "wireguard_edge_clusters[1].peers[1]"),
    ({"peers": ["192.0.2.1"]}, "wireguard_edge_clusters[1].peers[0]"),
    ({"address": "10.200.2.0/24"}, "wireguard_edge_clusters[1].address"),
    ({"state": "gone"}, "wireguard_edge_clusters[1].state"),
])
def test_edge_clusters_are_checked_and_share_nothing(patch, field):
    bad = dict(EDGE, clusters=[EDGE["clusters"][0], dict(EDGE["clusters"][1], **patch)])
    assert fails(wireguard_edge, bad).startswith(field + ": ")


def test_removal_needs_names_only():
    listed = [{"name": "c1"}, {"name": "c9", "state": "present", "vni": 0}]
    out = wireguard_edge(dict(EDGE, state="absent", clusters=listed))
    assert [(c["name"], c["state"], c["bridge"]) for c in out["clusters"]] == [
        ("c1", "absent", "mvc-c1"), ("c9", "absent", "mvc-c9")]
    one = wireguard_edge(dict(EDGE, clusters=[EDGE["clusters"][0], {"name": "c2", "state": "absent"}]))
    assert [c["state"] for c in one["clusters"]] == ["present", "absent"] and "env" not in one["clusters"][1]


def test_removal_of_everything_needs_no_address_key_or_endpoint():
    out = wireguard_edge({"interface": "wg-mvc", "implementation": "kernel", "vxlan_port": 4789, "state": "absent",
                          "clusters": [{"name": "c1"}]})
    assert out["clusters"][0]["state"] == "absent" and out["interface"] == "wg-mvc"
    # Names only, as the entry point remove_clusters passes them.
    out = wireguard_edge({"interface": "wg-mvc", "state": "absent", "clusters": [{"name": "c1"}, {"name": "c2"}]})
    assert [(c["name"], c["state"], c["vxlan"]) for c in out["clusters"]] == [("c1", "absent", "vx-c1"),
                                                                              ("c2", "absent", "vx-c2")]
    hub = wireguard_hub({"interface": "wg-mvc", "port": 51820, "implementation": "kernel", "state": "absent",
                         "peers": [{"name": "x"}]})
    assert hub["peers"] == []
