# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cmc.mvc.plugins.filter.ssh import ssh_argv, ssh_config, ssh_proxy_args

FRONTEND = dict(ansible_host="198.51.100.11", ansible_user="root", ansible_ssh_private_key_file="/lab/key")
DOM0 = dict(ansible_host="10.1.255.254", ansible_user="root",
            ansible_ssh_common_args="-o ProxyCommand='ssh -i /lab/key -W %h:%p -l root 198.51.100.11'")


def test_ssh_argv_keeps_the_hosts_own_jump():
    argv = ssh_argv(DOM0, ["-o", "BatchMode=yes"])
    assert argv == ["ssh", "-o", "ProxyCommand=ssh -i /lab/key -W %h:%p -l root 198.51.100.11",
                    "-o", "BatchMode=yes", "-l", "root", "10.1.255.254"]
    assert ssh_argv(FRONTEND, forward="%h:%p")[-3:] == ["-W", "%h:%p", "198.51.100.11"]


def test_ssh_proxy_args_double_only_the_inner_percent_tokens():
    args = ssh_proxy_args(DOM0)
    words = shlex.split(args)
    assert words[0] == "-o" and words[1].startswith("ProxyCommand=")
    command = shlex.split(words[1][len("ProxyCommand="):])
    assert command[:3] == ["ssh", "-o", "ProxyCommand=ssh -i /lab/key -W %%h:%%p -l root 198.51.100.11"]
    assert command[-3:] == ["-W", "[%h]:%p", "10.1.255.254"]


def test_a_host_without_address_is_an_error():
    with pytest.raises(AnsibleFilterError, match="ansible_host"):
        ssh_argv({"ansible_user": "root"})


def test_any_mapping_will_do_as_hostvars_give_one():
    class Vars(Mapping):
        def __init__(self, data):
            self.data = data

        def __getitem__(self, key):
            return self.data[key]

        def __iter__(self):
            return iter(self.data)

        def __len__(self):
            return len(self.data)

    assert ssh_argv(Vars(FRONTEND)) == ssh_argv(FRONTEND)


def _blocks(text):
    blocks = {}
    for block in text.split("\nHost ")[1:]:
        lines = block.strip().splitlines()
        blocks[lines[0]] = dict(line.strip().split(" ", 1) for line in lines[1:])
    return blocks


def test_ssh_config_names_each_node_and_goes_through_its_dom0():
    nodes = [{"name": "lab1-frontend", "overlay_ip": "10.200.1.1", "dom0": "d0"},
             {"name": "lab1-compute-0", "overlay_ip": "10.200.1.2", "dom0": "d1"}]
    hostvars = {"d0": DOM0, "d1": dict(DOM0, ansible_host="10.2.255.254")}
    text = ssh_config(nodes, hostvars, user="alice", options=["-o", "BatchMode=yes"], identity="/home/a/.ssh/id")
    blocks = _blocks(text)
    assert sorted(blocks) == ["lab1-compute-0", "lab1-frontend"]
    fe = blocks["lab1-frontend"]
    assert fe["HostName"] == "10.200.1.1" and fe["User"] == "alice" and fe["IdentityFile"] == "/home/a/.ssh/id"
    # The ProxyCommand is the same command as ssh_proxy_args gives, and reaches the node's own Dom0.
    assert fe["ProxyCommand"] == shlex.split(ssh_proxy_args(DOM0, ["-o", "BatchMode=yes"]))[1][len("ProxyCommand="):]
    command = shlex.split(blocks["lab1-compute-0"]["ProxyCommand"])
    assert command[-3:] == ["-W", "[%h]:%p", "10.2.255.254"] and "BatchMode=yes" in command
    assert "%%h:%%p" in blocks["lab1-compute-0"]["ProxyCommand"]  # the Dom0's own jump, escaped


@pytest.mark.parametrize("nodes, hostvars, message", [
    ([{"name": "n", "overlay_ip": "10.0.0.1", "dom0": "gone"}], {"d0": DOM0}, "not in the inventory"),
    ([{"name": "n", "dom0": "d0"}], {"d0": DOM0}, "needs name, overlay_ip and dom0"),
    ([{"name": "n m", "overlay_ip": "10.0.0.1", "dom0": "d0"}], {"d0": DOM0}, "cannot be an ssh_config word"),
])
def test_ssh_config_bad_input(nodes, hostvars, message):
    with pytest.raises(AnsibleFilterError, match=message):
        ssh_config(nodes, hostvars)


def test_ssh_config_user_with_a_space_is_refused():
    with pytest.raises(AnsibleFilterError, match="user"):
        ssh_config([{"name": "n", "overlay_ip": "10.0.0.1", "dom0": "d0"}], {"d0": DOM0}, user="a b")


def test_openssh_reads_the_config_as_meant(tmp_path):
    # ssh -G prints the configuration it would use, without connecting.
    path = tmp_path / "lab1.conf"
    path.write_text(ssh_config([{"name": "lab1-frontend", "overlay_ip": "10.200.1.1", "dom0": "d0"}], {"d0": DOM0},
                               user="alice"))
    out = subprocess.run(["ssh", "-G", "-F", str(path), "lab1-frontend"], capture_output=True, text=True, check=True).stdout
    resolved = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    assert resolved["hostname"] == "10.200.1.1" and resolved["user"] == "alice"
    assert shlex.split(resolved["proxycommand"])[-3:] == ["-W", "[%h]:%p", "10.1.255.254"]
