# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters ssh_argv, ssh_proxy_args and ssh_config: SSH command lines, and an ssh_config file, that reach hosts
behind chains of jump hosts."""

from __future__ import annotations

import shlex
import typing as t
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.cmc.mvc.plugins.plugin_utils._ssh import proxy_command, proxy_option


def ssh_argv(hostvars: t.Any, options: t.Iterable[t.Any] | None = None, forward: str | None = None) -> list[str]:
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


def ssh_proxy_args(hostvars: t.Any, options: t.Iterable[t.Any] | None = None) -> str:
    """``-o ProxyCommand=...`` for ``ansible_ssh_common_args`` of a host reached through the host of ``hostvars``.

    ssh expands ``%`` tokens in a ProxyCommand, so those of the inner command (its own ProxyCommand's ``%h``)
    are doubled; only the outer ``-W [%h]:%p`` is left for ssh to fill in.
    """
    return proxy_option(ssh_argv(hostvars, options))


def _config_word(value: t.Any, what: str) -> str:
    text = str(value)
    if not text or any(c.isspace() or c in "\"#'" for c in text):
        raise AnsibleFilterError("ssh_config: %s %r cannot be an ssh_config word" % (what, text[:60]))
    return text


def ssh_config(nodes: t.Any, hostvars: t.Any, user: str | None = None, options: t.Iterable[t.Any] | None = None,
               identity: str | None = None) -> str:
    """An ssh_config file with one ``Host`` per node, named as the node, reached through its Dom0 (whose own
    jump through the site frontend is kept), so that ``ssh -F FILE NODE`` logs in.

    ``nodes``: the plan's nodes (``name``, ``overlay_ip``, ``dom0``); ``hostvars``: the inventory's hostvars, where
    each Dom0 is found; ``options``: further ssh arguments for the hops; ``identity``: the user's key file.
    """
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError("ssh_config: expected hostvars as the second argument")
    lines = ["# Written by cmc.mvc deploy_mvc: ssh -F <this file> <node>"]
    for node in nodes or []:
        if not isinstance(node, Mapping) or not all(node.get(k) for k in ("name", "overlay_ip", "dom0")):
            raise AnsibleFilterError("ssh_config: every node needs name, overlay_ip and dom0, got %r" % (node,))
        if node["dom0"] not in hostvars:
            raise AnsibleFilterError("ssh_config: Dom0 %s of node %s is not in the inventory" % (node["dom0"], node["name"]))
        lines += ["", "Host " + _config_word(node["name"], "node name"),
                  "  HostName " + _config_word(node["overlay_ip"], "address")]
        if user:
            lines.append("  User " + _config_word(user, "user"))
        if identity:
            lines += ["  IdentityFile " + _config_word(identity, "identity file"), "  IdentitiesOnly yes"]
        lines.append("  ProxyCommand " + proxy_command(ssh_argv(hostvars[node["dom0"]], options)))
    return "\n".join(lines) + "\n"


class FilterModule:
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"ssh_argv": ssh_argv, "ssh_proxy_args": ssh_proxy_args, "ssh_config": ssh_config}
