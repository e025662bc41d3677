# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The WireGuard tests of tests/unit/plugins/module_utils/test_mvcdb_wireguard.py (backend and VNI in the plan,
the Dom0s' transport addresses and public keys, a Dom0 leaving the hub, a backend that cannot change) on real
PostgreSQL 15 and MariaDB servers (the ``db`` fixture of conftest.py)."""
from __future__ import annotations

import unit_tests  # pylint: disable=import-error  # this directory is on sys.path (conftest.py)

unit = unit_tests.load("test_mvcdb_wireguard.py")
# The same test functions; pytest gives them this directory's ``db`` fixture (a database on each server).
globals().update(unit_tests.generic(unit))


def test_every_generic_wireguard_test_is_here():
    assert len(unit.GENERIC) >= 4 and all(name in globals() for name in unit.GENERIC)
