# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssh ProxyCommand strings, for the rocks inventory's hops and the ssh filters' Dom0 hops.

Note that this plugin util is PRIVATE to the collection. It can have breaking changes at any time.
"""

from __future__ import annotations

import shlex
import typing as t


def proxy_command(hop_argv: t.Sequence[str]) -> str:
    """The ProxyCommand that forwards ssh's connection through the hop that ssh argv ``hop_argv`` reaches
    (its last item the hop's host, no remote command).

    The ssh that runs a ProxyCommand expands its %-tokens once: the hop's own tokens (those of its own nested
    ProxyCommand) are doubled to reach the hop's ssh intact; only ``-W [%h]:%p`` is left to fill in. The brackets
    keep an IPv6 target whole.
    """
    if len(hop_argv) < 2:
        raise ValueError("proxy_command: expected an ssh argv ending with the hop's host, got %r" % (hop_argv,))
    inner = " ".join(shlex.quote(a.replace("%", "%%")) for a in hop_argv[:-1])
    # Quoted: the shell that runs a ProxyCommand would otherwise glob the bracket expression.
    return "%s -W '[%%h]:%%p' %s" % (inner, shlex.quote(hop_argv[-1]))


def proxy_option(hop_argv: t.Sequence[str]) -> str:
    """``-o ProxyCommand=...`` as one shell-quoted string, for ``ansible_ssh_common_args`` (Ansible splits it with
    shlex)."""
    return "-o " + shlex.quote("ProxyCommand=" + proxy_command(hop_argv))
