# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cmc.mvc.plugins.filter.n2n import n2n_edges, n2n_mtu_problems, n2n_supernode

C1 = {"name": "c1", "community": "mvc-c1", "key": "k1-secret"}
C2 = {"name": "c2", "community": "mvc-c2", "key": "k2-secret"}


def test_two_clusters_render_with_the_default_supernode():
    out = n2n_edges([C1, C2], supernode="198.51.100.10:7654", host="a1")
    assert [e["settings"]["supernode"] for e in out] == ["198.51.100.10:7654"] * 2
    assert [e["state"] for e in out] == ["present", "present"]


@pytest.mark.parametrize("other, field", [
    (dict(C2, community="mvc-c1"), "n2n_edge_clusters[1].community"),
    (dict(C2, bridge="mvc-c1"), "n2n_edge_clusters[1].bridge"),
    (dict(C2, tap="n2n-c1"), "n2n_edge_clusters[1].tap"),
    (dict(C1), "n2n_edge_clusters[1].name"),
])
def test_clusters_on_one_host_share_nothing(other, field):
    with pytest.raises(AnsibleFilterError) as err:
        n2n_edges([C1, other], supernode="198.51.100.10:7654")
    assert str(err.value).startswith(field)


def test_errors_name_the_list_entry_and_hide_the_key():
    with pytest.raises(AnsibleFilterError) as err:
        n2n_edges([C1, dict(C2, community="")], supernode="198.51.100.10:7654")
    assert str(err.value).startswith("n2n_edge_clusters[1].community: ")
    with pytest.raises(AnsibleFilterError) as err:
        n2n_edges([C1], supernode=None)
    assert "n2n_edge_clusters[0].supernode (or n2n_edge_supernode)" in str(err.value)
    with pytest.raises(AnsibleFilterError) as err:
        n2n_edges([C1], version=9, supernode="198.51.100.10:7654")
    assert str(err.value).startswith("n2n_edge_version: ")
    with pytest.raises(AnsibleFilterError) as err:
        n2n_edges([dict(C1, key="bad'key")], supernode="198.51.100.10:7654")
    assert "bad'key" not in str(err.value)


def test_absent_cluster_needs_no_supernode_either():
    out = n2n_edges([{"name": "lab1", "state": "absent"}])
    assert out[0]["state"] == "absent" and out[0]["settings"]["bridge"] == "mvc-lab1"
    with pytest.raises(AnsibleFilterError, match="supernode"):
        n2n_edges([dict(C1, state="present")])


def test_absent_cluster_needs_no_key_or_community():
    out = n2n_edges([{"name": "isolation-cluster-2", "state": "absent"}], supernode="198.51.100.10:7654")
    assert out[0]["state"] == "absent"
    assert out[0]["settings"]["bridge"] == "mvc-isolat-daf6"
    assert out[0]["settings"]["tap"] == "n2n-isolat-daf6"


def test_bad_state_is_refused():
    with pytest.raises(AnsibleFilterError) as err:
        n2n_edges([dict(C1, state="gone")], supernode="198.51.100.10:7654")
    assert str(err.value).startswith("n2n_edge_clusters[0].state")


def test_supernode_filter_names_the_role_variable():
    assert n2n_supernode(7777, 1)["argv"] == ["/usr/bin/supernode", "-l", "7777"]
    with pytest.raises(AnsibleFilterError) as err:
        n2n_supernode(70000, 1)
    assert str(err.value).startswith("n2n_supernode_port: ")
    with pytest.raises(AnsibleFilterError) as err:
        n2n_supernode(7654, 5)
    assert str(err.value).startswith("n2n_supernode_version: ")


@pytest.mark.parametrize("version", [1, 2, 3])
def test_v1_edge_drops_to_nobody_v2_v3_drop_by_themselves(version):
    out = n2n_edges([C1], version=version, supernode="198.51.100.10:7654")[0]
    if version == 1:
        assert out["env"]["MVC_EDGE_PRIVDROP"] == "-u 65534 -g 65534"
        assert 'MVC_EDGE_PRIVDROP="-u 65534 -g 65534"' in out["env_file"]
        assert out["argv"][-4:] == ["-u", "65534", "-g", "65534"]
    else:
        assert "MVC_EDGE_PRIVDROP" not in out["env"] and "MVC_EDGE_PRIVDROP" not in out["env_file"]
    # The key is still in the environment file only.
    assert 'N2N_KEY="k1-secret"' in out["env_file"]
    assert "k1-secret" not in " ".join(out["argv"]) and "k1-secret" not in (out["config"] or "")


def _path(mtu, supernode="198.51.100.10:7654", interface="eth0"):
    return {"supernode": supernode, "address": "198.51.100.10", "interface": interface, "mtu": mtu}


@pytest.mark.parametrize("version, mtu, path_mtu, largest", [
    (1, 1360, 1500, None), (1, 1364, 1500, None), (1, 1365, 1500, 1364), (1, 1360, 1492, 1356),
    (3, 1404, 1500, None), (3, 1405, 1500, 1404), (2, 1400, 1500, 1364),
])
def test_an_edge_mtu_must_leave_room_for_n2n_on_the_path(version, mtu, path_mtu, largest):
    edges = n2n_edges([dict(C1, mtu=mtu, version=version, cipher="aes" if version > 1 else None)],
                      supernode="198.51.100.10:7654", host="a1")
    problems = n2n_mtu_problems(edges, [_path(path_mtu, interface="ppp0")], host="a1")
    if largest is None:
        assert problems == []
    else:
        assert problems == [
            "n2n_edge_clusters[0].mtu: %d does not fit the path from a1 to the supernode 198.51.100.10:7654 (ppp0, MTU "
            "%d): N2N v%d adds %d bytes to each packet, so the largest edge MTU there is %d. Give every node of the "
            "cluster an MTU of at most %d." % (mtu, path_mtu, version, path_mtu - largest, largest, largest)]


def test_each_edge_is_checked_against_its_own_supernode_and_absent_ones_not_at_all():
    edges = n2n_edges([dict(C1, mtu=1400, supernode="sn-a:7654"), dict(C2, mtu=1264, supernode="sn-b:7654"),
                       {"name": "c3", "mtu": 1500, "state": "absent"}], host="a1")
    paths = [_path(1400, "sn-a:7654"), _path(1400, "sn-b:7654")]
    problems = n2n_mtu_problems(edges, paths, host="a1")
    assert len(problems) == 1 and problems[0].startswith("n2n_edge_clusters[0].mtu: 1400 ")
    # A supernode whose path was not read, or has no MTU, is not judged.
    assert n2n_mtu_problems(edges, [dict(_path(1400, "sn-a:7654"), mtu=None)]) == []
    assert "k1-secret" not in " ".join(problems)
