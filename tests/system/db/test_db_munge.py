"""The munge key tests of tests/unit/plugins/module_utils/test_mvcdb_munge.py (made once, sealed with
encryption_key, schema 1 migrated to 2 and its clusters given a key) on real PostgreSQL 15 and MariaDB servers
(the ``db`` fixture of conftest.py)."""
from __future__ import annotations

import importlib.util
import os

_UNIT = os.path.join(os.path.dirname(__file__), "..", "..", "unit", "plugins", "module_utils", "test_mvcdb_munge.py")
_spec = importlib.util.spec_from_file_location("mvcdb_munge_unit_tests", _UNIT)
unit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(unit)

# The same test functions; pytest gives them this directory's ``db`` fixture (a database on each server).
globals().update((name, getattr(unit, name)) for name in unit.GENERIC)


def test_every_generic_munge_test_is_here():
    assert len(unit.GENERIC) >= 6 and all(name in globals() for name in unit.GENERIC)
