# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import shlex
from collections.abc import Mapping

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cmc.mvc.plugins.filter.ssh import ssh_argv, ssh_proxy_args

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
    assert command[-3:] == ["-W", "%h:%p", "10.1.255.254"]


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
