# -*- coding: utf-8 -*-
# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter overlay_mtu: a cluster's MTU from its overlay backend and the underlay's MTU (docs in overlay_mtu.yml)."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.cmc.mvc.plugins.module_utils._errors import FieldError, check_int
from ansible_collections.cmc.mvc.plugins.module_utils._n2n import OVERHEAD, check_version
from ansible_collections.cmc.mvc.plugins.module_utils._wireguard import mtus

# What an N2N edge's TAP device takes, and what a guest's IPv4 needs.
N2N_MAX_MTU = 1500
N2N_MIN_MTU = 576


def overlay_mtu(backend: t.Any, underlay_mtu: t.Any, family: t.Any = "ipv6", version: t.Any = 1,
                var: str = "mvc_underlay_mtu", family_var: str = "mvc_wireguard_underlay_family") -> int:
    """The MTU of the cluster's bridge and guest NICs; fails naming ``var`` or ``family_var``."""
    if backend == "wireguard":
        try:
            return mtus(underlay_mtu, family, "underlay")[1]
        except FieldError as exc:
            name = family_var if exc.field == "underlay_family" else var
            raise AnsibleFilterError(str(exc).replace(str(exc.field), name, 1))
    if backend != "n2n":
        raise AnsibleFilterError("overlay_mtu: expected the backend n2n or wireguard, got %r" % (backend,))
    try:
        n2n_version = check_version(version, "n2n version")
    except FieldError as exc:
        raise AnsibleFilterError(str(exc))
    try:
        mtu = check_int(underlay_mtu, var, 0, 65535, "an MTU in bytes")
    except FieldError as exc:
        raise AnsibleFilterError(str(exc))
    overhead = OVERHEAD[n2n_version]
    if mtu - overhead < N2N_MIN_MTU:
        raise AnsibleFilterError("%s: %d is too small: N2N v%d adds %d bytes to each packet, which leaves %d, below %d"
                                 % (var, mtu, n2n_version, overhead, mtu - overhead, N2N_MIN_MTU))
    # An N2N TAP device carries at most 1500 bytes, whatever the underlay.
    return min(mtu - overhead, N2N_MAX_MTU)


class FilterModule(object):
    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"overlay_mtu": overlay_mtu}
