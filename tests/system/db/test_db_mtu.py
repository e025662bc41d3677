# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MTU tests of tests/unit/plugins/module_utils/test_mvcdb_mtu.py (kept from the first registration, a smaller
path refused, schema 3 migrated to 4 and its clusters given an MTU) on real PostgreSQL 15 and MariaDB servers (the
``db`` fixture of conftest.py)."""
from __future__ import annotations

import unit_tests  # pylint: disable=import-error  # this directory is on sys.path (conftest.py)

unit = unit_tests.load("test_mvcdb_mtu.py")
# The same test functions; pytest gives them this directory's ``db`` fixture (a database on each server).
globals().update(unit_tests.generic(unit))


def test_every_generic_mtu_test_is_here():
    assert len(unit.GENERIC) >= 4 and all(name in globals() for name in unit.GENERIC)
