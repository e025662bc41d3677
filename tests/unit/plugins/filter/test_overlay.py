# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.cmc.mvc.plugins.filter.overlay import overlay_mtu
from ansible_collections.cmc.mvc.plugins.filter.wireguard import wireguard_hub


@pytest.mark.parametrize("args, kw, mtu", [
    (("n2n", 1500), {}, 1364),
    (("n2n", "1492"), {}, 1356),
    (("n2n", 1400), {}, 1264),
    (("n2n", 1500), {"version": 3}, 1404),
    # A TAP device takes at most 1500 bytes, whatever the underlay.
    (("n2n", 9000), {}, 1500),
    (("n2n", 712), {}, 576),
    (("wireguard", 1500), {}, 1370),
    (("wireguard", 1500), {"family": "ipv4"}, 1390),
    (("wireguard", 9000), {}, 8870),
])
def test_the_cluster_mtu_is_the_underlay_mtu_less_the_overlay_overhead(args, kw, mtu):
    assert overlay_mtu(*args, **kw) == mtu


def test_wireguard_agrees_with_what_the_hub_role_renders():
    hub = wireguard_hub({"interface": "wg-mvc", "port": 51820, "address": "10.250.0.1/24", "implementation": "kernel",
                         "underlay_mtu": 1480, "underlay_family": "ipv6", "peers": []})
    assert overlay_mtu("wireguard", 1480) == hub["cluster_mtu"] == 1350


@pytest.mark.parametrize("args, kw, text", [
    (("n2n", 711), {}, "mvc_underlay_mtu: 711 is too small: N2N v1 adds 136 bytes to each packet, which leaves 575"),
    (("n2n", "big"), {}, "mvc_underlay_mtu: expected an MTU in bytes, got 'big'"),
    (("n2n", True), {}, "mvc_underlay_mtu: expected an MTU in bytes"),
    (("n2n", 1500), {"version": 4}, "n2n version: unknown N2N version 4"),
    (("wireguard", 1400), {}, "mvc_underlay_mtu: 1400 is too small"),
    (("wireguard", 1400), {"var": "x_mtu"}, "x_mtu: 1400 is too small"),
    (("wireguard", 1500), {"family": "ipx"}, "mvc_wireguard_underlay_family: expected ipv4 or ipv6"),
    (("vxlan", 1500), {}, "expected the backend n2n or wireguard, got 'vxlan'"),
])
def test_bad_input_is_named(args, kw, text):
    with pytest.raises(AnsibleFilterError) as err:
        overlay_mtu(*args, **kw)
    assert text in str(err.value)
