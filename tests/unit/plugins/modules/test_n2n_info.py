# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.cmc.mvc.plugins.modules import n2n_info


@pytest.mark.parametrize("text, port", [
    ("[Service]\nExecStart=/usr/bin/supernode -l 7777\n", 7777),
    ("# cmc.mvc: N2N v3 supernode\n-p=7654\n-f\n", 7654),
    ("# cmc.mvc: N2N v2 supernode\n-l=1234\n-f\n", 1234),
    ("# nothing\n", None),
])
def test_supernode_port_from_unit_or_config(text, port):
    assert n2n_info.supernode_port(text) == port


@pytest.mark.parametrize("value, count", [
    ("145200000", 145200000), ("0", 0), ("[no data]", None), ("", None), (None, None),
    # systemd before v239 printed UINT64_MAX where it had no count.
    ("18446744073709551615", None),
])
def test_supernode_byte_counters_from_systemd(value, count):
    assert n2n_info.counter(value) == count
