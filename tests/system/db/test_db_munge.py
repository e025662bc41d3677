"""The munge key tests of tests/unit/plugins/module_utils/test_mvcdb_munge.py (made once, sealed with
encryption_key, schema 1 migrated to 2 and its clusters given a key) on real PostgreSQL 15 and MariaDB servers
(the ``db`` fixture of conftest.py)."""
from __future__ import annotations

import unit_tests  # pylint: disable=import-error  # this directory is on sys.path (conftest.py)

unit = unit_tests.load("test_mvcdb_munge.py")
# The same test functions; pytest gives them this directory's ``db`` fixture (a database on each server).
globals().update(unit_tests.generic(unit))


def test_every_generic_munge_test_is_here():
    assert len(unit.GENERIC) >= 6 and all(name in globals() for name in unit.GENERIC)
