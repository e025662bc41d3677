# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters wireguard_hub and wireguard_edge: validate and render WireGuard settings for the roles (docs in the
.yml files)."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.cmc.mvc.plugins.module_utils._wireguard import WireGuardError, render_edge, render_hub


def wireguard_hub(settings: t.Any, check_mode: bool = False) -> dict[str, t.Any]:
    if not isinstance(settings, dict):
        raise AnsibleFilterError("wireguard_hub: expected a mapping of the role's settings")
    try:
        return render_hub(settings, check_mode=bool(check_mode))
    except WireGuardError as exc:
        raise AnsibleFilterError(str(exc))


def wireguard_edge(settings: t.Any, host: str = "localhost", check_mode: bool = False) -> dict[str, t.Any]:
    if not isinstance(settings, dict):
        raise AnsibleFilterError("wireguard_edge: expected a mapping of the role's settings")
    try:
        return render_edge(settings, host=host, check_mode=bool(check_mode))
    except WireGuardError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"wireguard_hub": wireguard_hub, "wireguard_edge": wireguard_edge}
