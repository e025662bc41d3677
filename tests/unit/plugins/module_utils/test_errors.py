# Copyright (c) cmc.mvc contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.cmc.mvc.plugins.module_utils._errors import FieldError, check_int


@pytest.mark.parametrize("value, number", [(1, 1), (65535, 65535), ("7654", 7654), ("-1", -1), (0, 0)])
def test_check_int_takes_ints_and_their_digits(value, number):
    assert check_int(value, "port", -1, 65535, "a UDP port") == number


@pytest.mark.parametrize("value", [True, False, 1.0, "1.0", " 7654", "7654 ", "1e3", "", None, [1], "0x10"])
def test_check_int_refuses_what_is_not_an_integer_naming_the_field(value):
    with pytest.raises(FieldError) as err:
        check_int(value, "wireguard_hub_port", 1, 65535, "a UDP port")
    assert err.value.field == "wireguard_hub_port"
    assert str(err.value) == "wireguard_hub_port: expected a UDP port, got %r" % (value,)


@pytest.mark.parametrize("value", [0, 65536, "70000", -5])
def test_check_int_names_the_range(value):
    with pytest.raises(FieldError) as err:
        check_int(value, "n2n_edge_clusters[0].mtu", 1, 65535, "a UDP port")
    assert str(err.value) == "n2n_edge_clusters[0].mtu: %r is out of range 1-65535 (a UDP port)" % (value,)
