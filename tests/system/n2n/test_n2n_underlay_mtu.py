# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The n2n_edge role's MTU check, in a network namespace made here whose path toward the supernode is smaller than
1500 bytes: cmc.mvc.n2n_info reads it, and the role fails naming the field before it changes anything."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

KEY = "underlay-mtu-test-key"


def _ip(*args, ns=None):
    argv = ["ip"] + (["-n", ns] if ns else []) + list(args)
    subprocess.run(argv, check=True, timeout=30, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.fixture
def small_underlay():
    """A namespace whose only device has MTU 1400; 198.51.100.0/24 is routed with its own MTU of 1300."""
    if os.geteuid() != 0:
        raise RuntimeError("this test makes a network namespace: run it as root")
    ns = "mvc-mtu-%d" % os.getpid()
    _ip("netns", "add", ns)
    try:
        _ip("link", "add", "v0", "type", "veth", "peer", "name", "v1", ns=ns)
        _ip("link", "set", "v0", "mtu", "1400", "up", ns=ns)
        _ip("link", "set", "v1", "up", ns=ns)
        _ip("addr", "add", "192.0.2.1/24", "dev", "v0", ns=ns)
        _ip("route", "add", "default", "via", "192.0.2.2", ns=ns)
        _ip("route", "add", "198.51.100.0/24", "via", "192.0.2.2", "mtu", "lock", "1300", ns=ns)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "delete", ns], check=False, timeout=30)  # takes the veths along


def _playbook(ns, tmp_path, tasks, *args):
    play = tmp_path / "play.yml"
    play.write_text("- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n" + tasks)
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_STDOUT_CALLBACK="default")
    return subprocess.run(["ip", "netns", "exec", ns, "ansible-playbook", "-i", "localhost,",
                           "-e", "ansible_python_interpreter=" + sys.executable, str(play)] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=300,
                          check=False)


def test_n2n_info_reports_the_device_and_route_mtu_toward_each_supernode(small_underlay, tmp_path):
    out = tmp_path / "out.json"
    tasks = """
    - name: Read the paths
      cmc.mvc.n2n_info:
        config_dir: %s
        supernodes: ["203.0.113.5:7654", "198.51.100.7"]
      register: paths
    - name: Keep them
      ansible.builtin.copy:
        content: "{{ paths.underlays | to_json }}"
        dest: %s
        mode: "0600"
""" % (tmp_path / "none", out)
    p = _playbook(small_underlay, tmp_path, tasks)
    assert p.returncode == 0, p.stdout
    assert json.loads(out.read_text()) == [
        {"supernode": "203.0.113.5:7654", "address": "203.0.113.5", "interface": "v0", "interface_mtu": 1400,
         "route_mtu": None, "mtu": 1400},
        {"supernode": "198.51.100.7", "address": "198.51.100.7", "interface": "v0", "interface_mtu": 1400,
         "route_mtu": 1300, "mtu": 1300},
    ]


@pytest.mark.parametrize("supernode, path_mtu, largest", [
    ("203.0.113.5:7654", 1400, 1264), ("198.51.100.7:7654", 1300, 1164)])
def test_the_edge_role_refuses_an_mtu_too_large_for_the_path_before_any_change(small_underlay, tmp_path, supernode,
                                                                               path_mtu, largest):
    cluster = "mtu%d" % os.getpid()
    tasks = """
    - name: An edge whose MTU does not fit
      ansible.builtin.include_role:
        name: cmc.mvc.n2n_edge
      vars:
        n2n_edge_supernode: "%s"
        n2n_edge_clusters:
          - {name: %s, community: %s, key: %s, mtu: 1360}
""" % (supernode, cluster, cluster, KEY)
    p = _playbook(small_underlay, tmp_path, tasks, "-vvv")
    assert p.returncode != 0, p.stdout
    assert ("n2n_edge_clusters[0].mtu: 1360 does not fit the path from localhost to the supernode %s (v0, MTU %d): "
            "N2N v1 adds 136 bytes to each packet, so the largest edge MTU there is %d." % (supernode, path_mtu, largest)
            ) in p.stdout, p.stdout
    assert KEY not in p.stdout
    # Failed before the first change on this host.
    assert not os.path.exists("/etc/n2n/mvc/%s.env" % cluster)
    assert not os.path.exists("/sys/class/net/mvc-%s" % cluster)
    assert "changed=0" in p.stdout, p.stdout


def test_the_check_alone_passes_an_mtu_that_fits_and_changes_nothing(small_underlay, tmp_path):
    cluster = "mtuok%d" % os.getpid()
    tasks = """
    - name: Check an edge whose MTU fits (1400 - 136)
      ansible.builtin.include_role:
        name: cmc.mvc.n2n_edge
        tasks_from: check
      vars:
        n2n_edge_supernode: "203.0.113.5:7654"
        n2n_edge_clusters:
          - {name: %s, community: %s, key: %s, mtu: 1264}
""" % (cluster, cluster, KEY)
    p = _playbook(small_underlay, tmp_path, tasks, "-vvv")
    assert p.returncode == 0, p.stdout
    assert "Check that every edge's MTU fits the path toward its supernode" in p.stdout
    # Both the read and the check ran (skipped=0), and nothing changed.
    assert "changed=0" in p.stdout and "failed=0" in p.stdout and "skipped=0" in p.stdout, p.stdout
    assert KEY not in p.stdout
    assert not os.path.exists("/etc/n2n/mvc/%s.env" % cluster)
