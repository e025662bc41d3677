# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters ssh_argv and ssh_proxy_args: SSH command lines that reach hosts behind chains of jump hosts."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def ssh_argv(hostvars, options=None, forward=None):
    """The ssh argv that reaches the host described by ``hostvars`` (its Ansible connection variables).

    Its own ``ansible_ssh_common_args`` (a ProxyCommand or ProxyJump through its frontend) are kept, so the
    result works from the controller. With ``forward`` (``%h:%p``) it is a ProxyCommand for a host behind it.
    """
    if not isinstance(hostvars, Mapping) or not hostvars.get("ansible_host"):
        raise AnsibleFilterError("ssh_argv: expected the hostvars of a host with ansible_host, got %r" % (hostvars,))
    argv = ["ssh"]
    for key in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
        argv += shlex.split(str(hostvars.get(key) or ""))
    argv += [str(o) for o in (options or [])]
    if hostvars.get("ansible_ssh_private_key_file"):
        argv += ["-i", str(hostvars["ansible_ssh_private_key_file"])]
    if hostvars.get("ansible_port"):
        argv += ["-p", str(hostvars["ansible_port"])]
    if hostvars.get("ansible_user"):
        argv += ["-l", str(hostvars["ansible_user"])]
    if forward:
        argv += ["-W", forward]
    return argv + [str(hostvars["ansible_host"])]


def ssh_proxy_args(hostvars, options=None):
    """``-o ProxyCommand=...`` for ``ansible_ssh_common_args`` of a host reached through the host of ``hostvars``.

    ssh expands ``%`` tokens in a ProxyCommand, so those of the inner command (its own ProxyCommand's ``%h``)
    are doubled; only the outer ``-W %h:%p`` is left for ssh to fill in.
    """
    argv = ssh_argv(hostvars, options)
    inner = " ".join(shlex.quote(a.replace("%", "%%")) for a in argv[:-1])
    command = "%s -W %%h:%%p %s" % (inner, shlex.quote(argv[-1]))
    return "-o ProxyCommand=" + shlex.quote(command)


class FilterModule:
    def filters(self):
        return {"ssh_argv": ssh_argv, "ssh_proxy_args": ssh_proxy_args}
