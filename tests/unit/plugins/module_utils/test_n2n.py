# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendered N2N command lines and config files, checked against each version's documentation."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.cmc.mvc.plugins.module_utils import _n2n as n2n

# Options each version documents, and whether they take a value.
# v1: Debian n2n 1.3.1~svn3789 edge(8) and `edge -h` ("n2n v.1.3.2"):
#   edge -d <tun device> -a <tun IP address> -c <community> -k <encrypt key> -s <netmask> [-u <uid> -g <gid>][-f]
#   [-m <MAC address>] -l <supernode host:port> [-p <local port>] [-M <mtu>] [-t] [-r] [-v] [-b] [-h]
V1_EDGE = {"-d": True, "-a": True, "-c": True, "-k": True, "-s": True, "-u": True, "-g": True, "-f": False,
           "-m": True, "-l": True, "-p": True, "-M": True, "-t": False, "-r": False, "-v": False, "-b": False}
# v1 supernode(1): supernode -l <port> [-v]
V1_SUPERNODE = {"-l": True, "-v": False}
# v2 (ntop 2.4-2.8) `edge -h` of 2.5.0: edge <config file> | edge -d -a [static:|dhcp:]<ip> -c [-k] [-s] [-u -g][-f]
#   [-m] -l [-p] [-M] [-r] [-E] [-v] [-i] [-t] [-b] [-A] [-h]; "-f Do not fork", "-A Use AES CBC", "-a dhcp:0.0.0.0".
V2_EDGE = {"-d": True, "-a": True, "-c": True, "-k": True, "-s": True, "-u": True, "-g": True, "-f": False,
           "-m": True, "-l": True, "-p": True, "-M": True, "-r": False, "-E": False, "-v": False, "-i": True,
           "-t": True, "-b": False, "-A": False, "-L": True}
# v3 (ntop 3.x) doc/Crypto.md: -A1 null, -A2 Twofish, -A3 AES, -A4 ChaCha20, -A5 SPECK; -f foreground; -r; -E.
V3_EDGE = dict(V2_EDGE, **{"-A1": False, "-A2": False, "-A3": False, "-A4": False, "-A5": False})
del V3_EDGE["-A"]
# v3 supernode(1) "version 3": -p <local port> (defaults to 7654), -f foreground; -l is a federation peer.
V3_SUPERNODE = {"-p": True, "-f": False, "-F": True, "-l": True, "-m": True, "-M": False, "-c": True,
                "-a": True, "-t": True, "-v": False, "-u": True, "-g": True}
# v2 supernode: -l <lport> main UDP port, -f foreground, -v.
V2_SUPERNODE = {"-l": True, "-f": False, "-v": False}
# doc/ConfigurationFiles.md: one option per line, "-c=mynetwork", no whitespace around '=', '#' comments.
CONFIG_LINE = re.compile(r"^(#.*|-[A-Za-z0-9]+(=\S+)?)$")

KEY = "k3y-Not-On-Any-Command-Line"
BASE = {"name": "lab1", "community": "mvc-lab1", "key": KEY, "supernode": "198.51.100.10:7654",
        "mac": "00:16:3e:00:00:01"}


def argv_options(argv, documented):
    """Walk argv (after the binary) as the documented getopt would: every option known, values where due."""
    seen = {}
    i = 1
    while i < len(argv):
        opt = argv[i]
        assert opt in documented, "%s is not a documented option" % opt
        if documented[opt]:
            seen[opt] = argv[i + 1]
            i += 2
        else:
            seen[opt] = None
            i += 1
    return seen


def config_options(text, documented):
    seen = {}
    for line in text.splitlines():
        assert CONFIG_LINE.match(line), "bad config line %r" % line
        if line.startswith("#"):
            continue
        opt, value = line.split("=", 1) if "=" in line else (line, "")
        assert opt in documented, "%s is not a documented option" % opt
        assert bool(value) == documented[opt], "%s: value presence does not match the docs" % opt
        seen[opt] = value or None
    return seen


def test_v1_edge_command_line_matches_the_debian_man_page():
    r = n2n.render_edge(dict(BASE, version=1))
    assert r["argv"][0] == "/usr/sbin/edge"
    opts = argv_options(r["argv"], V1_EDGE)
    assert opts == {"-d": "n2n-lab1", "-a": "0.0.0.0", "-c": "mvc-lab1", "-l": "198.51.100.10:7654",
                    "-m": "00:16:3e:00:00:01", "-M": "1360", "-r": None}
    # -f forks in v1 (systemd wants the foreground), -k would show the key in ps.
    assert "-f" not in opts and "-k" not in opts
    assert r["config"] is None
    assert r["env"]["N2N_KEY"] == KEY
    assert r["env"]["MVC_EDGE_ARGS"] == " ".join(r["argv"][1:])


@pytest.mark.parametrize("version", [1, 2, 3])
def test_key_only_in_the_environment_file(version):
    r = n2n.render_edge(dict(BASE, version=version))
    assert KEY not in " ".join(r["argv"])
    assert KEY not in (r["config"] or "")
    assert KEY not in r["env"]["MVC_EDGE_ARGS"]
    assert 'N2N_KEY="%s"' % KEY in r["env_file"]
    assert "N2N_KEY" not in n2n.parse_env_file(r["env_file"])
    assert n2n.parse_env_file(r["env_file"])["MVC_TAP"] == "n2n-lab1"


def test_v2_edge_config_file_matches_the_v2_docs():
    r = n2n.render_edge(dict(BASE, version=2))
    assert r["argv"] == ["/usr/sbin/edge", "/etc/n2n/mvc/lab1.conf"]
    assert r["config_path"] == "/etc/n2n/mvc/lab1.conf"
    opts = config_options(r["config"], V2_EDGE)
    assert opts == {"-d": "n2n-lab1", "-a": "dhcp:0.0.0.0", "-c": "mvc-lab1", "-l": "198.51.100.10:7654",
                    "-m": "00:16:3e:00:00:01", "-M": "1360", "-r": None, "-f": None}
    aes = config_options(n2n.render_edge(dict(BASE, version=2, cipher="aes"))["config"], V2_EDGE)
    assert "-A" in aes


@pytest.mark.parametrize("cipher, flag", [(None, "-A3"), ("aes", "-A3"), ("twofish", "-A2"),
                                          ("chacha20", "-A4"), ("speck", "-A5")])
def test_v3_edge_config_file_and_ciphers_match_the_v3_docs(cipher, flag):
    r = n2n.render_edge(dict(BASE, version=3, cipher=cipher))
    opts = config_options(r["config"], V3_EDGE)
    assert flag in opts
    assert [o for o in opts if o.startswith("-A")] == [flag]
    assert opts["-f"] is None and opts["-r"] is None and opts["-a"] == "dhcp:0.0.0.0"


@pytest.mark.parametrize("version, cipher", [(1, "aes"), (2, "speck"), (3, "none"), (3, "rot13")])
def test_cipher_the_version_lacks_is_refused(version, cipher):
    with pytest.raises(n2n.N2NError) as err:
        n2n.render_edge(dict(BASE, version=version, cipher=cipher))
    assert err.value.field == "cipher"


def test_supernode_per_version():
    v1 = n2n.render_supernode({"version": 1, "port": 7777})
    assert v1["argv"] == ["/usr/bin/supernode", "-l", "7777"]
    assert argv_options(v1["argv"], V1_SUPERNODE) == {"-l": "7777"}
    v2 = n2n.render_supernode({"version": 2, "port": 7777})
    assert config_options(v2["config"], V2_SUPERNODE) == {"-l": "7777", "-f": None}
    v3 = n2n.render_supernode({"version": 3, "port": 7777})
    assert config_options(v3["config"], V3_SUPERNODE) == {"-p": "7777", "-f": None}
    assert v3["argv"] == ["/usr/sbin/supernode", "/etc/n2n/mvc/supernode.conf"]


@pytest.mark.parametrize("version, good, bad", [(1, 16, 17), (2, 16, 17), (3, 19, 20)])
def test_community_length_per_version(version, good, bad):
    assert n2n.render_edge(dict(BASE, version=version, community="c" * good))["settings"]["community"]
    with pytest.raises(n2n.N2NError) as err:
        n2n.render_edge(dict(BASE, version=version, community="c" * bad))
    assert err.value.field == "community"


@pytest.mark.parametrize("patch, field", [
    ({"community": ""}, "community"),
    ({"community": None}, "community"),
    ({"community": "has space"}, "community"),
    ({"key": ""}, "key"),
    ({"key": None}, "key"),
    ({"key": 'quo"te'}, "key"),
    ({"address": "10.200.1.300/24"}, "address"),
    ({"address": "10.200.1.1"}, "address"),
    ({"address": "10.200.1.1/33"}, "address"),
    ({"address": "10.200.1.0/24"}, "address"),
    ({"address": "10.200.1.1/255.255.0.255"}, "address"),
    ({"supernode": "198.51.100.10:0"}, "supernode"),
    ({"supernode": "198.51.100.10:65536"}, "supernode"),
    ({"supernode": "198.51.100.10"}, "supernode"),
    ({"supernode": "bad host:7654"}, "supernode"),
    ({"version": 4}, "version"),
    ({"version": "1.5"}, "version"),
    ({"version": None}, "version"),
    ({"mac": "01:16:3e:00:00:01"}, "mac"),
    ({"mac": "00:16:3e:00:00"}, "mac"),
    ({"mtu": 9000}, "mtu"),
    ({"name": "Lab1"}, "name"),
    ({"tap": "a-name-longer-than-15"}, "tap"),
    ({"bridge": "n2n-lab1"}, "bridge"),
    # "$" matches before a final newline: each of these once got through.
    ({"name": "lab1\n"}, "name"),
    ({"community": "lab1\n"}, "community"),
    ({"supernode": "sn.example.org\n:7654"}, "supernode"),
    ({"mac": "00:16:3e:00:00:01\n"}, "mac"),
    ({"tap": "mvc-lab1\n"}, "tap"),
])
def test_bad_input_names_the_field(patch, field):
    with pytest.raises(n2n.N2NError) as err:
        n2n.render_edge(dict(BASE, **patch))
    assert err.value.field == field
    assert str(err.value).startswith(field + ": ")
    assert KEY not in str(err.value)


def test_address_with_a_dotted_netmask_is_accepted_and_normalised():
    r = n2n.render_edge(dict(BASE, address="10.200.1.1/255.255.255.0"))
    assert r["settings"]["address"] == "10.200.1.1/24"
    assert r["env"]["MVC_ADDRESS"] == "10.200.1.1/24"


@pytest.mark.parametrize("port", [0, 65536, -1, "x", True, "7654 "])
def test_supernode_port_out_of_range(port):
    with pytest.raises(n2n.N2NError) as err:
        n2n.render_supernode({"version": 1, "port": port})
    assert err.value.field == "port"


def test_short_interface_names_are_kept():
    assert n2n.ifname("mvc-", "lab1") == "mvc-lab1"
    assert n2n.ifname("n2n-", "abcdefghijk") == "n2n-abcdefghijk"  # exactly 15


def test_long_interface_names_are_shortened_with_a_hash():
    a = n2n.ifname("mvc-", "isolation-cluster-2")
    b = n2n.ifname("mvc-", "isolation-cluster-3")
    assert len(a) == len(b) == 15
    assert a.startswith("mvc-isolat-") and a != b
    assert a == n2n.ifname("mvc-", "isolation-cluster-2")


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True))
def test_every_cluster_name_gives_usable_interface_names(name):
    r = n2n.render_edge(dict(BASE, name=name))
    for dev in (r["settings"]["tap"], r["settings"]["bridge"]):
        assert len(dev) <= 15 and re.match(r"^[a-z0-9-]+$", dev)
    assert r["settings"]["tap"] != r["settings"]["bridge"]


def test_default_mac_is_stable_unicast_xen():
    params = dict(BASE)
    del params["mac"]
    one = n2n.render_edge(params, host="dom0-a")["settings"]["mac"]
    assert one == n2n.render_edge(params, host="dom0-a")["settings"]["mac"]
    assert one != n2n.render_edge(params, host="dom0-b")["settings"]["mac"]
    assert one.startswith("00:16:3e:") and int(one.split(":")[0], 16) & 1 == 0


@pytest.mark.parametrize("route, interface_mtu, mtu, route_mtu", [
    # ip -j route get, iproute2 6.1: a plain route, one with "mtu lock 1300", and a path MTU the kernel learned.
    ({"dst": "198.51.100.7", "gateway": "192.0.2.2", "dev": "eth0", "prefsrc": "192.0.2.1", "flags": [], "uid": 0,
      "cache": []}, 1500, 1500, None),
    ({"dst": "198.51.100.7", "gateway": "192.0.2.2", "dev": "eth0", "metrics": [{"mtu": 1300}]}, 1400, 1300, 1300),
    ({"dst": "198.51.100.7", "dev": "eth0", "cache": ["expires"], "metrics": [{"mtu": 1492}]}, 9000, 1492, 1492),
    ({"dst": "198.51.100.7", "dev": "eth0", "metrics": [{"mtu": 1500}]}, 1400, 1400, 1500),
    ({"dst": "198.51.100.7", "dev": "gone0"}, None, None, None),
])
def test_the_underlay_mtu_is_the_smaller_of_the_device_and_the_route(route, interface_mtu, mtu, route_mtu):
    path = n2n.underlay("sn:7654", "198.51.100.7", route, interface_mtu)
    assert path == {"supernode": "sn:7654", "address": "198.51.100.7", "interface": route["dev"],
                    "interface_mtu": interface_mtu, "route_mtu": route_mtu, "mtu": mtu}


def test_the_overhead_is_in_the_settings_for_the_mtu_check():
    base = {"name": "c1", "community": "mvc-c1", "key": "k", "supernode": "sn:7654"}
    assert n2n.edge_settings(dict(base, version=1))["overhead"] == 136
    assert n2n.edge_settings(dict(base, version=3))["overhead"] == 96
    # 1500 - 136: the measured v1 limit on a 1500-byte path is above the default.
    assert n2n.DEFAULT_MTU <= 1500 - n2n.OVERHEAD[1]
